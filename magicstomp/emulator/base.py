"""The processor contract every emulated effect type implements.

A processor is built for one patch at one sample rate, reads the patch's
*physical* values (``patch.values()``, keys as in the effect table), holds all
its state (filter memories, delay lines, LFO phases, envelope followers), and
processes mono float64 blocks into stereo (n, 2) float64. Its output must not
depend on how the input is cut into blocks, and ``reset()`` returns it to the
state it had when built.
"""

from __future__ import annotations

import numpy as np

from .mappings import active_variant


class Processor:
    """Base class: subclasses implement ``_setup`` (read params), ``reset`` and ``process``."""

    def __init__(self, patch, sample_rate: int):
        self.patch = patch
        self.sample_rate = int(sample_rate)
        self.params = patch.values()
        self.variant = active_variant()        # the unit variant it is built for (None: nominal)
        self._setup()
        self.reset()

    def _setup(self) -> None:
        """Turn physical parameter values into coefficients (called once)."""

    def reset(self) -> None:
        """Clear all state."""

    def process(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
