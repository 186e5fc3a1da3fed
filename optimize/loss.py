"""The seed loss, the metric panel for reports, and the loss registry.

``SeedLoss`` is the original project's objective, made fair:

    total = 0.6 * mel + 0.4 * mfcc
    mel   = mean over (band, frame) of (ln max(M_take, f) - ln max(M_target, f))**2
    mfcc  = mean over (coef, frame) of (MFCC_take - MFCC_target)**2

with M the 64-band mel power spectrogram to 8 kHz (Hann 2048, hop 512) and
MFCC-20 the orthonormal DCT-II of ``power_to_db(M)`` (floor 80 dB under its
peak, as librosa does). Three things the original did not do:

* **a floor** ``f`` 80 dB under the target's peak mel power instead of the
  absolute 1e-10: with 1e-10, near-silent cells (ln 1e-10 = -23) dominate the
  MSE and the loss is not even monotonic in a delay-time error (measured:
  5 ms off cost twice as much as 10 ms off on the jazz DI);

* **level matching**: the take is scaled so that its mel energy (0-8 kHz) equals
  the target's, inside the loss. The DI is never touched. A pure level change
  of the take therefore costs nothing;
* **residual alignment**: a lag of up to ``max_lag_ms`` (default 20 ms) between
  the take and the target is removed (coarse envelope cross-correlation, then
  waveform refinement on the loudest 8192 samples). Larger offsets are the job
  of :func:`analyzers.alignment.align` before the search starts.

The target's features are computed once in the constructor. With the librosa
backend a call on 5 s of audio costs a few milliseconds (cached window and
filterbank, float32 FFT; see ``benchmarks/analysis_speed.py``).

``metric_panel(take, target, sr)`` reports interpretable differences (after the
same level matching): multi-resolution STFT distance, centroid, roll-off, ZCR,
loudness (BS.1770, LUFS), crest factor, and the error-to-signal ratio (ESR).

``LOSSES`` / ``get_loss(name)`` map names to classes with lazy imports.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from analyzers import features as F
from analyzers.factory import get_analyzer
from magicstomp.errors import AudioInputError, ParameterError

MEL_WEIGHT = 0.6
MFCC_WEIGHT = 0.4
TOP_DB = 80.0
ENV_DECIMATION = 8
REFINE_SAMPLES = 8192

#: loss name -> "module:Class"; every class takes (target, sample_rate, **options)
#: and is called with a take, returning a LossValue.
LOSSES = {
    "seed": "optimize.loss:SeedLoss",
    "match": "optimize.objective:MatchLoss",
}


@dataclass(frozen=True)
class LossValue:
    """A loss total and its named terms (floats).

    ``spectrum``, when the loss provides it (MatchLoss does), is the long-term
    target-minus-take spectrum ``{"hz": centres, "diff_db": values}`` (third
    octaves, level-matched): what a linear filter would still have to change.
    """

    total: float
    terms: dict = field(default_factory=dict)
    spectrum: dict | None = field(default=None, repr=False, compare=False)

    def __float__(self) -> float:
        return float(self.total)


def get_loss(name: str):
    """The loss class registered as ``name`` (imported now).

    Raises
    ------
    ParameterError
        an unknown name, listing the valid ones.
    """
    target = LOSSES.get(str(name).strip().lower()) if name is not None else None
    if target is None:
        raise ParameterError(f"loss {name!r} is unknown; expected one of {', '.join(sorted(LOSSES))}",
                             field="loss", value=name, allowed=sorted(LOSSES))
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def mono_samples(signal, what: str) -> np.ndarray:
    """``signal`` as finite float64 mono samples (a stereo or multichannel signal is averaged).

    Parameters
    ----------
    signal : array_like
        Shape (n,), or (n, channels) / (channels, n) with at most 8 channels.
    what : str
        Names the signal in the error message (``"target"``, ``"take"``, ``"DI"``).

    Raises
    ------
    AudioInputError
        for an empty or wrongly shaped signal, or one with NaN or infinite samples.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
    if x.ndim != 1 or x.size == 0:
        raise AudioInputError(f"the {what} has shape {np.shape(signal)}; expected mono (n,) or "
                              "stereo (n, 2) audio with at least one sample")
    if not np.all(np.isfinite(x)):
        raise AudioInputError(f"the {what} contains NaN or infinite samples; expected finite "
                              "audio (check the recording, the rig's output or the effect "
                              "settings)")
    return x


def power_to_db(power: np.ndarray, *, top_db: float = TOP_DB) -> np.ndarray:
    """``10 log10(max(P, 1e-10))`` clipped at ``top_db`` under its peak (librosa's rule)."""
    db = 10.0 * np.log10(np.maximum(power, F.LOG_EPS))
    return np.maximum(db, db.max() - top_db)


def _envelope(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Mean |x| over blocks of ENV_DECIMATION samples, mean removed."""
    n = x.size // ENV_DECIMATION * ENV_DECIMATION
    rect = np.abs(x[:n], out=scratch[:n] if scratch is not None and scratch.size >= n else None)
    env = rect.reshape(-1, ENV_DECIMATION).mean(axis=1, dtype=np.float64)
    return env - env.mean()


class SeedLoss:
    """``0.6 * log-mel MSE + 0.4 * MFCC-20 MSE`` on aligned, level-matched audio.

    Parameters
    ----------
    target : np.ndarray
        Target audio (mono, or stereo folded by the mean), already aligned to the DI.
    sample_rate : int
        Rate of the target and of every take.
    backend : str or Analyzer
        "librosa" (fast cached front end) or "essentia" (essentia's MelBands).
    max_lag_ms : float
        Residual misalignment removed per take (0 disables alignment).
    """

    name = "seed"

    def __init__(self, target, sample_rate: int, *, backend: str = "librosa",
                 max_lag_ms: float = 20.0):
        self.sample_rate = int(sample_rate)
        if self.sample_rate <= 0:
            raise ParameterError(f"sample_rate={sample_rate} must be a positive rate in Hz",
                                 field="sample_rate", value=sample_rate)
        if max_lag_ms < 0:
            raise ParameterError(f"max_lag_ms={max_lag_ms} must be >= 0", field="max_lag_ms",
                                 value=max_lag_ms)
        self.target = mono_samples(target, "target")
        if not np.any(self.target):
            raise AudioInputError("the target is silent; expected a recording with signal")
        self.analyzer = get_analyzer(backend)
        self.backend = self.analyzer.name
        self._buffers: dict = {}
        if self.backend == "librosa":
            self._mel_power = self.analyzer.frontend(self.sample_rate).mel_power
        else:
            self._mel_power = lambda y: self.analyzer.mel_power(y, self.sample_rate)
        mel = self._mel_power(self.target)
        self._frame_energy = mel.sum(axis=0, dtype=np.float64)
        self._floor = max(float(mel.max()) * 10 ** (-TOP_DB / 10), F.LOG_EPS)
        self._log_mel = np.log(np.maximum(mel, self._floor))
        self._mfcc = F.mfcc_from_mel_db(power_to_db(mel))
        self.max_lag_samples = int(round(max_lag_ms * 1e-3 * self.sample_rate))
        if self.max_lag_samples:
            env = _envelope(self.target)
            self._nfft = scipy.fft.next_fast_len(env.size + self.max_lag_samples // ENV_DECIMATION + 2)
            self._env_spec = np.conj(scipy.fft.rfft(env, self._nfft))
            energy = np.convolve(self.target ** 2, np.ones(REFINE_SAMPLES), mode="valid")[
                ::REFINE_SAMPLES // 4] if self.target.size > REFINE_SAMPLES else np.zeros(1)
            self._refine_start = int(np.argmax(energy)) * (REFINE_SAMPLES // 4)

    # -- alignment -------------------------------------------------------------
    def lag_samples(self, take: np.ndarray) -> int:
        """How many samples ``take`` lags the target (positive: the take is later), within ±max lag."""
        if not self.max_lag_samples:
            return 0
        env = _envelope(take, self._scratch(take.size, "abs"))
        xc = scipy.fft.irfft(scipy.fft.rfft(env, self._nfft) * self._env_spec, self._nfft)
        reach = self.max_lag_samples // ENV_DECIMATION + 1
        lags = np.r_[np.arange(0, reach + 1), np.arange(-reach, 0)]
        coarse = int(lags[np.argmax(np.r_[xc[:reach + 1], xc[-reach:]])]) * ENV_DECIMATION
        start = self._refine_start
        seg = self.target[start:start + REFINE_SAMPLES]
        span = 2 * ENV_DECIMATION
        lo = max(coarse - span, -start, -self.max_lag_samples)
        hi = min(coarse + span, take.size - start - seg.size, self.max_lag_samples)
        if hi < lo or seg.size < REFINE_SAMPLES // 2:
            return int(np.clip(coarse, -self.max_lag_samples, self.max_lag_samples))
        window = take[start + lo:start + hi + seg.size]
        views = np.lib.stride_tricks.sliding_window_view(window, seg.size)
        corr = views @ seg
        return int(lo + np.argmax(np.abs(corr)))

    def _scratch(self, size: int, name: str) -> np.ndarray:
        """A reused float32 work buffer (fresh megabyte arrays per call cost page faults)."""
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size, dtype=np.float32)
        return buf[:size]

    def _aligned(self, take: np.ndarray) -> tuple:
        """(take shifted onto the target, zero-filled, float32 at the target's length; lag)."""
        x = self._scratch(take.size, "take")
        x[:] = take
        lag = self.lag_samples(x)
        n = self.target.size
        out = self._scratch(n, "aligned")
        dst = max(-lag, 0)
        src = x[max(lag, 0):]
        m = max(0, min(n - dst, src.size))
        out[:dst] = 0.0
        out[dst:dst + m] = src[:m]
        out[dst + m:] = 0.0
        return out, lag

    # -- the loss --------------------------------------------------------------
    def _valid_frames(self, lag: int, n_frames: int) -> slice:
        """Frames whose samples all come from the take after shifting it by ``lag``."""
        n, half, hop = self.target.size, F.N_FFT // 2, F.HOP
        first = 0 if lag >= 0 else int(np.ceil((-lag + half) / hop))
        last = n_frames if lag <= 0 else min(n_frames, (n - lag - half) // hop + 1)
        if last - first < 1:
            return slice(0, n_frames)
        return slice(first, last)

    def __call__(self, take) -> LossValue:
        """Score one take (mono or stereo, same rate as the target)."""
        x = mono_samples(take, "take")
        with _single_thread_blas():
            x, lag = self._aligned(x)
            mel = self._mel_power(x)
            frames = self._valid_frames(lag, mel.shape[1])
            mel = mel[:, frames]
            energy = float(mel.sum())
            target_energy = float(self._frame_energy[frames].sum())
            gain = target_energy / energy if energy > 0 else 1.0
            mel = mel * gain
            mel_term = float(np.mean((np.log(np.maximum(mel, self._floor))
                                      - self._log_mel[:, frames]) ** 2))
            mfcc_term = float(np.mean((F.mfcc_from_mel_db(power_to_db(mel))
                                       - self._mfcc[:, frames]) ** 2))
        total = MEL_WEIGHT * mel_term + MFCC_WEIGHT * mfcc_term
        return LossValue(total=total, terms={
            "mel": mel_term, "mfcc": mfcc_term,
            "level_gain_db": float(10 * np.log10(gain)) if gain > 0 else float("inf"),
            "lag_samples": float(lag)})


_BLAS = {}


def _single_thread_blas():
    """Run small matrix products on one BLAS thread: on a loaded 2-core machine
    OpenBLAS's thread pool costs more than the product (measured 4x slower)."""
    import contextlib
    if "ctl" not in _BLAS:
        try:
            import threadpoolctl
            _BLAS["ctl"] = threadpoolctl.ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _BLAS["ctl"] = None
    ctl = _BLAS["ctl"]
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


# -- metric panel -----------------------------------------------------------------
MRSTFT_SIZES = ((512, 128), (1024, 256), (2048, 512))


def mrstft_distance(take: np.ndarray, target: np.ndarray) -> float:
    """Multi-resolution STFT distance: mean over FFT sizes 512/1024/2048 of spectral
    convergence + mean |log10 magnitude difference| (auraloss's definition)."""
    total = 0.0
    for n_fft, hop in MRSTFT_SIZES:
        fe = F.MelFrontend(16000, n_fft=n_fft, hop=hop, dtype=np.float64)   # rate unused here
        a = np.sqrt(fe.power(take))
        b = np.sqrt(fe.power(target))
        sc = np.linalg.norm(b - a) / max(np.linalg.norm(b), 1e-12)
        logmag = np.mean(np.abs(np.log10(a + 1e-7) - np.log10(b + 1e-7)))
        total += sc + logmag
    return float(total / len(MRSTFT_SIZES))


def metric_panel(take, target, sample_rate: int, *, backend: str = "librosa",
                 seed_loss=None) -> dict:
    """Interpretable differences between a take and the target, for reports.

    The take is level-matched to the target (one RMS gain) first; its original
    level difference is reported as ``level_diff_db``. Differences are take
    minus target.

    ``seed_loss``, a :class:`SeedLoss` already built on ``target``, is reused (building
    one costs far more than scoring a take: pass it when scoring several takes).

    Returns
    -------
    dict
        mrstft, centroid_diff_hz, rolloff_diff_hz, zcr_diff, loudness_diff_lu,
        crest_diff_db, esr, esr_db, level_diff_db, and seed_loss (the seed's own
        objective, shown in every report for comparison whichever loss was searched).
    """
    a = mono_samples(take, "take")
    b = mono_samples(target, "target")
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    rms_a, rms_b = np.sqrt(np.mean(a ** 2)), np.sqrt(np.mean(b ** 2))
    level_diff_db = 20 * np.log10(rms_a / rms_b) if rms_a > 0 and rms_b > 0 else float("-inf")
    if rms_a > 0:
        a = a * (rms_b / rms_a)
    analyzer = get_analyzer(backend)
    fa, fb = analyzer.frame_features(a, sample_rate), analyzer.frame_features(b, sample_rate)

    def mean_diff(key):
        wa, wb = np.asarray(fa["rms"]) ** 2, np.asarray(fb["rms"]) ** 2
        return (F.energy_weighted_mean(np.asarray(fa[key]), wa)
                - F.energy_weighted_mean(np.asarray(fb[key]), wb))

    esr = float(np.sum((b - a) ** 2) / max(np.sum(b ** 2), 1e-20))
    return {
        "mrstft": mrstft_distance(a, b),
        "centroid_diff_hz": float(mean_diff("centroid_hz")),
        "rolloff_diff_hz": float(mean_diff("rolloff_hz")),
        "zcr_diff": float(mean_diff("zcr")),
        "loudness_diff_lu": float(F.integrated_loudness_lufs(a, sample_rate)
                                  - F.integrated_loudness_lufs(b, sample_rate)),
        "crest_diff_db": float(F.crest_factor_db(a) - F.crest_factor_db(b)),
        "esr": esr,
        "esr_db": float(10 * np.log10(max(esr, 1e-12))),
        "level_diff_db": float(level_diff_db),
        "seed_loss": float((seed_loss if seed_loss is not None and seed_loss.target.size == n
                            else SeedLoss(b, sample_rate, backend=backend))(a).total),
    }
