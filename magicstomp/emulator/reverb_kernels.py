"""Numba kernels of the reverbs: an 8-line feedback delay network, a gate and a spring tank.

Every kernel takes its whole state as arrays (delay buffers, filter memories,
positions) and updates it in place, so processing a signal in blocks of any
size gives exactly the samples of one call over the whole signal. Buffers are
powers of two long and indexed with a mask.
"""

from __future__ import annotations

import numba
import numpy as np

#: Number of lines of the feedback delay network (the Hadamard mixing needs a power of two).
FDN_LINES = 8
#: A tiny constant added to every tank input: keeps the recirculating state far
#: from the denormal range when the input falls silent (-500 dB, inaudible).
ANTI_DENORMAL = 1e-25


@numba.njit(cache=True, fastmath=True, inline="always")
def _hadamard8(f):
    """In-place unnormalized fast Walsh-Hadamard transform of 8 values."""
    h = 1
    while h < 8:
        for i in range(0, 8, 2 * h):
            for j in range(i, i + h):
                a = f[j]
                b = f[j + h]
                f[j] = a + b
                f[j + h] = a - b
        h *= 2


@numba.njit(cache=True, fastmath=True)
def fdn_process(x, out, ibuf, er_taps, er_gl, er_gr, late_tap, ap_buf, ap_len, ap_gain,
                lines, line_len, coef, fstate, in_gain, out_l, out_r, pos):
    """Render ``x`` (n,) into ``out`` (n, 2): early reflections plus the late FDN tail.

    ``coef`` rows per line: (loop gain incl. the 1/sqrt(8) of the mixing, low-shelf
    b0, b1, a1, high-shelf b0, b1, a1); ``fstate`` (8, 2) holds the shelf memories;
    ``pos`` = [input-buffer position, diffuser position, line position].
    """
    imask = ibuf.shape[0] - 1
    amask = ap_buf.shape[1] - 1
    lmask = lines.shape[1] - 1
    n_er = er_taps.shape[0]
    n_ap = ap_len.shape[0]
    f = np.empty(FDN_LINES)
    ipos, apos, lpos = pos[0], pos[1], pos[2]
    for n in range(x.shape[0]):
        ibuf[ipos] = x[n]
        el = 0.0
        er = 0.0
        for k in range(n_er):
            v = ibuf[(ipos - er_taps[k]) & imask]
            el += er_gl[k] * v
            er += er_gr[k] * v
        u = ibuf[(ipos - late_tap) & imask] + ANTI_DENORMAL
        for k in range(n_ap):             # Schroeder allpass diffusers in series
            w_old = ap_buf[k, (apos - ap_len[k]) & amask]
            w = u + ap_gain * w_old
            ap_buf[k, apos] = w
            u = w_old - ap_gain * w
        ll = 0.0
        lr = 0.0
        for i in range(FDN_LINES):
            y = lines[i, (lpos - line_len[i]) & lmask]
            ll += out_l[i] * y
            lr += out_r[i] * y
            a = coef[i, 0] * y
            s = coef[i, 1] * a + fstate[i, 0]          # low shelf (LF decay ratio)
            fstate[i, 0] = coef[i, 2] * a - coef[i, 3] * s
            t = coef[i, 4] * s + fstate[i, 1]          # high shelf (HF decay ratio)
            fstate[i, 1] = coef[i, 5] * s - coef[i, 6] * t
            f[i] = t
        _hadamard8(f)
        for i in range(FDN_LINES):
            lines[i, lpos] = f[i] + in_gain[i] * u
        out[n, 0] = el + ll
        out[n, 1] = er + lr
        ipos = (ipos + 1) & imask
        apos = (apos + 1) & amask
        lpos = (lpos + 1) & lmask
    pos[0], pos[1], pos[2] = ipos, apos, lpos


@numba.njit(cache=True)
def gate_gain(x, gains, threshold, release_coef, attack_step, hold_samples, decay_step, state):
    """Gain (0..1) of a gate keyed by ``x``: opens over the attack when the level
    exceeds ``threshold``, stays open ``hold_samples`` after it falls below, then closes
    over the decay. ``state`` = [envelope, gain, hold counter]."""
    env, gain, hold = state[0], state[1], state[2]
    for n in range(x.shape[0]):
        a = abs(x[n])
        env = a if a > env else env * release_coef
        if env >= threshold:
            hold = hold_samples
            gain = min(1.0, gain + attack_step)
        elif hold > 0.0:
            hold -= 1.0
            gain = min(1.0, gain + attack_step)
        else:
            gain = max(0.0, gain - decay_step)
        gains[n] = gain
    state[0], state[1], state[2] = env, gain, hold


@numba.njit(cache=True, fastmath=True)
def spring_process(x, out, loop_buf, loop_len, loop_gain, disp_buf, disp_stretch, disp_coef,
                   damp_coef, damp_state, pos):
    """Two spring tanks (one per output): feedback loop of a delay, a dispersive chain
    of stretched allpasses (the chirp) and a one-pole damping lowpass.

    ``disp_buf`` (2, stages, K) holds the allpass memories, ``pos`` = [loop position,
    allpass position].
    """
    lmask = loop_buf.shape[1] - 1
    dmask = disp_buf.shape[2] - 1
    stages = disp_buf.shape[1]
    lpos, dpos = pos[0], pos[1]
    for n in range(x.shape[0]):
        for s in range(2):
            fb = loop_buf[s, (lpos - loop_len[s]) & lmask]
            d = (1.0 - damp_coef) * fb + damp_coef * damp_state[s]
            damp_state[s] = d
            u = x[n] + ANTI_DENORMAL + loop_gain[s] * d
            for m in range(stages):       # H(z) = (a + z^-K) / (1 + a z^-K), direct form II
                w_old = disp_buf[s, m, (dpos - disp_stretch) & dmask]
                w = u - disp_coef * w_old
                disp_buf[s, m, dpos] = w
                u = disp_coef * w + w_old
            loop_buf[s, lpos] = u
            out[n, s] = fb
        lpos = (lpos + 1) & lmask
        dpos = (dpos + 1) & dmask
    pos[0], pos[1] = lpos, dpos
