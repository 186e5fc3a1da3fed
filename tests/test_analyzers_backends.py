"""Backends: the factory, librosa-equivalence of the fast front end, and the
librosa/essentia parity of features and of the loss ranking."""

import numpy as np
import pytest
import scipy.signal as ss
from scipy.stats import spearmanr

from analyzers import factory
from analyzers.features import MelFrontend
from analyzers.loading import load_audio
from magicstomp.errors import ParameterError
from optimize.loss import SeedLoss

SR = 44100


@pytest.fixture(scope="module")
def jazz(data_dir):
    return load_audio(data_dir / "audio/di-cc0-jazz/jazz.flac").samples[:3 * SR]


def test_factory_default_env_and_errors(monkeypatch):
    monkeypatch.delenv(factory.ENV_VAR, raising=False)
    assert factory.get_analyzer().name == "librosa"
    monkeypatch.setenv(factory.ENV_VAR, "essentia")
    assert factory.backend_name() == "essentia"
    assert factory.backend_name("librosa") == "librosa"      # the argument wins
    monkeypatch.setenv(factory.ENV_VAR, "madmom")
    with pytest.raises(ParameterError, match=r"'madmom' \(from \$MAGICSTOMP_ANALYZER\) is unknown"):
        factory.get_analyzer()
    with pytest.raises(ParameterError, match="already registered"):
        factory.register("librosa", "x:Y")


def test_missing_library_fails_only_for_that_choice(monkeypatch):
    monkeypatch.setitem(factory.BACKENDS, "ghost", "no_such_module_xyz:Ghost")
    with pytest.raises(ParameterError, match="needs a library that is not installed"):
        factory.get_analyzer("ghost")
    assert factory.get_analyzer("librosa").name == "librosa"


@pytest.mark.parametrize("rate", [44100, 48000])
def test_fast_mel_equals_librosa(rate, rng):
    import librosa
    y = rng.standard_normal(rate * 2)
    ours = MelFrontend(rate, dtype=np.float64).mel_power(y)
    ref = librosa.feature.melspectrogram(y=y, sr=rate, n_fft=2048, hop_length=512, n_mels=64,
                                         fmax=8000.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9 * ref.max())
    fast = MelFrontend(rate).mel_power(y)            # float32 default
    np.testing.assert_allclose(fast, ref, rtol=1e-3, atol=1e-5 * ref.max())


def test_features_agree_between_backends(jazz):
    pytest.importorskip("essentia")
    a = factory.get_analyzer("librosa").describe(jazz, SR)
    b = factory.get_analyzer("essentia").describe(jazz, SR)
    assert b["centroid_hz"] == pytest.approx(a["centroid_hz"], rel=0.05)
    assert b["zcr"] == pytest.approx(a["zcr"], rel=0.10)     # essentia counts sign changes differently at zeros
    assert b["loudness_lufs"] == pytest.approx(a["loudness_lufs"], abs=0.5)
    assert b["rms_db"] == pytest.approx(a["rms_db"], abs=1e-6)
    mel_a = factory.get_analyzer("librosa").mel_power(jazz, SR)
    mel_b = factory.get_analyzer("essentia").mel_power(jazz, SR)
    n = min(mel_a.shape[1], mel_b.shape[1])
    diff_db = 10 * np.log10((mel_b[:, 1:n - 1] + 1e-10) / (mel_a[:, 1:n - 1] + 1e-10))
    loud = mel_a[:, 1:n - 1] > 1e-4 * mel_a.max()
    assert np.median(np.abs(diff_db[loud])) < 0.5      # same filters up to small offsets


def _renders(x):
    """22 'renders' of the DI at graded distances: EQ, drive, echo and their mixes."""
    out = []
    for cutoff_hz in (6000, 3000, 1500, 800, 400):
        out.append(ss.sosfilt(ss.butter(2, cutoff_hz, fs=SR, output="sos"), x))
    for hp_hz in (100, 300, 900):
        out.append(ss.sosfilt(ss.butter(2, hp_hz, "high", fs=SR, output="sos"), x))
    for drive in (2, 5, 15, 40):
        out.append(np.tanh(drive * x) / drive)
    for delay_ms, gain in ((80, 0.2), (80, 0.5), (250, 0.3), (250, 0.7)):
        k = int(delay_ms * SR / 1000)
        y = x.copy()
        y[k:] += gain * x[:-k]
        out.append(y)
    for drive, cutoff_hz in ((5, 2000), (20, 1000), (3, 5000), (10, 3000), (40, 600), (2, 8000)):
        out.append(ss.sosfilt(ss.butter(2, cutoff_hz, fs=SR, output="sos"), np.tanh(drive * x)))
    return out


def test_loss_ranking_parity(jazz):
    pytest.importorskip("essentia")
    renders = _renders(jazz)
    assert len(renders) >= 20
    lib = SeedLoss(jazz, SR, backend="librosa")
    ess = SeedLoss(jazz, SR, backend="essentia")
    a = [lib(r).total for r in renders]
    b = [ess(r).total for r in renders]
    rho = spearmanr(a, b).correlation
    assert rho >= 0.95, (rho, a, b)
