"""An independent judge of a take against a target: how close is it, really?

The search optimizes :class:`optimize.objective.MatchLoss`; a benchmark that
scored results with that same loss would only say the search is good at its own
game. This judge shares no code with it (numpy and scipy only) and follows
common practice instead:

* its **own alignment**: the lag (within +/-``max_lag_s``) and polarity that
  maximise the cross-correlation of the take with the target; only the overlap
  is compared;
* its **own gain matching**: the aligned take is scaled to the target's RMS;
* **MR-STFT distance** at auraloss' default resolutions (FFT 1024/2048/512, hops
  120/240/50, Hann windows 600/1200/240 centred in the FFT frame, reflect-padded
  centred frames, magnitudes floored at sqrt(1e-8)): spectral convergence plus
  mean absolute natural-log magnitude difference, averaged over the resolutions;
* **log-mel L1** in dB: 128 mel bands (HTK mel scale, 0 Hz to Nyquist) of a
  2048-point STFT with a 512-sample hop, power in dB floored 80 dB under the
  target's loudest cell, mean absolute difference.

It lives in ``analyzers`` (a measurement, no search) so the benchmarks, tests
and a later report can import it as a package without importing ``optimize``.
Scores are "lower is better"; identical signals score 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

MRSTFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (fft, hop, win)
MAG_EPS = 1e-8                 # auraloss clamps |X|^2 at this before the square root
MEL_BANDS, MEL_FFT, MEL_HOP = 128, 2048, 512
MEL_FLOOR_DB = 80.0
DEFAULT_MAX_LAG_S = 0.5


@dataclass(frozen=True)
class Score:
    """The judge's verdict on one take (lower is better)."""

    mrstft: float          # spectral convergence + log magnitude, auraloss resolutions
    logmel_db: float       # mean |mel dB difference|
    lag_samples: int       # the target lags the take by this many samples
    polarity: int          # +1, or -1 when the take was inverted to match
    gain_db: float         # gain applied to the take to match the target's RMS

    def beats(self, other: "Score") -> bool:
        """True when this score is lower than ``other`` on both metrics."""
        return self.mrstft < other.mrstft and self.logmel_db < other.logmel_db

    def to_dict(self) -> dict:
        return {"mrstft": self.mrstft, "logmel_db": self.logmel_db,
                "lag_samples": self.lag_samples, "polarity": self.polarity,
                "gain_db": self.gain_db}


def _mono(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("the judge needs finite mono or stereo audio with at least one sample")
    return x


def align(take: np.ndarray, target: np.ndarray, sample_rate: int, *,
          max_lag_s: float = DEFAULT_MAX_LAG_S) -> tuple:
    """(take, target, lag, polarity): both trimmed to their overlap, the take re-signed.

    ``lag`` > 0 means the target is late: ``target[n + lag]`` matches ``take[n]``.
    """
    max_lag = int(round(max_lag_s * sample_rate))
    corr = fftconvolve(target, take[::-1])          # index k <-> lag k - (len(take) - 1)
    lags = np.arange(corr.size) - (take.size - 1)
    window = np.abs(lags) <= max_lag
    k = int(np.argmax(np.abs(np.where(window, corr, 0.0))))
    lag, polarity = int(lags[k]), (1 if corr[k] >= 0 else -1)
    if lag >= 0:
        x, y = take, target[lag:]
    else:
        x, y = take[-lag:], target
    n = min(x.size, y.size)
    return polarity * x[:n], y[:n], lag, polarity


def _stft_magnitude(x: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left:left + win] = np.hanning(win + 1)[:-1]         # periodic Hann, centred
    pad = n_fft // 2
    mode = "reflect" if x.size > pad else "constant"
    padded = np.pad(x, pad, mode=mode)
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spec = np.fft.rfft(frames * window, axis=1)
    return np.sqrt(np.maximum(spec.real ** 2 + spec.imag ** 2, MAG_EPS))


def mrstft_distance(x: np.ndarray, y: np.ndarray) -> float:
    """auraloss-style multi-resolution STFT distance of ``x`` from reference ``y``."""
    total = 0.0
    for n_fft, hop, win in MRSTFT_RESOLUTIONS:
        mx, my = _stft_magnitude(x, n_fft, hop, win), _stft_magnitude(y, n_fft, hop, win)
        sc = np.linalg.norm(my - mx) / max(np.linalg.norm(my), 1e-30)
        total += sc + float(np.mean(np.abs(np.log(mx) - np.log(my))))
    return float(total / len(MRSTFT_RESOLUTIONS))


def mel_filterbank(sample_rate: int, n_fft: int = MEL_FFT, bands: int = MEL_BANDS) -> np.ndarray:
    """(bands, bins) triangular filters on the HTK mel scale, 0 Hz to Nyquist."""
    def to_mel(hz):
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def to_hz(mel):
        return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)
    edges = to_hz(np.linspace(0.0, to_mel(sample_rate / 2.0), bands + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - freqs) / np.maximum(upper - centre, 1e-9)
    return np.maximum(0.0, np.minimum(rising, falling))


def logmel_l1_db(x: np.ndarray, y: np.ndarray, sample_rate: int) -> float:
    """Mean |mel-power dB difference| of ``x`` from reference ``y`` (80 dB floor from ``y``)."""
    bank = mel_filterbank(sample_rate)
    px = (_stft_magnitude(x, MEL_FFT, MEL_HOP, MEL_FFT) ** 2) @ bank.T
    py = (_stft_magnitude(y, MEL_FFT, MEL_HOP, MEL_FFT) ** 2) @ bank.T
    floor = max(float(py.max()), 1e-30) * 10.0 ** (-MEL_FLOOR_DB / 10.0)
    return float(np.mean(np.abs(10.0 * np.log10(np.maximum(px, floor))
                                - 10.0 * np.log10(np.maximum(py, floor)))))


def judge(take, target, sample_rate: int, *, max_lag_s: float = DEFAULT_MAX_LAG_S) -> Score:
    """Score ``take`` against ``target`` after the judge's own alignment and gain matching."""
    x, y = _mono(take), _mono(target)
    x, y, lag, polarity = align(x, y, int(sample_rate), max_lag_s=max_lag_s)
    rms_x, rms_y = np.sqrt(np.mean(x ** 2)), np.sqrt(np.mean(y ** 2))
    if rms_y <= 0.0:
        raise ValueError("the target is silent where it overlaps the take; nothing to judge")
    gain = rms_y / rms_x if rms_x > 0.0 else 1.0
    x = x * gain
    return Score(mrstft=mrstft_distance(x, y), logmel_db=logmel_l1_db(x, y, int(sample_rate)),
                 lag_samples=lag, polarity=polarity, gain_db=float(20.0 * np.log10(gain)))
