"""3 Band Parametric EQ (0x33).

Three RBJ peaking filters in series (eq_frequency_n_hz, eq_gain_n_db,
eq_bandwidth_n_q, n = 1..3): the gain at each centre frequency is exactly the
set gain, and ``Q`` is the cookbook Q (bandwidth between the +/- gain/2 dB points
is about f0 / Q). Centre frequencies above 0.49 x the sample rate are clamped
there (20 kHz at 44.1 kHz). ``effect_level`` scales the output (mapping in
``mappings.py``: 10 = unity). A band at 0 dB is exactly flat and is skipped.
"""

from __future__ import annotations

import numpy as np

from .base import Processor
from .mappings import knob_value
from .shaper import BiquadChain
from .dsp import rbj_biquad


class ParametricEQ3(Processor):
    """3 Band Parametric EQ: three peaking bands and an output level; mono in, L = R out."""

    def _setup(self) -> None:
        p = self.params
        sections = [rbj_biquad("peaking", float(p[f"eq_frequency_{i}_hz"]), self.sample_rate,
                               q=float(p[f"eq_bandwidth_{i}_q"]),
                               gain_db=float(p[f"eq_gain_{i}_db"]))
                    for i in (1, 2, 3) if float(p[f"eq_gain_{i}_db"]) != 0.0]
        self._chain = BiquadChain(sections)
        self._level = knob_value("effect_level", p["effect_level"])

    def reset(self) -> None:
        self._chain.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        y = self._chain.process(x)
        y *= self._level
        return np.column_stack((y, y))
