"""Clean but unusual pairs that must work: a target shorter than the DI, a long pair, long
multichannel files; and the mistake that must not: a target that is the DI itself.

Audio: DI recordings vendored under tests/data/audio (see tests/data/SOURCES.md): the CC0
jazz DI (freesound user Sub-d, sound 49658), the ToobAmp guitar notes (MIT), the
gulmini/neuralfx inputs and the Steinmetz reverb input; targets are rendered from them by
the virtual Magicstomp's Mono Delay (220 ms, 40 % mix), so the true section is known.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from analyzers.loading import load_audio
from optimize import pairs as matching
from cli.auto_match_hil import main
from magicstomp.emulator import render, to_mono
from magicstomp.errors import AudioInputError
from magicstomp.patch import Patch

RATE_HZ = 44100
DELAY = Patch.init("Mono Delay").with_values(delay_time_ms=220.0, mix_pct=40)


def _wet(di: np.ndarray) -> np.ndarray:
    return to_mono(render(DELAY, di, RATE_HZ))


@pytest.fixture(scope="module")
def long_di(data_dir) -> np.ndarray:
    """About 60 s of different DI recordings one after the other (no repeats)."""
    audio = data_dir / "audio"
    parts = ["di-cc0-jazz/jazz.flac", "pair-gulmini-neuralfx/audio/input/001.flac",
             "pair-gulmini-neuralfx/audio/input/002.flac", "pair-steinmetz-reverb/input.flac",
             "di-toobamp-notes/Guitar-E2-2.flac", "pair-gulmini-neuralfx/audio/input/008.flac",
             "di-toobamp-notes/Guitar-B4.flac"]
    di = np.concatenate([load_audio(audio / p, sample_rate=RATE_HZ).samples for p in parts])
    assert 58 * RATE_HZ < di.size < 70 * RATE_HZ
    return 0.5 * di / np.max(np.abs(di))


def _write(folder, name, x):
    path = folder / name
    sf.write(path, x, RATE_HZ, subtype="FLOAT")
    return path


@pytest.mark.parametrize("start_s,length_s", [(30.0, 6.0), (3.0, 2.0), (50.0, 6.0)])
def test_a_target_shorter_than_the_di_is_matched_on_the_section_it_covers(
        long_di, tmp_path, start_s, length_s):
    wet = _wet(long_di)
    a, b = int(start_s * RATE_HZ), int((start_s + length_s) * RATE_HZ)
    target = _write(tmp_path, "target.wav", wet[a:b])
    di = _write(tmp_path, "di.wav", long_di)
    pair = matching.load_pair(target, di, sample_rate=RATE_HZ)
    section = pair.alignment
    assert section["di_section_start_s"] == pytest.approx(start_s, abs=0.002)
    assert section["di_section_end_s"] == pytest.approx(start_s + length_s, abs=0.002)
    assert pair.target.size == pair.di.size >= (length_s - 0.01) * RATE_HZ
    assert pair.alignment["follow_score"] > 0.5
    first = section["di_section_start_sample"]
    assert abs(first - a) <= 2
    np.testing.assert_allclose(pair.di, long_di[first:first + pair.di.size])
    expected = wet[first:first + pair.target.size]
    r = np.dot(pair.target, expected) / np.linalg.norm(pair.target) / np.linalg.norm(expected)
    assert r > 0.99
    assert any("shorter than the DI" in w for w in pair.warnings)


def test_two_seconds_of_a_six_second_performance_run_end_to_end(data_dir, tmp_path):
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(6.2 * sr)]
    target = _write(tmp_path, "target.wav", _wet(di)[2 * sr:4 * sr])
    di_path = _write(tmp_path, "di.wav", di)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(target), "--di-signal", str(di_path), "--out", str(out),
                                       "--session-name", "part", "--effect-type", "Mono Delay"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "part" / "part_session.json").read_text())
    assert doc["alignment"]["di_section_start_s"] == pytest.approx(2.0, abs=0.002)
    assert doc["alignment"]["length_s"] == pytest.approx(2.0, abs=0.01)
    assert doc["initial_loss"] < 1.0
    first = doc["alignment"]["di_section_start_sample"]
    assert abs(first - 2 * sr) <= 2
    saved, _ = sf.read(out / "part" / "part_di.wav")
    np.testing.assert_allclose(saved, di[first:first + saved.size], atol=1e-6)


@pytest.mark.parametrize("gain", [1.0, 0.25, -1.0])
def test_a_target_that_is_the_di_is_refused(data_dir, tmp_path, gain):
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[:3 * sr]
    target = _write(tmp_path, "target.wav", gain * di)
    di_path = _write(tmp_path, "di.wav", di)
    with pytest.raises(AudioInputError, match="the target is the DI itself"):
        matching.load_pair(target, di_path, sample_rate=RATE_HZ)
    with pytest.raises(AudioInputError, match="are the same file"):
        matching.load_pair(di_path, tmp_path / "." / "di.wav", sample_rate=RATE_HZ)


def test_a_processed_target_is_not_taken_for_the_di(data_dir, tmp_path):
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[:3 * sr]
    quiet_delay = Patch.init("Mono Delay").with_values(delay_time_ms=220.0, mix_pct=5)
    target = _write(tmp_path, "target.wav", to_mono(render(quiet_delay, di, sr)))
    pair = matching.load_pair(target, _write(tmp_path, "di.wav", di), sample_rate=RATE_HZ)
    assert pair.di.size > 2 * sr


def test_a_long_pair_is_cut_to_its_busiest_section(data_dir, tmp_path, monkeypatch):
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    target = _write(tmp_path, "target.wav", _wet(di))
    di_path = _write(tmp_path, "di.wav", di)
    monkeypatch.setattr(matching, "LONG_PAIR_S", 10.0)
    monkeypatch.setattr(matching, "LONG_SECTION_S", 3.0)
    pair = matching.load_pair(target, di_path, sample_rate=RATE_HZ)
    lo_s, hi_s = pair.alignment["long_pair_section_s"]
    assert pair.alignment["long_pair_s"] == pytest.approx(15.0, abs=0.1)
    assert hi_s - lo_s == pytest.approx(4.0, abs=0.01)          # 3 s and 1 s of pre-roll
    assert pair.di.size == pair.target.size == int(round((hi_s - lo_s) * sr))
    window = matching.choose_excerpt(di, sr, seconds=3.0)
    assert lo_s == pytest.approx((window.start - window.preroll) / sr, abs=0.01)
    np.testing.assert_allclose(pair.di, di[int(round(lo_s * sr)):][:pair.di.size])


def test_the_activity_of_a_long_di_is_computed_in_chunks_with_the_same_result(rng, monkeypatch):
    x = rng.standard_normal(20 * RATE_HZ) * np.repeat(rng.random(200), RATE_HZ // 10)
    whole = matching._activity(x, RATE_HZ)
    monkeypatch.setattr(matching, "_FLUX_CHUNK_FRAMES", 256)
    chunked = matching._activity(x, RATE_HZ)
    for a, b in zip(whole, chunked):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("channels", ["same", "inverted"])
def test_a_long_multichannel_file_is_folded_block_by_block(data_dir, tmp_path, monkeypatch,
                                                           channels):
    import analyzers.loading as loading

    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    right = di * 0.5 if channels == "same" else -di * 0.9
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([di, right], axis=1), sr, subtype="FLOAT")
    whole = loading.load_audio(path)
    monkeypatch.setattr(loading, "LONG_FILE_SAMPLES", 1000)
    monkeypatch.setattr(loading, "BLOCK_FRAMES", 4096)
    blocks = loading.load_audio(path)
    np.testing.assert_allclose(blocks.samples, whole.samples, atol=1e-7)
    assert blocks.warnings == whole.warnings and blocks.channels == 2
    assert ("cancel" in " ".join(blocks.warnings)) == (channels == "inverted")
