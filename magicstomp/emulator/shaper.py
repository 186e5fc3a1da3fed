"""Numba kernels shared by the amp and distortion emulations.

* :func:`sos_inplace` - a biquad cascade (transposed direct form II) with its
  state in an array, flushing denormals to zero so silence stays fast;
* :class:`BiquadChain` - a stateful wrapper around it;
* :class:`DriveCore` - one or two waveshaping stages run at twice the sample
  rate through a polyphase IIR half-band filter (up and down), so the harmonics the
  clipper makes above the input Nyquist are attenuated before they fold back.

Every kernel works sample by sample with all state carried between calls, so
any cutting of the input into blocks gives bit-identical output.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

_TINY = 1e-30  # states below this are flushed to zero (no denormal slow-downs)
#: LLVM fast-math subset: FMA contraction and reassociation only (no NaN/inf assumptions)
_FAST = {"contract", "reassoc"}

#: polyphase IIR half-band: 5 allpass coefficients, transition 0.06 (>= 70 dB stop band).
HALFBAND_COEFS = 5
HALFBAND_TRANSITION = 0.06


@numba.njit(cache=True, inline="always", fastmath=_FAST)
def _biquads(v, sos, zi):
    # one sample through the cascade (transposed direct form II), denormals flushed
    for s in range(sos.shape[0]):
        y = sos[s, 0] * v + zi[s, 0]
        z1 = sos[s, 1] * v - sos[s, 4] * y + zi[s, 1]
        z2 = sos[s, 2] * v - sos[s, 5] * y
        zi[s, 0] = z1 if abs(z1) > _TINY else 0.0
        zi[s, 1] = z2 if abs(z2) > _TINY else 0.0
        v = y
    return v


@numba.njit(cache=True, fastmath=_FAST)
def sos_inplace(x, sos, zi):
    """Filter ``x`` in place through the cascade ``sos`` (rows b0 b1 b2 1 a1 a2); ``zi`` (n, 2)."""
    for i in range(x.size):
        x[i] = _biquads(x[i], sos, zi)
    return x


class BiquadChain:
    """A stateful cascade of RBJ sections run by :func:`sos_inplace` (empty = pass-through)."""

    def __init__(self, sections):
        rows = [np.asarray(s, dtype=np.float64) for s in sections]
        self.sos = np.ascontiguousarray(np.vstack(rows) if rows else np.zeros((0, 6)))
        self.reset()

    def reset(self) -> None:
        """Clear the filter memories."""
        self._zi = np.zeros((len(self.sos), 2))

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter a copy of ``x`` (n,) and return it."""
        y = np.array(x, dtype=np.float64, copy=True)
        if len(self.sos):
            sos_inplace(y, self.sos, self._zi)
        return y


@lru_cache(maxsize=8)
def halfband_allpass_coefs(n_coefs: int = HALFBAND_COEFS, transition: float = HALFBAND_TRANSITION):
    """Coefficients of a polyphase IIR half-band filter (two parallel chains of allpasses).

    The elliptic design of Laurent de Soras' HIIR library: with 5 coefficients and
    ``transition`` 0.06 the pass band is flat (-0.1 dB) to 0.24 and the stop band
    is below -70 dB from 0.28 of the oversampled rate. Even-indexed coefficients
    form path 0, odd-indexed ones path 1.
    """
    k = math.tan((1.0 - 2.0 * transition) * math.pi / 4.0) ** 2
    kksqrt = (1.0 - k * k) ** 0.25
    e = 0.5 * (1.0 - kksqrt) / (1.0 + kksqrt)
    e4 = e ** 4
    q = e * (1.0 + e4 * (2.0 + e4 * (15.0 + 150.0 * e4)))
    order = 2 * n_coefs + 1
    coefs = []
    for c in range(1, n_coefs + 1):
        num, i, sign = 0.0, 0, 1.0
        while True:
            term = q ** (i * (i + 1)) * math.sin((2 * i + 1) * c * math.pi / order) * sign
            num, i, sign = num + term, i + 1, -sign
            if abs(term) <= 1e-100:
                break
        den, i, sign = 0.5, 1, -1.0
        while True:
            term = q ** (i * i) * math.cos(2 * i * c * math.pi / order) * sign
            den, i, sign = den + term, i + 1, -sign
            if abs(term) <= 1e-100:
                break
        ww = (num * q ** 0.25 / den) ** 2
        x = math.sqrt((1.0 - ww * k) * (1.0 - ww / k)) / (1.0 + ww)
        coefs.append((1.0 - x) / (1.0 + x))
    return np.array(coefs)


@numba.njit(cache=True, inline="always")
def _clip(u, hard):
    # branch-free: a tanh-like Pade curve (flat from |u| = 3) blended with a harder
    # cubic knee (flat from |u| = 1.5); both have unit slope at 0 and reach +/-1
    uc = min(3.0, max(-3.0, u))
    u2 = uc * uc
    s = uc * (27.0 + u2) / (27.0 + 9.0 * u2)
    v = min(1.0, max(-1.0, u * (1.0 / 1.5)))
    c = v * (1.5 - 0.5 * v * v)
    return s + hard * (c - s)


@numba.njit(cache=True, inline="always")
def _stage(u, bias, asym, hard):
    # the negative half is driven asym times less hard, so it clips at -1/asym
    v = u + bias
    neg = v < 0.0
    return _clip(v * (asym if neg else 1.0), hard) * ((1.0 / asym) if neg else 1.0)


@numba.njit(cache=True)
def _stage_pass(u, gain, bias, asym, hard, offset):
    # memoryless, so the loop vectorises; strict IEEE (no fast-math) keeps the SIMD body
    # and the scalar tail bit-identical, whatever the block length
    inv = 1.0 / asym
    for i in range(u.size):
        v = gain * u[i] + bias
        neg = v < 0.0
        u[i] = _clip(v * (asym if neg else 1.0), hard) * (inv if neg else 1.0) - offset


_ZERO_MEM = (0.0,) * 10


@numba.njit(cache=True, inline="always", fastmath=_FAST)
def _halfband_step(in0, in1, c, mem):
    # one sample through the half-band filter's two allpass paths: path 0 (sections c0, c2,
    # c4) on in0, path 1 (c1, c3) on in1; mem holds the (input, output) memory of each
    # section in that order; returns (out0, out1, new mem)
    t0 = c[0] * (in0 - mem[1]) + mem[0]
    t1 = c[2] * (t0 - mem[3]) + mem[2]
    out0 = c[4] * (t1 - mem[5]) + mem[4]
    t2 = c[1] * (in1 - mem[7]) + mem[6]
    out1 = c[3] * (t2 - mem[9]) + mem[8]
    return out0, out1, (in0, t0, t0, t1, t1, out0, in1, t2, t2, out1)


@numba.njit(cache=True, fastmath=_FAST)
def _up_pass(x, c, m, pre_sos, pre_zi, gain_in, u):
    # pre-filters and input gain, then 2x up: u[2n] from path 0, u[2n + 1] from path 1
    cs = (c[0], c[1], c[2], c[3], c[4])
    mem = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9])
    for n in range(x.size):
        v = _biquads(x[n], pre_sos, pre_zi) * gain_in
        w_e, w_o, mem = _halfband_step(v, v, cs, mem)
        u[2 * n] = w_e
        u[2 * n + 1] = w_o
        if abs(v) + abs(w_e) + abs(w_o) < _TINY:            # silence: flush denormals
            mem = _ZERO_MEM
    for k in range(10):
        m[k] = mem[k]


@numba.njit(cache=True, fastmath=_FAST)
def _inter_pass(u, a_hp, k_lp, st):
    # coupling high-pass and Miller low-pass between the stages (at the 2x rate)
    hp_x, hp_y, lp_y = st[0], st[1], st[2]
    for i in range(u.size):
        w = u[i]
        hp_y = a_hp * (hp_y + w - hp_x)
        hp_x = w
        lp_y += k_lp * (hp_y - lp_y)
        hp_y = hp_y if abs(hp_y) > _TINY else 0.0
        lp_y = lp_y if abs(lp_y) > _TINY else 0.0
        u[i] = lp_y
    st[0], st[1], st[2] = hp_x, hp_y, lp_y


@numba.njit(cache=True, fastmath=_FAST)
def _down_pass(u, c, m, post_sos, post_zi, gain_out, y):
    # 2x down (path 0 takes the odd, path 1 the even sample), post-filters, output gain
    cs = (c[0], c[1], c[2], c[3], c[4])
    mem = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9])
    for n in range(y.size):
        w_e = u[2 * n]
        w_o = u[2 * n + 1]
        p0, p1, mem = _halfband_step(w_o, w_e, cs, mem)
        y[n] = _biquads(0.5 * (p0 + p1), post_sos, post_zi) * gain_out
        if abs(w_e) + abs(w_o) + abs(p0) + abs(p1) < _TINY:   # silence: flush denormals
            mem = _ZERO_MEM
    for k in range(10):
        m[k] = mem[k]


class DriveCore:
    """Pre-filters, input gain, one or two clipping stages at 2x rate, post-filters, output gain.

    Run as passes over the block: pre-filters + 2x up-sampling, clipper (vectorised),
    inter-stage filters, second clipper, 2x down-sampling + post-filters. Every pass
    keeps its state, so any block cutting gives the same output.

    Parameters
    ----------
    sample_rate : int
        Base sample rate in Hz.
    stage1 : tuple
        (bias, asym, hard) of the first stage: ``bias`` shifts the operating point
        (even harmonics), ``asym`` (0, 1] softens the negative half (it clips at
        -1/asym), ``hard`` in [0, 1] blends a smooth tanh-like curve towards a
        harder cubic knee.
    stage2 : tuple or None
        (gain_db, bias, asym, hard) of a second stage, or None for one stage.
    inter_hp_hz, inter_lp_hz : float
        Coupling high-pass and Miller-style low-pass between the stages.
    pre_sections, post_sections : sequence of array
        Biquads (b0 b1 b2 1 a1 a2) run at the base rate before and after the drive.
    gain_in, gain_out : float
        Linear gains before the first stage and after the post-filters.
    """

    def __init__(self, sample_rate: int, *, stage1, stage2=None, inter_hp_hz: float = 150.0,
                 inter_lp_hz: float = 8000.0, pre_sections=(), post_sections=(),
                 gain_in: float = 1.0, gain_out: float = 1.0):
        fs2 = 2.0 * sample_rate
        bias1, asym1, hard1 = stage1
        gain2_db, bias2, asym2, hard2 = stage2 if stage2 is not None else (None, 0.0, 1.0, 0.0)
        gain2 = 0.0 if gain2_db is None else 10.0 ** (gain2_db / 20.0)
        off1 = _stage(0.0, bias1, asym1, hard1)
        off2 = _stage(0.0, bias2, asym2, hard2)
        self._shape = np.array([gain2, bias1, asym1, hard1, off1, bias2, asym2, hard2, off2,
                                math.exp(-2 * math.pi * inter_hp_hz / fs2),
                                math.exp(-2 * math.pi * min(inter_lp_hz, 0.45 * fs2) / fs2)])
        self._coefs = halfband_allpass_coefs()
        self._pre = BiquadChain(pre_sections)
        self._post = BiquadChain(post_sections)
        self._gains = (float(gain_in), float(gain_out))
        self.reset()

    def reset(self) -> None:
        """Empty the filters, the oversampling filters and the inter-stage memories."""
        self._up_mem = np.zeros(10)
        self._down_mem = np.zeros(10)
        self._inter = np.zeros(3)
        self._pre.reset()
        self._post.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Run ``x`` (n,) through pre-filters, drive and post-filters; returns (n,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        sh = self._shape
        u = np.empty(2 * x.size)
        _up_pass(x, self._coefs, self._up_mem, self._pre.sos, self._pre._zi, self._gains[0], u)
        _stage_pass(u, 1.0, sh[1], sh[2], sh[3], sh[4])
        if sh[0] != 0.0:
            _inter_pass(u, sh[9], 1.0 - sh[10], self._inter)
            _stage_pass(u, sh[0], sh[5], sh[6], sh[7], sh[8])
        y = np.empty(x.size)
        _down_pass(u, self._coefs, self._down_mem, self._post.sos, self._post._zi,
                   self._gains[1], y)
        return y
