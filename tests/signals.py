"""Test signals and measurements shared by the emulator tests and the accuracy benchmarks.

Synthesized inputs (sine, click) and the read-backs that measure a rendered
output against a known answer: the dominant frequency of a track, the
instantaneous frequency of a tone, an RMS envelope, a phaser's notch track,
a band-limited copy and a reverb time (RT60).
Everything is at :data:`SR` unless a function takes a rate.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: Sample rate (Hz) of the signals below.
SR = 48000


def sine(freq_hz: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    """``seconds`` of a sine of amplitude ``amp`` at ``freq_hz``, starting at phase 0."""
    return amp * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * SR)) / SR)


def click(n: int, at: int = 100) -> np.ndarray:
    """``n`` samples of silence with a unit impulse at sample ``at``."""
    x = np.zeros(n)
    x[at] = 1.0
    return x


def dominant_hz(x: np.ndarray, rate_hz: float) -> float:
    """Frequency of the strongest component of ``x`` (mean removed), parabolic peak interpolation."""
    x = (x - x.mean()) * np.hanning(x.size)
    n = 1 << int(np.ceil(np.log2(x.size * 8)))
    spec = np.abs(np.fft.rfft(x, n))
    k = int(np.argmax(spec[1:])) + 1
    a, b, c = np.log(spec[k - 1: k + 2] + 1e-300)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate_hz / n


def instantaneous_hz(y: np.ndarray) -> np.ndarray:
    """Instantaneous frequency per sample (Hz) from the phase of the analytic signal."""
    return np.diff(np.unwrap(np.angle(signal.hilbert(y)))) * SR / (2 * np.pi)


def inst_hz(y: np.ndarray) -> np.ndarray:
    """Instantaneous frequency (2 ms moving average), 0.1 s trimmed at each edge."""
    return np.convolve(instantaneous_hz(y), np.ones(96) / 96, "valid")[SR // 10: -SR // 10]


def envelope(y: np.ndarray, hop: int = 48) -> np.ndarray:
    """RMS envelope per ``hop`` samples (rate SR / hop)."""
    n = y.size // hop
    return np.sqrt(np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1))


def notch_track(y: np.ndarray, x: np.ndarray, nperseg: int = 2048):
    """Frequency (Hz) of the deepest notch of |Y/X| per STFT frame, and the frame rate (Hz)."""
    f, _, sx = signal.stft(x, fs=SR, nperseg=nperseg, noverlap=nperseg // 2)
    _, _, sy = signal.stft(y, fs=SR, nperseg=nperseg, noverlap=nperseg // 2)
    ratio = np.abs(sy) / (np.abs(sx) + 1e-9)
    band = (f > 40) & (f < 12000)
    kernel = np.ones(3) / 3
    smooth = np.apply_along_axis(lambda c: np.convolve(c, kernel, "same"), 0, ratio[band])
    return f[band][np.argmin(smooth, axis=0)][2:-2], SR / (nperseg // 2)


def band(x: np.ndarray, lo_hz: float, hi_hz: float, sample_rate: int) -> np.ndarray:
    """``x`` through a 4th-order Butterworth band-pass from ``lo_hz`` to ``hi_hz``."""
    sos = signal.butter(4, [lo_hz, hi_hz], btype="band", fs=sample_rate, output="sos")
    return signal.sosfilt(sos, x)


def rt60_s(ir: np.ndarray, sample_rate: int, *, start_db: float = -5.0,
           stop_db: float = -25.0) -> float:
    """RT60 by Schroeder backward integration and a line fit between two levels
    (the defaults give T20).

    Raises
    ------
    ValueError
        when the decay does not reach ``stop_db`` within ``ir``.
    """
    edc = np.cumsum(ir[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(np.maximum(edc / edc[0], 1e-300))
    i0, i1 = int(np.argmax(edc_db <= start_db)), int(np.argmax(edc_db <= stop_db))
    if i1 <= i0 + 10:
        raise ValueError("the decay did not reach the fit range")
    slope_db_per_s = np.polyfit(np.arange(i0, i1) / sample_rate, edc_db[i0:i1], 1)[0]
    return float(-60.0 / slope_db_per_s)
