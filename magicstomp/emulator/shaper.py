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


@numba.njit(cache=True, inline="always", fastmath=_FAST)
def _clip(u, hard):
    # branch-free: a tanh-like Pade curve (flat from |u| = 3) blended with a harder
    # cubic knee (flat from |u| = 1.5); both have unit slope at 0 and reach +/-1
    uc = min(3.0, max(-3.0, u))
    u2 = uc * uc
    s = uc * (27.0 + u2) / (27.0 + 9.0 * u2)
    v = min(1.0, max(-1.0, u * (1.0 / 1.5)))
    c = v * (1.5 - 0.5 * v * v)
    return s + hard * (c - s)


@numba.njit(cache=True, inline="always", fastmath=_FAST)
def _stage(u, bias, asym, hard):
    # the negative half is driven asym times less hard, so it clips at -1/asym
    v = u + bias
    if v < 0.0:
        return _clip(v * asym, hard) * (1.0 / asym)
    return _clip(v, hard)


@numba.njit(cache=True, fastmath=_FAST)
def _drive(x, sh, c, m, pre_sos, pre_zi, post_sos, post_zi, gain_in, gain_out):
    # sh: gain2, bias1, asym1, hard1, off1, bias2, asym2, hard2, off2, hp_coef, lp_coef
    # c: 5 half-band allpass coefficients (path 0: c0 c2 c4, path 1: c1 c3)
    # m: 23 memories = 10 up-sampler, 10 down-sampler (x1, y1 pairs), hp_x, hp_y, lp_y.
    # All state lives in locals inside the loop (registers), written back at the end.
    gain2, two = sh[0], sh[0] != 0.0
    b1, s1, h1, o1 = sh[1], sh[2], sh[3], sh[4]
    b2, s2, h2, o2 = sh[5], sh[6], sh[7], sh[8]
    a_hp, k_lp = sh[9], 1.0 - sh[10]
    c0, c1, c2, c3, c4 = c[0], c[1], c[2], c[3], c[4]
    u0, u1, u2, u3, u4, u5, u6, u7, u8, u9 = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8],
                                              m[9])
    d0, d1, d2, d3, d4, d5, d6, d7, d8, d9 = (m[10], m[11], m[12], m[13], m[14], m[15], m[16],
                                              m[17], m[18], m[19])
    hp_x, hp_y, lp_y = m[20], m[21], m[22]
    y = np.empty_like(x)
    for n in range(x.size):
        v = _biquads(x[n], pre_sos, pre_zi) * gain_in
        # 2x up: path 0 gives the even, path 1 the odd oversampled sample
        t = c0 * (v - u1) + u0
        u0, u1 = v, t
        t2 = c2 * (t - u3) + u2
        u2, u3 = t, t2
        w_e = c4 * (t2 - u5) + u4
        u4, u5 = t2, w_e
        t = c1 * (v - u7) + u6
        u6, u7 = v, t
        w_o = c3 * (t - u9) + u8
        u8, u9 = t, w_o
        w_e = _stage(w_e, b1, s1, h1) - o1
        w_o = _stage(w_o, b1, s1, h1) - o1
        if two:
            hp_y = a_hp * (hp_y + w_e - hp_x)
            lp_y += k_lp * (hp_y - lp_y)
            w_e_in = w_e
            w_e = _stage(gain2 * lp_y, b2, s2, h2) - o2
            hp_y = a_hp * (hp_y + w_o - w_e_in)
            hp_x = w_o
            lp_y += k_lp * (hp_y - lp_y)
            w_o = _stage(gain2 * lp_y, b2, s2, h2) - o2
        # 2x down: path 0 takes the odd, path 1 the even sample
        t = c0 * (w_o - d1) + d0
        d0, d1 = w_o, t
        t2 = c2 * (t - d3) + d2
        d2, d3 = t, t2
        p0 = c4 * (t2 - d5) + d4
        d4, d5 = t2, p0
        t = c1 * (w_e - d7) + d6
        d6, d7 = w_e, t
        p1 = c3 * (t - d9) + d8
        d8, d9 = t, p1
        y[n] = _biquads(0.5 * (p0 + p1), post_sos, post_zi) * gain_out
        if abs(p0) + abs(p1) + abs(w_e) + abs(lp_y) < _TINY:   # silence: flush denormals
            u1 = u3 = u5 = u7 = u9 = d1 = d3 = d5 = d7 = d9 = hp_y = lp_y = 0.0
    m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9] = (u0, u1, u2, u3, u4, u5, u6, u7, u8,
                                                                  u9)
    m[10], m[11], m[12], m[13], m[14], m[15], m[16], m[17], m[18], m[19] = (d0, d1, d2, d3, d4, d5,
                                                                            d6, d7, d8, d9)
    m[20], m[21], m[22] = hp_x, hp_y, lp_y
    return y


class DriveCore:
    """Pre-filters, input gain, one or two clipping stages at 2x rate, post-filters, output gain.

    One fused per-sample loop (no intermediate arrays).

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
        self._mem = np.zeros(23)
        self._pre.reset()
        self._post.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Run ``x`` (n,) through pre-filters, drive and post-filters; returns (n,)."""
        return _drive(np.ascontiguousarray(x, dtype=np.float64), self._shape, self._coefs,
                      self._mem, self._pre.sos, self._pre._zi, self._post.sos, self._post._zi,
                      *self._gains)
