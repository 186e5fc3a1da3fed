"""Numba kernels of the reverbs: an 8-line feedback delay network, a gate and a spring tank.

Every kernel takes its whole state as arrays (delay buffers, filter memories,
positions) and updates it in place, so processing a signal in blocks of any
size gives exactly the samples of one call over the whole signal. Buffers are
powers of two long and indexed with a mask.
"""

from __future__ import annotations

import numba

#: Number of lines of the feedback delay network (the Hadamard mixing needs a power of two).
FDN_LINES = 8
#: A tiny constant added to every tank input: keeps the recirculating state far
#: from the denormal range when the input falls silent (-500 dB, inaudible).
ANTI_DENORMAL = 1e-25
#: LLVM fast-math subset: contraction, reassociation, no signed zeros, reciprocals
#: (no assumptions about NaN or infinity, so a bad input never turns into garbage silently).
_FAST = {"contract", "reassoc", "nsz", "arcp"}


@numba.njit(cache=True, fastmath=_FAST, inline="always")
def _line(i, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate):
    # line i's output y and its filtered feedback t: loop gain, low shelf (optional), high shelf
    y = lines[i, (lpos - line_len_samples[i]) & lmask]
    a = coef[i, 0] * y
    if low_shelf:
        s = coef[i, 1] * a + fstate[i, 0]
        fstate[i, 0] = coef[i, 2] * a - coef[i, 3] * s
    else:
        s = a
    t = coef[i, 4] * s + fstate[i, 1]
    fstate[i, 1] = coef[i, 5] * s - coef[i, 6] * t
    return y, t


@numba.njit(cache=True, fastmath=_FAST)
def fdn_process(x, out, ibuf, er_tap_samples, er_gl, er_gr, late_tap_samples, ap_buf,
                ap_len_samples, ap_gain, lines, line_len_samples, coef, low_shelf, fstate,
                in_gain, out_l, out_r, pos):
    """Render ``x`` (n,) into ``out`` (n, 2): early reflections plus the late FDN tail.

    ``coef`` rows per line: (loop gain incl. the 1/sqrt(8) of the mixing, low-shelf
    b0, b1, a1, high-shelf b0, b1, a1); ``low_shelf`` False skips the low shelf (an LF
    ratio of 1 makes it flat); ``fstate`` (8, 2) holds the shelf memories;
    ``pos`` = [input-buffer position, diffuser position, line position].
    """
    imask = ibuf.shape[0] - 1
    amask = ap_buf.shape[1] - 1
    lmask = lines.shape[1] - 1
    n_er = er_tap_samples.shape[0]
    n_ap = ap_len_samples.shape[0]
    ipos, apos, lpos = pos[0], pos[1], pos[2]
    for n in range(x.shape[0]):
        ibuf[ipos] = x[n]
        el = 0.0
        er = 0.0
        for k in range(n_er):
            v = ibuf[(ipos - er_tap_samples[k]) & imask]
            el += er_gl[k] * v
            er += er_gr[k] * v
        u = ibuf[(ipos - late_tap_samples) & imask] + ANTI_DENORMAL
        for k in range(n_ap):
            w_old = ap_buf[k, (apos - ap_len_samples[k]) & amask]
            w = u + ap_gain * w_old
            ap_buf[k, apos] = w
            u = w_old - ap_gain * w
        # the eight lines unrolled into scalars (registers), then an in-register Hadamard
        y0, f0 = _line(0, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y1, f1 = _line(1, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y2, f2 = _line(2, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y3, f3 = _line(3, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y4, f4 = _line(4, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y5, f5 = _line(5, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y6, f6 = _line(6, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        y7, f7 = _line(7, lines, lpos, lmask, line_len_samples, coef, low_shelf, fstate)
        ll = out_l[0] * y0
        ll += out_l[1] * y1
        ll += out_l[2] * y2
        ll += out_l[3] * y3
        ll += out_l[4] * y4
        ll += out_l[5] * y5
        ll += out_l[6] * y6
        ll += out_l[7] * y7
        lr = out_r[0] * y0
        lr += out_r[1] * y1
        lr += out_r[2] * y2
        lr += out_r[3] * y3
        lr += out_r[4] * y4
        lr += out_r[5] * y5
        lr += out_r[6] * y6
        lr += out_r[7] * y7
        # unnormalized fast Walsh-Hadamard transform (butterflies of width 1, 2, 4)
        f0, f1 = f0 + f1, f0 - f1
        f2, f3 = f2 + f3, f2 - f3
        f4, f5 = f4 + f5, f4 - f5
        f6, f7 = f6 + f7, f6 - f7
        f0, f2 = f0 + f2, f0 - f2
        f1, f3 = f1 + f3, f1 - f3
        f4, f6 = f4 + f6, f4 - f6
        f5, f7 = f5 + f7, f5 - f7
        f0, f4 = f0 + f4, f0 - f4
        f1, f5 = f1 + f5, f1 - f5
        f2, f6 = f2 + f6, f2 - f6
        f3, f7 = f3 + f7, f3 - f7
        lines[0, lpos] = f0 + in_gain[0] * u
        lines[1, lpos] = f1 + in_gain[1] * u
        lines[2, lpos] = f2 + in_gain[2] * u
        lines[3, lpos] = f3 + in_gain[3] * u
        lines[4, lpos] = f4 + in_gain[4] * u
        lines[5, lpos] = f5 + in_gain[5] * u
        lines[6, lpos] = f6 + in_gain[6] * u
        lines[7, lpos] = f7 + in_gain[7] * u
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
        if env < 1e-30:                   # flush: keep the detector out of the denormal range
            env = 0.0
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


@numba.njit(cache=True, fastmath=_FAST)
def spring_process(x, out, loop_buf, loop_len_samples, loop_gain, disp_buf, stretch_samples,
                   disp_coef, damp_coef, damp_state, pos):
    """Two spring tanks (left and right output): each a feedback loop of a delay, a
    one-pole damping lowpass and a dispersive chain of stretched allpasses (the chirp).

    ``loop_buf`` (L, 2) holds the loop delays, ``disp_buf`` (stages, K, 2) the allpass
    memories (the two springs side by side, so both run in one pass), ``damp_state`` (2,)
    the lowpass memories and ``pos`` = [loop position, allpass position].
    """
    lmask = loop_buf.shape[0] - 1
    dmask = disp_buf.shape[1] - 1
    stages = disp_buf.shape[0]
    lpos, dpos = pos[0], pos[1]
    d0, d1 = damp_state[0], damp_state[1]
    for n in range(x.shape[0]):
        fb0 = loop_buf[(lpos - loop_len_samples[0]) & lmask, 0]
        fb1 = loop_buf[(lpos - loop_len_samples[1]) & lmask, 1]
        d0 = (1.0 - damp_coef) * fb0 + damp_coef * d0
        d1 = (1.0 - damp_coef) * fb1 + damp_coef * d1
        xin = x[n] + ANTI_DENORMAL
        u0 = xin + loop_gain[0] * d0
        u1 = xin + loop_gain[1] * d1
        old = (dpos - stretch_samples) & dmask
        for m in range(stages):        # H(z) = (a + z^-K) / (1 + a z^-K), direct form II
            w0_old = disp_buf[m, old, 0]
            w1_old = disp_buf[m, old, 1]
            w0 = u0 - disp_coef * w0_old
            w1 = u1 - disp_coef * w1_old
            disp_buf[m, dpos, 0] = w0
            disp_buf[m, dpos, 1] = w1
            u0 = disp_coef * w0 + w0_old
            u1 = disp_coef * w1 + w1_old
        loop_buf[lpos, 0] = u0
        loop_buf[lpos, 1] = u1
        out[n, 0] = fb0
        out[n, 1] = fb1
        lpos = (lpos + 1) & lmask
        dpos = (dpos + 1) & dmask
    damp_state[0], damp_state[1] = d0, d1
    pos[0], pos[1] = lpos, dpos
