"""Per-sample kernels for the time-based effects: feedback delay lines, allpass phasers, LFOs.

The loops run under numba (``cache=True``); every piece of state lives in a
small numpy array that the caller owns and passes in and out, so a processor
that calls a kernel block after block gives exactly the samples of one call on
the whole signal.

Conventions
-----------
* A delay of ``d`` samples reads ``d`` samples behind the sample written now;
  ``d`` may be fractional (linear interpolation) and 0 for an output tap (the
  sample just written). Feedback taps are clamped to at least 1 sample.
* LFO values are a function of the *absolute* sample index since the last
  reset (phase = frac(phase0 + n * rate / sample_rate)), never of an
  accumulated float, so block cutting cannot change them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..errors import EmulationError

#: States below this magnitude are flushed to zero, so decaying tails never turn subnormal (slow).
TINY = 1e-30
#: LFO waveform names the kernels know (the tables' enum labels).
WAVEFORMS = ("Sine", "Triangle", "Square")
#: Sharpness of the band-limited square: tanh(k sin) / tanh(k); rise time ~ period / (2 pi k).
SQUARE_SHARPNESS = 8.0


@njit(cache=True)
def _read(buf, ch, w, d, mask):
    ip = int(d)          # d >= 0, so truncation is floor
    frac = d - ip
    a = buf[ch, (w - ip) & mask]
    b = buf[ch, (w - ip - 1) & mask]
    return a + frac * (b - a)


@njit(cache=True)
def soft_clip(v):
    """tanh-like saturation, exact ±1 beyond |v| = 3: the (3, 2) Pade form of tanh, C1 at the knee."""
    if v > 3.0:
        return 1.0
    if v < -3.0:
        return -1.0
    return v * (27.0 + v * v) / (27.0 + 9.0 * v * v)


@njit(cache=True)
def run_delay_lines(x, d_out, d_fb, fb, damp_coef, hf_ratio, drive, buf, widx, lp, out):
    """Run ``c`` feedback delay lines, all fed by mono ``x``, for one block (state updated in place).

    Parameters
    ----------
    x : (n,) signal written into every line.
    d_out, d_fb : (m, c) output-tap and feedback-tap delays in samples; m = n
        (one row per sample, modulated taps) or m = 1 (static taps).
    fb : (c, c) gain of line j's feedback tap into line i (``fb[i, j]``).
    damp_coef : coefficient a of the one-pole low-pass in the loop.
    hf_ratio : (c,) loop gain above the damping corner relative to below it (1 = flat).
    drive : 0 for a linear line; > 0 writes soft_clip(drive * v) / drive (tape saturation).
    buf : (c, size) ring buffers, size a power of two; widx : int64 (1,) write index.
    lp : (c,) damping filter memories; out : (n, c) output-tap samples.
    """
    n = x.shape[0]
    c = buf.shape[0]
    m = d_out.shape[0]
    mask = buf.shape[1] - 1
    w = widx[0]
    taps = np.empty(c)
    b = 1.0 - damp_coef
    for i in range(n):
        r = i if m > 1 else 0
        for ch in range(c):
            d = d_fb[r, ch]
            taps[ch] = _read(buf, ch, w, d if d > 1.0 else 1.0, mask)
        xi = x[i]
        for ch in range(c):
            s = 0.0
            for j in range(c):
                s += fb[ch, j] * taps[j]
            low = b * s + damp_coef * lp[ch]
            lp[ch] = low if abs(low) > TINY else 0.0
            v = xi + low + hf_ratio[ch] * (s - low)
            if drive > 0.0:
                v = soft_clip(drive * v) / drive
            buf[ch, w] = v if abs(v) > TINY else 0.0
        for ch in range(c):
            out[i, ch] = _read(buf, ch, w, d_out[r, ch], mask)
        w = (w + 1) & mask
    widx[0] = w


@njit(cache=True)
def run_sos(x, sos, zi, y):
    """Biquad cascade (rows b0 b1 b2 1 a1 a2) over mono ``x`` into ``y``; ``zi`` (s, 4) = x1 x2 y1 y2.

    Direct form I, section by section over the whole block with the state in
    registers (about 1.5 ns per sample and section); states below TINY are
    flushed at the end of the block.
    """
    n = x.shape[0]
    for i in range(n):
        y[i] = x[i]
    for k in range(sos.shape[0]):
        b0, b1, b2, a1, a2 = sos[k, 0], sos[k, 1], sos[k, 2], sos[k, 4], sos[k, 5]
        x1, x2, y1, y2 = zi[k, 0], zi[k, 1], zi[k, 2], zi[k, 3]
        for i in range(n):
            v = y[i]
            o = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, v, y1, o
            y[i] = o
        zi[k, 0], zi[k, 1], zi[k, 2], zi[k, 3] = x1, x2, y1, y2
        for j in range(4):
            if abs(zi[k, j]) <= TINY:
                zi[k, j] = 0.0


@njit(cache=True)
def _read1(buf, w, d, mask):
    ip = int(d)
    frac = d - ip
    a = buf[(w - ip) & mask]
    return a + frac * (buf[(w - ip - 1) & mask] - a)


@njit(cache=True)
def run_tapped_line(x, d_out, d_fb, feedback, damp_coef, hf_ratio, drive, buf, widx, lp, out):
    """One feedback delay line read by several output taps (state updated in place).

    ``d_out`` (m, taps) and ``d_fb`` (mf,) are delays in samples with m, mf = n
    (per sample) or 1 (static); ``feedback`` is the loop gain; the damping,
    ``drive``, ``buf`` (size,), ``widx`` and ``lp`` (1,) are as in :func:`run_delay_lines`.
    """
    n = x.shape[0]
    taps = d_out.shape[1]
    m = d_out.shape[0]
    mf = d_fb.shape[0]
    mask = buf.shape[0] - 1
    w = widx[0]
    low = lp[0]
    b = 1.0 - damp_coef
    for i in range(n):
        s = 0.0
        if feedback != 0.0:
            d = d_fb[i if mf > 1 else 0]
            s = feedback * _read1(buf, w, d if d > 1.0 else 1.0, mask)
        low = b * s + damp_coef * low
        if abs(low) <= TINY:
            low = 0.0
        v = x[i] + low + hf_ratio * (s - low)
        if drive > 0.0:
            v = soft_clip(drive * v) / drive
        buf[w] = v if abs(v) > TINY else 0.0
        r = i if m > 1 else 0
        for t in range(taps):
            out[i, t] = _read1(buf, w, d_out[r, t], mask)
        w = (w + 1) & mask
    widx[0] = w
    lp[0] = low


@njit(cache=True)
def run_swept_pair(x, delay, feedback, buf, widx, out):
    """Two lines fed by mono ``x``, each read once per sample at its own swept ``delay`` (n, 2).

    The tap is both the output and the feedback (gain ``feedback``): a stereo
    flanger. ``buf`` (2, size), ``widx`` and ``out`` (n, 2) as in :func:`run_delay_lines`.
    """
    mask = buf.shape[1] - 1
    w = widx[0]
    for i in range(x.shape[0]):
        xi = x[i]
        for ch in range(2):
            d = delay[i, ch]
            tap = _read(buf, ch, w, d if d > 1.0 else 1.0, mask)
            v = xi + feedback * tap
            buf[ch, w] = v if abs(v) > TINY else 0.0
            out[i, ch] = tap
        w = (w + 1) & mask
    widx[0] = w


def _ring_size(max_delay_samples: float) -> int:
    size = 1
    while size < max_delay_samples + 4:
        size *= 2
    return size


class TappedLine:
    """State for :func:`run_tapped_line`: one ring buffer long enough for ``max_delay_samples``."""

    def __init__(self, max_delay_samples: float):
        self.size = _ring_size(max_delay_samples)
        self.reset()

    def reset(self) -> None:
        self.buf = np.zeros(self.size)
        self.widx = np.zeros(1, dtype=np.int64)
        self.lp = np.zeros(1)

    def run(self, x, *, d_out, d_fb, feedback: float, damp_coef=0.0, hf_ratio=1.0, drive=0.0):
        """Process mono ``x`` (n,); ``d_out`` (1 or n, taps), ``d_fb`` (1 or n,); returns (n, taps)."""
        d_out = np.ascontiguousarray(d_out, dtype=np.float64)
        out = np.empty((x.shape[0], d_out.shape[1]))
        run_tapped_line(np.ascontiguousarray(x, dtype=np.float64), d_out,
                        np.ascontiguousarray(d_fb, dtype=np.float64), float(feedback), float(damp_coef),
                        float(hf_ratio), float(drive), self.buf, self.widx, self.lp, out)
        return out


class RingDelay:
    """State for :func:`run_delay_lines`: ``channels`` ring buffers long enough for ``max_delay_samples``."""

    def __init__(self, channels: int, max_delay_samples: float):
        self.channels = channels
        self.size = _ring_size(max_delay_samples)
        self.reset()

    def reset(self) -> None:
        self.buf = np.zeros((self.channels, self.size))
        self.widx = np.zeros(1, dtype=np.int64)
        self.lp = np.zeros(self.channels)

    def run(self, x, *, d_out, d_fb, fb, damp_coef=0.0, hf_ratio=None, drive=0.0):
        """Process mono ``x`` (n,) into every line; returns the output taps (n, channels).

        ``d_out`` / ``d_fb`` are (1, channels) for static taps or (n, channels) per sample.
        """
        out = np.empty((x.shape[0], self.channels))
        hf = np.ones(self.channels) if hf_ratio is None else np.asarray(hf_ratio, dtype=np.float64)
        run_delay_lines(np.ascontiguousarray(x, dtype=np.float64),
                        np.ascontiguousarray(d_out, dtype=np.float64),
                        np.ascontiguousarray(d_fb, dtype=np.float64), np.asarray(fb, dtype=np.float64),
                        float(damp_coef), hf, float(drive), self.buf, self.widx, self.lp, out)
        return out


class StaticFilter:
    """A fixed cascade of biquads (rows b0 b1 b2 1 a1 a2) with state, run by :func:`run_sos`.

    Same response as ``dsp.SosFilter`` (to rounding) for mono signals, faster;
    an empty cascade passes the signal through.
    """

    def __init__(self, sos):
        self.sos = np.ascontiguousarray(np.asarray(sos, dtype=np.float64).reshape(-1, 6))
        self.reset()

    def reset(self) -> None:
        self.zi = np.zeros((len(self.sos), 4))

    def process(self, x: np.ndarray) -> np.ndarray:
        if len(self.sos) == 0:
            return x
        y = np.empty(x.shape[0])
        run_sos(np.ascontiguousarray(x, dtype=np.float64), self.sos, self.zi, y)
        return y


#: Points per LFO wave table (plus one wrap-around point); linear interpolation error < 1e-6.
WAVE_TABLE_SIZE = 4096


def _wave_table(waveform: str) -> np.ndarray:
    phase = np.arange(WAVE_TABLE_SIZE + 1) / WAVE_TABLE_SIZE
    if waveform == "Triangle":
        return 4.0 * np.abs((phase + 0.75) % 1.0 - 0.5) - 1.0
    sine = np.sin(2.0 * np.pi * phase)
    if waveform == "Square":
        return np.tanh(SQUARE_SHARPNESS * sine) / math.tanh(SQUARE_SHARPNESS)
    return sine


@njit(cache=True)
def lfo_fill(start, phase0, increment, table, offset, scale, out):
    """out[i] = offset + scale * (table at phase frac(phase0 + (start + i) * increment)), interpolated."""
    size = table.shape[0] - 1
    for i in range(out.shape[0]):
        pos = ((phase0 + (start + i) * increment) % 1.0) * size
        k = int(pos)
        out[i] = offset + scale * (table[k] + (pos - k) * (table[k + 1] - table[k]))


@njit(cache=True)
def mix_stereo(dry, wet, dry_gain, wet_gain, out):
    """out[:, ch] = dry_gain * dry + wet_gain * wet[:, ch or 0] for a (n, 1) or (n, 2) ``wet``."""
    c = wet.shape[1]
    for i in range(dry.shape[0]):
        for ch in range(2):
            out[i, ch] = dry_gain * dry[i] + wet_gain * wet[i, ch if c > 1 else 0]


@njit(cache=True)
def mix_and_fold(dry, wet, wet_gain, out, mono):
    """:func:`mix_stereo` of mono ``dry`` (gain 1) and (n, 1) or (n, 2) ``wet``, and
    mono = 0.5 * (L + R), in one pass (the same values as the two calls)."""
    right_ch = 1 if wet.shape[1] > 1 else 0
    for i in range(dry.shape[0]):
        left = 1.0 * dry[i] + wet_gain * wet[i, 0]
        right = 1.0 * dry[i] + wet_gain * wet[i, right_ch]
        out[i, 0] = left
        out[i, 1] = right
        mono[i] = 0.5 * (left + right)


@njit(cache=True)
def add_and_fold(acc, wet, gain, mono):
    """acc[:, ch] += gain * wet[:, ch] for (n, 2) arrays, and mono = 0.5 * (L + R) of the sum."""
    for i in range(acc.shape[0]):
        left = acc[i, 0] + gain * wet[i, 0]
        right = acc[i, 1] + gain * wet[i, 1]
        acc[i, 0] = left
        acc[i, 1] = right
        mono[i] = 0.5 * (left + right)


class Lfo:
    """A deterministic low-frequency oscillator in [-1, 1], phase 0 at reset.

    ``phase_deg`` offsets the start phase (e.g. the right channel of a stereo
    effect). Sine starts at 0 rising; Triangle likewise; Square is a
    band-limited square, tanh(k sin) / tanh(k), that starts at 0 rising.
    Values come from a wave table indexed by the absolute sample count.
    """

    def __init__(self, rate_hz: float, waveform: str, *, sample_rate: int, phase_deg: float = 0.0):
        if waveform not in WAVEFORMS:
            raise EmulationError(
                f"LFO waveform {waveform!r} is not known; expected one of {', '.join(WAVEFORMS)}")
        self.rate_hz = float(rate_hz)
        self.waveform = waveform
        self.increment = self.rate_hz / sample_rate
        self.phase0 = (float(phase_deg) / 360.0) % 1.0
        self.table = _wave_table(waveform)
        self.start_n = 0          # samples the LFO has run before the first output (render option)
        self.reset()

    def reset(self) -> None:
        self._n = self.start_n

    def peek(self, n: int, *, offset: float = 0.0, scale: float = 1.0, out=None) -> np.ndarray:
        """The next ``n`` values as ``offset + scale * lfo`` (into ``out`` if given), without advancing."""
        out = np.empty(n) if out is None else out
        lfo_fill(self._n, self.phase0, self.increment, self.table, float(offset), float(scale), out)
        return out

    def next(self, n: int, *, offset: float = 0.0, scale: float = 1.0, out=None) -> np.ndarray:
        """As :meth:`peek`, then advance by ``n`` samples."""
        out = self.peek(n, offset=offset, scale=scale, out=out)
        self.advance(n)
        return out

    def advance(self, n: int) -> None:
        """Move on by ``n`` samples."""
        self._n += n
