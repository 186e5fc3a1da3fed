"""Alignment: synthetic known offsets/polarity/level/reverb, envelope-only targets,
longer recordings, and the real pairs in the shared folder."""

import numpy as np
import pytest
import scipy.signal as ss

from analyzers.alignment import align, apply_alignment
from analyzers.loading import load_audio
from magicstomp.errors import AudioInputError

SR = 22050


def _plucks(rng, seconds=6.0, sr=SR):
    """A DI-like take: decaying harmonic notes at irregular times."""
    n = int(seconds * sr)
    out = np.zeros(n)
    t_s = 0.05
    while t_s < seconds - 0.3:
        f0 = rng.uniform(90, 500)
        length = int(rng.uniform(0.25, 0.8) * sr)
        t = np.arange(length) / sr
        note = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 6))
        start = int(t_s * sr)
        m = min(length, n - start)
        out[start:start + m] += (note * np.exp(-t / 0.25))[:m]
        t_s += rng.uniform(0.2, 0.6)
    return 0.3 * out / np.max(np.abs(out))


def _reverb_ir(rng, sr=SR, decay_s=0.25, tail_energy=0.5):
    t = np.arange(int(1.0 * sr)) / sr
    ir = rng.standard_normal(t.size) * np.exp(-t / decay_s)
    ir *= np.sqrt(tail_energy / np.sum(ir ** 2))
    ir[0] = 1.0
    return ir


def _shift(x, offset, length):
    out = np.zeros(length)
    if offset >= 0:
        m = max(0, min(length - offset, x.size))
        out[offset:offset + m] = x[:m]
    else:
        m = min(length, x.size + offset)
        out[:m] = x[-offset:-offset + m]
    return out


@pytest.fixture(scope="module")
def di():
    return _plucks(np.random.default_rng(7))


@pytest.mark.parametrize("offset_s", [-2.0, -0.3, 0.0, 0.0137, 1.0, 5.0])
def test_waveform_recovers_offset_polarity_level_with_reverb(di, offset_s):
    rng = np.random.default_rng(3)
    wet = ss.fftconvolve(di, _reverb_ir(rng))
    offset = int(round(offset_s * SR))
    target = -10 ** (-12 / 20) * _shift(wet, offset, di.size + SR + max(offset, 0))
    a = align(target, di, SR)
    assert a.method == "waveform"
    assert abs(a.offset_samples - offset) <= 0.001 * SR
    assert a.polarity == -1
    # -12 dB plus the tail's energy (+1.76 dB for a tail of half the direct energy)
    assert a.level_db == pytest.approx(-12 + 10 * np.log10(1.5), abs=1.0)
    assert a.confidence > 0.5


@pytest.mark.parametrize("offset_s", [-2.0, 0.5, 5.0])
def test_envelope_recovers_offset_when_waveforms_do_not_correlate(di, offset_s):
    """A vocoder-like target: noise shaped by the DI's envelope, plus a reverb tail."""
    rng = np.random.default_rng(11)
    env = np.sqrt(ss.lfilter([0.01], [1, -0.99], di ** 2))
    noisy = env * rng.standard_normal(di.size)
    wet = ss.fftconvolve(noisy, _reverb_ir(rng, decay_s=0.15, tail_energy=0.3))
    offset = int(round(offset_s * SR))
    target = 4.0 * _shift(wet, offset, di.size + SR + max(offset, 0))
    a = align(target, di, SR)
    assert a.method == "envelope"
    assert abs(a.offset_samples - offset) <= 0.010 * SR


def test_section_of_a_longer_recording(di):
    rng = np.random.default_rng(5)
    before, after = _plucks(rng, 5.0), _plucks(rng, 4.0)
    target = np.concatenate([before, 0.5 * di, after])
    a = align(target, di, SR)
    assert abs(a.offset_samples - before.size) <= 0.001 * SR
    assert a.section_start_s == pytest.approx(5.0, abs=0.01)
    assert a.section_end_s == pytest.approx(5.0 + di.size / SR, abs=0.01)


def test_apply_alignment_puts_the_target_on_the_di(di):
    offset = 3000
    target = -0.5 * _shift(di, offset, di.size + offset + 100)
    a = align(target, di, SR)
    placed = apply_alignment(target, a, di.size)
    np.testing.assert_allclose(placed, 0.5 * di, atol=1e-9)
    early = apply_alignment(_shift(di, -500, di.size), align(_shift(di, -500, di.size), di, SR),
                            di.size)
    np.testing.assert_allclose(early[500:], di[500:], atol=1e-9)
    assert np.all(early[:500] == 0)


def test_bad_input_messages(di):
    with pytest.raises(AudioInputError, match="silent"):
        align(np.zeros(SR * 2), di, SR)
    with pytest.raises(AudioInputError, match="expected mono"):
        align(np.zeros((SR, 2)), di, SR)


def test_steinmetz_pair_gives_documented_lag(data_dir):
    """SOURCES.md: best local lag +794 samples (18 ms), inverted; the target is wet-only."""
    folder = data_dir / "audio/pair-steinmetz-reverb"
    target, dry = load_audio(folder / "target.flac"), load_audio(folder / "input.flac")
    a = align(target.samples, dry.samples, dry.sample_rate)
    assert abs(a.offset_samples - 794) <= 0.001 * dry.sample_rate
    assert a.polarity == -1
    assert a.warnings     # it says that this pair is not reliably alignable


@pytest.mark.parametrize("name", ["001", "002", "008", "009"])
def test_gulmini_pairs_line_up_on_envelopes(data_dir, name):
    folder = data_dir / "audio/pair-gulmini-neuralfx/audio"
    target = load_audio(folder / f"target/{name}.flac")
    dry = load_audio(folder / f"input/{name}.flac")
    a = align(target.samples, dry.samples, dry.sample_rate)
    assert abs(a.envelope_offset_samples) <= 0.005 * dry.sample_rate
    assert abs(a.offset_samples) <= 0.005 * dry.sample_rate
    assert a.confidence > 0.4
    assert 12 <= a.level_db <= 21       # "targets are ~12-20 dB louder"
