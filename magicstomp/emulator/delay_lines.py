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

#: LFO waveform names the kernels know (the tables' enum labels).
WAVEFORMS = ("Sine", "Triangle", "Square")
#: Sharpness of the band-limited square: tanh(k sin) / tanh(k); rise time ~ period / (2 pi k).
SQUARE_SHARPNESS = 8.0


@njit(cache=True)
def _read(buf, ch, w, d, mask):
    ip = int(math.floor(d))
    frac = d - ip
    a = buf[ch, (w - ip) & mask]
    b = buf[ch, (w - ip - 1) & mask]
    return a + frac * (b - a)


@njit(cache=True)
def run_delay_lines(x, d_out, d_fb, fb, damp_coef, hf_ratio, drive, buf, widx, lp, out):
    """Run ``c`` feedback delay lines for one block (in place on ``buf``, ``widx``, ``lp``).

    Parameters
    ----------
    x : (n, c) signal written into each line.
    d_out, d_fb : (n, c) output-tap and feedback-tap delays in samples.
    fb : (c, c) gain of line j's feedback tap into line i (``fb[i, j]``).
    damp_coef : coefficient a of the one-pole low-pass in the loop.
    hf_ratio : (c,) loop gain above the damping corner relative to below it (1 = flat).
    drive : 0 for a linear line; > 0 writes tanh(drive * v) / drive (tape saturation).
    buf : (c, size) ring buffers, size a power of two; widx : int64 (1,) write index.
    lp : (c,) damping filter memories; out : (n, c) output-tap samples.
    """
    n, c = x.shape
    mask = buf.shape[1] - 1
    w = widx[0]
    taps = np.empty(c)
    for i in range(n):
        for ch in range(c):
            d = d_fb[i, ch]
            taps[ch] = _read(buf, ch, w, d if d > 1.0 else 1.0, mask)
        for ch in range(c):
            s = 0.0
            for j in range(c):
                s += fb[ch, j] * taps[j]
            lp[ch] = (1.0 - damp_coef) * s + damp_coef * lp[ch]
            s = lp[ch] + hf_ratio[ch] * (s - lp[ch])
            v = x[i, ch] + s
            if drive > 0.0:
                v = math.tanh(drive * v) / drive
            buf[ch, w] = v
        for ch in range(c):
            out[i, ch] = _read(buf, ch, w, d_out[i, ch], mask)
        w = (w + 1) & mask
    widx[0] = w


@njit(cache=True)
def run_allpass_chain(x, coef, stages, feedback, z, last, out):
    """First-order allpass cascades with a moving coefficient and output-to-input feedback.

    ``x`` (n,) feeds ``c`` independent cascades; ``coef`` (n, c) is the allpass
    coefficient a of H(z) = (a + z^-1) / (1 + a z^-1) per sample and cascade;
    ``z`` (c, stages) and ``last`` (c,) are the state; ``out`` (n, c) the cascade outputs.
    """
    n = x.shape[0]
    c = coef.shape[1]
    for i in range(n):
        for ch in range(c):
            a = coef[i, ch]
            v = x[i] + feedback * last[ch]
            for k in range(stages):
                y = a * v + z[ch, k]
                z[ch, k] = v - a * y
                v = y
            last[ch] = v
            out[i, ch] = v


class RingDelay:
    """State for :func:`run_delay_lines`: ``channels`` ring buffers long enough for ``max_delay_samples``."""

    def __init__(self, channels: int, max_delay_samples: float):
        size = 1
        while size < max_delay_samples + 4:
            size *= 2
        self.channels = channels
        self.size = size
        self.reset()

    def reset(self) -> None:
        self.buf = np.zeros((self.channels, self.size))
        self.widx = np.zeros(1, dtype=np.int64)
        self.lp = np.zeros(self.channels)

    def run(self, x, d_out, d_fb, fb, *, damp_coef=0.0, hf_ratio=None, drive=0.0):
        """Process ``x`` (n, channels); returns the output taps (n, channels)."""
        n = x.shape[0]
        out = np.empty((n, self.channels))
        hf = np.ones(self.channels) if hf_ratio is None else np.asarray(hf_ratio, dtype=np.float64)
        run_delay_lines(np.ascontiguousarray(x), np.ascontiguousarray(d_out),
                        np.ascontiguousarray(d_fb), np.asarray(fb, dtype=np.float64),
                        float(damp_coef), hf, float(drive), self.buf, self.widx, self.lp, out)
        return out


class Lfo:
    """A deterministic low-frequency oscillator in [-1, 1], phase 0 at reset.

    ``phase_deg`` offsets the start phase (e.g. the right channel of a stereo
    effect). Sine starts at 0 rising; Triangle likewise; Square is a
    band-limited square, tanh(k sin) / tanh(k), that starts at 0 rising.
    """

    def __init__(self, rate_hz: float, waveform: str, sample_rate: int, *, phase_deg: float = 0.0):
        if waveform not in WAVEFORMS:
            raise EmulationError(
                f"LFO waveform {waveform!r} is not known; expected one of {', '.join(WAVEFORMS)}")
        self.rate_hz = float(rate_hz)
        self.waveform = waveform
        self.increment = self.rate_hz / sample_rate
        self.phase0 = (float(phase_deg) / 360.0) % 1.0
        self.reset()

    def reset(self) -> None:
        self._n = 0

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` LFO values."""
        index = np.arange(self._n, self._n + n, dtype=np.float64)
        self._n += n
        phase = (self.phase0 + index * self.increment) % 1.0
        if self.waveform == "Triangle":
            return 4.0 * np.abs((phase + 0.75) % 1.0 - 0.5) - 1.0
        sine = np.sin(2.0 * np.pi * phase)
        if self.waveform == "Square":
            return np.tanh(SQUARE_SHARPNESS * sine) / math.tanh(SQUARE_SHARPNESS)
        return sine
