"""The analyzer interface: what every feature backend computes.

A backend implements four hooks on mono float audio at a given rate:

* ``mel_power(y, sr)`` -> (64, frames) mel power, 2048/512 STFT, bands to 8 kHz;
* ``frame_features(y, sr)`` -> per-frame ``centroid_hz``, ``rolloff_hz``,
  ``zcr``, ``flatness``, ``rms`` arrays (same frames);
* ``onset_envelope(y, sr)`` -> (envelope, frame rate in Hz);
* ``tempo_bpm(y, sr)`` -> float.

:meth:`Analyzer.describe` (a template method) turns them into the summary
numbers the heuristics and reports use, adding what is backend independent
(log-mel / MFCC-20 summaries, spectral tilt 1.5-6 kHz, RMS, BS.1770
integrated loudness, crest factor).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from . import features as F


class Analyzer(ABC):
    """Feature backend. Subclasses set ``name`` and implement the four hooks."""

    name = "abstract"

    @abstractmethod
    def mel_power(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mel power spectrogram (64, frames); Hann 2048 / hop 512, 0-8 kHz."""

    @abstractmethod
    def frame_features(self, y: np.ndarray, sample_rate: int, *, power=None) -> dict:
        """Per-frame arrays: centroid_hz, rolloff_hz (85 %), zcr, flatness, rms.

        ``power`` may pass the 2048/512 power spectrogram already computed.
        """

    @abstractmethod
    def onset_envelope(self, y: np.ndarray, sample_rate: int) -> tuple:
        """(onset strength per frame, frame rate in Hz)."""

    @abstractmethod
    def tempo_bpm(self, y: np.ndarray, sample_rate: int) -> float:
        """Global tempo estimate in beats per minute."""

    # -- shared ---------------------------------------------------------------
    def log_mel(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        """Natural-log mel spectrogram ``ln(mel + 1e-10)`` (64, frames), as in the seed."""
        return np.log(self.mel_power(y, sample_rate) + F.LOG_EPS)

    def mfcc(self, y: np.ndarray, sample_rate: int) -> np.ndarray:
        """MFCC-20 (20, frames) from the dB mel spectrogram (orthonormal DCT-II)."""
        mel_db = 10 * np.log10(self.mel_power(y, sample_rate) + F.LOG_EPS)
        return F.mfcc_from_mel_db(mel_db)

    def describe(self, y: np.ndarray, sample_rate: int, *, tempo: bool = True) -> dict:
        """Summary features of one signal (energy-weighted means over frames).

        Returns
        -------
        dict
            centroid_hz, rolloff_hz, zcr, flatness, tilt_db (1.5-6 kHz), rms_db,
            loudness_lufs, crest_db, tempo_bpm (None with ``tempo=False``), duration_s, backend.
        """
        y = np.asarray(y, dtype=np.float64)
        power = F.MelFrontend(sample_rate, dtype=np.float64).power(y)
        frames = self.frame_features(y, sample_rate, power=power)
        weights = np.asarray(frames["rms"], dtype=np.float64) ** 2
        freqs_hz = np.fft.rfftfreq(F.N_FFT, 1.0 / sample_rate)
        loud = power.sum(axis=0) > 1e-3 * power.sum(axis=0).max()
        out = {name: F.energy_weighted_mean(np.asarray(frames[name]), weights)
               for name in ("centroid_hz", "rolloff_hz", "zcr", "flatness")}
        out.update(
            tilt_db=F.spectral_tilt_db(power[:, loud], freqs_hz),
            rms_db=float(F.rms_db(y)),
            loudness_lufs=self.loudness_lufs(y, sample_rate),
            crest_db=float(F.crest_factor_db(y)),
            tempo_bpm=float(self.tempo_bpm(y, sample_rate)) if tempo else None,
            duration_s=y.size / float(sample_rate),
            backend=self.name,
        )
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}

    def loudness_lufs(self, y: np.ndarray, sample_rate: int) -> float:
        """Integrated loudness (BS.1770-4) in LUFS."""
        return F.integrated_loudness_lufs(y, sample_rate)
