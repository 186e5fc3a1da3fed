"""Shared DSP building blocks for the emulator: stateful biquads and table helpers.

Every filter here keeps its state between calls, so processing a signal in
blocks of any size gives the same samples as processing it at once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal


def rbj_biquad(kind: str, f0_hz: float, sample_rate: int, *, q: float = 0.7071,
               gain_db: float = 0.0) -> np.ndarray:
    """One second-order section (b0, b1, b2, 1, a1, a2) from the RBJ audio-EQ cookbook.

    ``kind``: "lowpass", "highpass", "bandpass", "peaking", "lowshelf", "highshelf",
    "allpass". ``f0_hz`` is clamped below Nyquist. Shelves use ``q`` as the slope
    parameter's Q (0.7071 = Butterworth-like).
    """
    f0_hz = min(max(float(f0_hz), 1.0), 0.49 * sample_rate)
    w0 = 2.0 * math.pi * f0_hz / sample_rate
    cos_w0, sin_w0 = math.cos(w0), math.sin(w0)
    alpha = sin_w0 / (2.0 * max(q, 1e-3))
    a_lin = 10.0 ** (gain_db / 40.0)
    if kind == "lowpass":
        b = [(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "bandpass":
        b = [alpha, 0.0, -alpha]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "allpass":
        b = [1 - alpha, -2 * cos_w0, 1 + alpha]
        a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "peaking":
        b = [1 + alpha * a_lin, -2 * cos_w0, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cos_w0, 1 - alpha / a_lin]
    elif kind in ("lowshelf", "highshelf"):
        sq = 2.0 * math.sqrt(a_lin) * alpha
        sign = 1.0 if kind == "lowshelf" else -1.0
        b = [a_lin * ((a_lin + 1) - sign * (a_lin - 1) * cos_w0 + sq),
             sign * 2 * a_lin * ((a_lin - 1) - sign * (a_lin + 1) * cos_w0),
             a_lin * ((a_lin + 1) - sign * (a_lin - 1) * cos_w0 - sq)]
        a = [(a_lin + 1) + sign * (a_lin - 1) * cos_w0 + sq,
             -sign * 2 * ((a_lin - 1) + sign * (a_lin + 1) * cos_w0),
             (a_lin + 1) + sign * (a_lin - 1) * cos_w0 - sq]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    b = np.asarray(b) / a[0]
    a = np.asarray(a) / a[0]
    return np.concatenate([b, a])


class SosFilter:
    """A cascade of second-order sections with persistent state (scipy ``sosfilt``).

    ``channels`` > 1 filters (n, channels) blocks with one state per channel.
    An empty cascade passes the signal through.
    """

    def __init__(self, sos, channels: int = 1):
        sos = np.asarray(sos, dtype=np.float64).reshape(-1, 6)
        self.sos = sos
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        shape = (len(self.sos), 2) if self.channels == 1 else (len(self.sos), 2, self.channels)
        self._zi = np.zeros(shape)

    def process(self, x: np.ndarray) -> np.ndarray:
        if len(self.sos) == 0:
            return np.array(x, dtype=np.float64, copy=True)
        y, self._zi = signal.sosfilt(self.sos, x, axis=0, zi=self._zi)
        return y


def one_pole_coeff(cutoff_hz: float, sample_rate: int) -> float:
    """Feedback coefficient a of y[n] = (1 - a) x[n] + a y[n-1] for a -3 dB point near ``cutoff_hz``."""
    return math.exp(-2.0 * math.pi * min(cutoff_hz, 0.49 * sample_rate) / sample_rate)


def ms_to_samples(time_ms: float, sample_rate: int) -> float:
    return float(time_ms) * 1e-3 * sample_rate


def db_to_gain(gain_db: float) -> float:
    return 10.0 ** (gain_db / 20.0)


def table_hz(value, *, thru_hz: float | None = None):
    """A filter frequency from the table, or ``thru_hz`` for "Thru" (filter off)."""
    return thru_hz if isinstance(value, str) else float(value)
