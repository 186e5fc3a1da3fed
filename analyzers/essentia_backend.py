"""The essentia feature backend (optional: ``pip install essentia``).

Imported only when chosen. Frames are cut by essentia's ``FrameGenerator``
(2048/512, first frame centred on sample 0 like librosa's ``center=True``),
windowed with an unnormalised Hann window, and turned into a magnitude
spectrum by ``Spectrum``. Known differences from the librosa backend
(measured in tests/test_analyzers_backends.py):

* ``MelBands`` uses Slaney mel warping with ``unit_tri`` normalisation on
  ``type="power"``; band edges and filter gains differ slightly from librosa's
  Slaney filters, so absolute log-mel values differ by a near-constant
  per-band offset, while loss *rankings* agree (Spearman >= 0.95);
* frames are zero-padded at the ends instead of librosa's constant padding of
  the same length, so only the first and last frame differ;
* roll-off, flatness and centroid use essentia's definitions (flatness on the
  power spectrum), equal to librosa's within a few per cent;
* onset strength is spectral flux, tempo from ``PercivalBpmEstimator``;
  integrated loudness from ``LoudnessEBUR128`` (mono in the left channel).
"""

from __future__ import annotations

import numpy as np

from . import features as F
from .base import Analyzer


def _essentia_standard():
    import essentia
    essentia.log.infoActive = False      # silence the INFO line printed on import
    import essentia.standard as es
    return es


class EssentiaAnalyzer(Analyzer):
    """Features with essentia 2.1."""

    name = "essentia"

    def __init__(self):
        self.es = _essentia_standard()
        self._cache: dict = {}

    def _algos(self, sample_rate: int) -> dict:
        algos = self._cache.get(int(sample_rate))
        if algos is None:
            es, sr = self.es, float(sample_rate)
            algos = self._cache[int(sample_rate)] = {
                "window": es.Windowing(type="hann", size=F.N_FFT, normalized=False,
                                       zeroPhase=False),
                "spectrum": es.Spectrum(size=F.N_FFT),
                "mel": es.MelBands(numberBands=F.N_MELS, sampleRate=sr, inputSize=F.N_FFT // 2 + 1,
                                   lowFrequencyBound=0.0, highFrequencyBound=min(F.FMAX_HZ, sr / 2),
                                   type="power", normalize="unit_tri", warpingFormula="slaneyMel",
                                   weighting="linear"),
                "centroid": es.Centroid(range=sr / 2),
                "rolloff": es.RollOff(cutoff=0.85, sampleRate=sr),
                "flatness": es.Flatness(),
                "zcr": es.ZeroCrossingRate(),
                "rms": es.RMS(),
                "onset": es.OnsetDetection(method="flux", sampleRate=sr),
            }
        return algos

    def _frames(self, y):
        return self.es.FrameGenerator(np.asarray(y, dtype=np.float32), frameSize=F.N_FFT,
                                      hopSize=F.HOP, startFromZero=False,
                                      validFrameThresholdRatio=0.5)

    def mel_power(self, y, sample_rate):
        a = self._algos(sample_rate)
        bands = [a["mel"](a["spectrum"](a["window"](frame))) for frame in self._frames(y)]
        return np.asarray(bands, dtype=np.float64).T

    def frame_features(self, y, sample_rate, *, power=None):
        a = self._algos(sample_rate)
        rows = []
        for frame in self._frames(y):
            spec = a["spectrum"](a["window"](frame))
            rows.append((a["centroid"](spec), a["rolloff"](spec), a["zcr"](frame),
                         a["flatness"](spec * spec + np.float32(1e-20)), a["rms"](frame)))
        cols = np.asarray(rows, dtype=np.float64).T
        return dict(zip(("centroid_hz", "rolloff_hz", "zcr", "flatness", "rms"), cols))

    def onset_envelope(self, y, sample_rate):
        a = self._algos(sample_rate)
        phase = np.zeros(F.N_FFT // 2 + 1, dtype=np.float32)
        env = [a["onset"](a["spectrum"](a["window"](frame)), phase) for frame in self._frames(y)]
        return np.asarray(env, dtype=np.float64), sample_rate / F.HOP

    def tempo_bpm(self, y, sample_rate):
        est = self.es.PercivalBpmEstimator(sampleRate=int(sample_rate))
        return float(est(np.asarray(y, dtype=np.float32)))

    def loudness_lufs(self, y, sample_rate):
        stereo = np.zeros((np.size(y), 2), dtype=np.float32)
        stereo[:, 0] = y
        try:
            meter = self.es.LoudnessEBUR128(sampleRate=float(sample_rate))
            return float(meter(stereo)[2])
        except RuntimeError:      # rates essentia's meter refuses: use the shared BS.1770 code
            return super().loudness_lufs(y, sample_rate)
