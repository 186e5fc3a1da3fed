"""Renders shared by the emulator tests' generic checks (block cutting, hard inputs, every parameter).

The helpers only render; the tests compare, so each assertion stays in the test
that makes it.
"""

from __future__ import annotations

import numpy as np

from magicstomp.emulator import StreamProcessor, render
from signals import SR


def block_renders(patch, x: np.ndarray, *, blocks=(64, 256, 1024), sample_rate: int = SR) -> dict:
    """Outputs of a fresh :class:`StreamProcessor` fed ``x`` in blocks of each size, keyed by the size.

    The entry ``"reset"`` is ``x`` in one call after ``reset()`` of the last
    processor. Each must equal ``render(patch, x, sample_rate)``.
    """
    outputs = {}
    for block in blocks:
        sp = StreamProcessor(patch, sample_rate)
        outputs[block] = np.concatenate([sp.process(x[i: i + block]) for i in range(0, x.size, block)])
    sp.reset()
    outputs["reset"] = sp.process(x)
    return outputs


def hard_input_renders(patch, sample_rate: int, rng):
    """(input, output) for 0.25 s of silence, full-scale uniform noise and clipped Gaussian noise."""
    n = sample_rate // 4
    for x in (np.zeros(n), rng.uniform(-1, 1, n), np.clip(4 * rng.standard_normal(n), -1, 1)):
        yield x, render(patch, x, sample_rate)


def raw_extreme_renders(base, key: str, x: np.ndarray, *, sample_rate: int = SR) -> tuple:
    """Renders of ``x`` through ``base`` with ``key`` at its lowest and at its highest raw value."""
    param = base.effect_type.param(key)
    outs = []
    for raw in (param.min_raw, param.max_raw):
        p = base.copy()
        p.set_raw(key, raw)
        outs.append(render(p, x, sample_rate))
    return tuple(outs)
