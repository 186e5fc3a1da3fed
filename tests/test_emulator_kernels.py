"""The speed rewrites of the emulator's kernels give the renders of the plain versions.

``fdn_process`` runs its eight lines unrolled in registers; here a plain Python
loop (the network as documented in ``reverb.py``) is the reference. The multis mix
the modulation wet and fold to mono in one pass (``mix_and_fold``) instead of
``mix_stereo`` then ``add_and_fold``.
"""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.emulator import reverb_kernels as kern
from magicstomp.emulator.delay_lines import add_and_fold, mix_and_fold, mix_stereo
from magicstomp.emulator.reverb import ReverbCore


def _fdn_reference(core: ReverbCore, x: np.ndarray) -> np.ndarray:
    """The FDN of ReverbCore, sample by sample in plain Python (arrays copied, core untouched)."""
    ibuf, ap_buf = np.zeros_like(core._ibuf), np.zeros_like(core._ap_buf)
    lines = np.zeros_like(core._lines)
    fstate = np.zeros((8, 2))
    imask, amask, lmask = ibuf.size - 1, ap_buf.shape[1] - 1, lines.shape[1] - 1
    out = np.zeros((x.size, 2))
    hadamard = np.array([[1.0]])
    for _ in range(3):
        hadamard = np.block([[hadamard, hadamard], [hadamard, -hadamard]])
    for n in range(x.size):
        ibuf[n & imask] = x[n]
        taps = ibuf[(n - core._er_tap_samples) & imask]
        u = ibuf[(n - core._late_tap_samples) & imask] + kern.ANTI_DENORMAL
        for k, d in enumerate(core._ap_len_samples):
            w_old = ap_buf[k, (n - d) & amask]
            w = u + core._ap_gain * w_old
            ap_buf[k, n & amask] = w
            u = w_old - core._ap_gain * w
        y = lines[np.arange(8), (n - core._line_len_samples) & lmask]
        c = core._coef
        a = c[:, 0] * y
        if core._low_shelf:
            s = c[:, 1] * a + fstate[:, 0]
            fstate[:, 0] = c[:, 2] * a - c[:, 3] * s
        else:
            s = a
        t = c[:, 4] * s + fstate[:, 1]
        fstate[:, 1] = c[:, 5] * s - c[:, 6] * t
        lines[:, n & lmask] = hadamard @ t + core._in_gain * u
        out[n] = (core._er_gl @ taps + core._out_l @ y, core._er_gr @ taps + core._out_r @ y)
    return out


@pytest.mark.parametrize("kwargs", [
    dict(time_s=1.2, reverb_type="Hall", density_pct=100.0, er_balance_pct=25.0),
    dict(time_s=2.5, hf_ratio=0.5, lf_ratio=0.6, reverb_type="Room", density_pct=60.0,
         er_balance_pct=40.0, initial_delay_ms=7.0, er_rev_delay_ms=5.0),
])
def test_unrolled_fdn_equals_the_plain_network(kwargs):
    core = ReverbCore(44100, **kwargs)
    x = np.random.default_rng(2).standard_normal(4000) * np.exp(-np.arange(4000) / 800)
    ref = _fdn_reference(core, x)
    got = core.process(x)
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))
    assert np.max(np.abs(got[-1000:])) > 1e-4          # the tail is there, not just the direct taps


@pytest.mark.parametrize("channels", [1, 2])
def test_mix_and_fold_equals_mix_then_fold(channels):
    rng = np.random.default_rng(channels)
    dry, wet = rng.standard_normal(1000), rng.standard_normal((1000, channels))
    out_a, mono_a = np.empty((1000, 2)), np.empty(1000)
    mix_stereo(dry, wet, 1.0, 0.37, out_a)
    add_and_fold(out_a, out_a, 0.0, mono_a)
    out_b, mono_b = np.empty((1000, 2)), np.empty(1000)
    mix_and_fold(dry, wet, 0.37, out_b, mono_b)
    assert np.array_equal(out_a, out_b) and np.array_equal(mono_a, mono_b)
