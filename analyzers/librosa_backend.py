"""The librosa feature backend (the default).

The mel spectrogram comes from :class:`analyzers.features.MelFrontend`, a
cached numpy re-implementation of ``librosa.feature.melspectrogram`` (same
window, padding, filters; the tests check equality), because the loss calls
it per take. The other features call librosa on the same 2048/512 STFT.
"""

from __future__ import annotations

import numpy as np

from . import features as F
from .base import Analyzer


class LibrosaAnalyzer(Analyzer):
    """Features with librosa 0.10+."""

    name = "librosa"

    def __init__(self):
        self._frontends: dict = {}
        self._onset_cache: tuple = (None, None)

    def frontend(self, sample_rate: int) -> F.MelFrontend:
        """The cached mel front end for ``sample_rate``."""
        fe = self._frontends.get(int(sample_rate))
        if fe is None:
            fe = self._frontends[int(sample_rate)] = F.MelFrontend(int(sample_rate))
        return fe

    def mel_power(self, y, sample_rate):
        return self.frontend(sample_rate).mel_power(y).astype(np.float64)

    def frame_features(self, y, sample_rate, *, power=None):
        import librosa
        y = np.asarray(y, dtype=np.float64)
        if power is None:
            power = F.MelFrontend(sample_rate, dtype=np.float64).power(y)
        mag = np.sqrt(power)
        return {
            "centroid_hz": librosa.feature.spectral_centroid(S=mag, sr=sample_rate)[0],
            "rolloff_hz": librosa.feature.spectral_rolloff(S=mag, sr=sample_rate,
                                                           roll_percent=0.85)[0],
            "zcr": librosa.feature.zero_crossing_rate(y, frame_length=F.N_FFT,
                                                      hop_length=F.HOP)[0],
            "flatness": librosa.feature.spectral_flatness(S=mag)[0],
            "rms": librosa.feature.rms(S=mag, frame_length=F.N_FFT)[0],
        }

    def onset_envelope(self, y, sample_rate):
        import librosa
        y = np.asarray(y)
        key = (sample_rate, y.size, float(np.sum(y[::97])), float(y[-1]) if y.size else 0.0)
        if self._onset_cache[0] == key:        # tempo and the heuristics ask for the same signal
            return self._onset_cache[1], sample_rate / F.HOP
        env = librosa.onset.onset_strength(y=y.astype(np.float32), sr=sample_rate,
                                           hop_length=F.HOP)
        self._onset_cache = (key, env)
        return env, sample_rate / F.HOP

    def tempo_bpm(self, y, sample_rate):
        import librosa
        env, _ = self.onset_envelope(y, sample_rate)
        return float(librosa.feature.tempo(onset_envelope=env, sr=sample_rate,
                                           hop_length=F.HOP)[0])
