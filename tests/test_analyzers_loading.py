"""Loading: formats, rates, mono fold, resampling and every bad-file message."""

import numpy as np
import pytest
import soundfile as sf

from analyzers.loading import fold_to_mono, load_audio, match_lengths
from magicstomp.errors import AudioInputError


def _sine(freq_hz, rate, seconds=2.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq_hz * t)


@pytest.mark.parametrize("fmt,subtype,ext", [("WAV", "PCM_16", "wav"), ("WAV", "PCM_24", "wav"),
                                             ("WAV", "FLOAT", "wav"), ("FLAC", "PCM_16", "flac"),
                                             ("AIFF", "PCM_24", "aiff")])
def test_formats_read_back(tmp_path, fmt, subtype, ext):
    x = _sine(440, 44100)
    path = tmp_path / f"a.{ext}"
    sf.write(path, x, 44100, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.sample_rate == 44100 and audio.channels == 1
    assert audio.duration_s == pytest.approx(2.0)
    assert np.max(np.abs(audio.samples - x)) < 1e-3


def test_resampled_sine_keeps_its_frequency(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _sine(1000, 96000), 96000, subtype="PCM_24")
    audio = load_audio(path, sample_rate=44100)
    assert audio.sample_rate == 44100 and audio.source_rate == 96000
    spec = np.abs(np.fft.rfft(audio.samples * np.hanning(audio.samples.size)))
    peak_hz = np.argmax(spec) * 44100 / audio.samples.size
    assert peak_hz == pytest.approx(1000, abs=1.0)
    assert np.sqrt(np.mean(audio.samples[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_stereo_is_the_mean_of_channels(tmp_path):
    left, right = _sine(440, 48000), _sine(660, 48000, amp=0.2)
    path = tmp_path / "s.wav"
    sf.write(path, np.column_stack([left, right]), 48000, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.channels == 2 and not audio.warnings
    np.testing.assert_allclose(audio.samples, 0.5 * (left + right), atol=1e-6)


def test_cancelling_stereo_takes_the_louder_channel_and_warns():
    x = _sine(440, 48000)
    warnings = []
    mono = fold_to_mono(np.column_stack([x, -0.9 * x]), warnings=warnings)
    np.testing.assert_allclose(mono, x)
    assert "cancel" in warnings[0]


def test_clipping_warns(tmp_path):
    x = np.clip(_sine(100, 44100, amp=1.5), -1, 1)
    path = tmp_path / "c.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    assert any("clipping" in w for w in load_audio(path).warnings)


def test_missing_file(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_unreadable_file(tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioInputError, match="cannot be read as audio"):
        load_audio(path)


def test_silence(tmp_path):
    path = tmp_path / "z.wav"
    sf.write(path, np.zeros(48000 * 2), 48000)
    with pytest.raises(AudioInputError, match="silent"):
        load_audio(path)


def test_nan_and_inf(tmp_path):
    x = _sine(440, 48000)
    x[100] = np.nan
    x[200] = np.inf
    path = tmp_path / "n.wav"
    sf.write(path, x, 48000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        load_audio(path)


def test_shorter_than_one_second(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _sine(440, 48000, seconds=0.5), 48000)
    with pytest.raises(AudioInputError, match=r"0\.50 s long; expected at least 1 s"):
        load_audio(path)


def test_match_lengths_trims_and_pads():
    a, b = np.ones(10), np.ones(7)
    a2, b2, report = match_lengths(a, b)
    assert a2.size == b2.size == 7 and report["trimmed_samples"] == 3 and report["which"] == "a"
    a3, b3, report = match_lengths(a, b, mode="pad")
    assert a3.size == b3.size == 10 and report["padded_samples"] == 3 and report["which"] == "b"
    assert np.all(b3[7:] == 0)
    with pytest.raises(AudioInputError, match="length policy"):
        match_lengths(a, b, mode="stretch")


def test_real_files_load(data_dir):
    flac = load_audio(data_dir / "audio/di-toobamp-notes/Guitar-E2.flac", sample_rate=44100)
    assert flac.source_rate == 48000 and flac.sample_rate == 44100
    assert flac.duration_s == pytest.approx(5.31, abs=0.01)
    stereo = load_audio(data_dir / "audio/pair-gulmini-neuralfx/audio/target/001.flac")
    assert stereo.channels == 2 and stereo.duration_s == pytest.approx(7.45, abs=0.01)
