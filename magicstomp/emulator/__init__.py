"""The virtual Magicstomp: renders a Patch with the DSP of its effect type.

    render(patch, audio, sample_rate, variant=None) -> (n, 2) float64 stereo, as the unit's outputs
    StreamProcessor(patch, sample_rate, variant=None) -> .process(block) -> (len(block), 2)
    render_many(patches, audio, sample_rate, workers=N) -> [render(...), ...] over N processes
    to_mono(stereo)                     -> the documented mono fold: 0.5 * (L + R)
    EMULATED_TYPES                      -> {type id: "module:Class"}

The same patch and input always give the same output: every processor starts
from a defined state (LFO phases at 0, delay lines and filters empty), and the
block-by-block output of a StreamProcessor equals the offline render.
Input is mono float (any length); output is float64 stereo.

``variant`` (a :class:`~magicstomp.emulator.variants.UnitVariant`, see
``variants.py``) draws every undocumented assumption from its spread: a
plausible other unit. None is the nominal model.
"""

from __future__ import annotations

from .core import (EMULATED_TYPES, SUPPORTED_RATES_HZ, StreamProcessor,  # noqa: F401
                   processor_class, render, to_mono)
from .parallel import RenderPool, render_many  # noqa: F401
from .variants import UnitVariant  # noqa: F401
