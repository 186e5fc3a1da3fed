"""The audibility rule (magicstomp/emulator/audible.py) and the projected truth (optimize/diagnosis.py)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from magicstomp.emulator.audible import audibility, audible_keys, change_db, probe_raws
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.diagnosis import diagnose, projected_truth

SR = 44100


@pytest.fixture(scope="module")
def di(data_dir):
    x, sr = sf.read(str(data_dir / "audio" / "pair-gulmini-neuralfx" / "audio" / "input" /
                         "001.flac"), dtype="float64")
    x = x[SR:3 * SR]
    return 0.5 * x / np.max(np.abs(x))


def test_change_db_known_answers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=4096)
    assert change_db(x, x) == -np.inf
    assert change_db(x, 2.0 * x) == -np.inf                       # a level change is no tone
    assert change_db(x, 2.0 * x, match_gain=False) == pytest.approx(0.0, abs=1e-9)
    y = x + 0.01 * rng.normal(size=4096)                          # noise 40 dB down
    assert change_db(x, y) == pytest.approx(-40.0, abs=0.5)


def test_probe_moves_a_tenth_of_the_range_and_stays_inside():
    p = Patch.init("Mono Delay").effect_type.param("mix_pct")
    span = p.max_raw - p.min_raw
    step = round(0.1 * span)
    assert probe_raws(p, p.min_raw) == [p.min_raw + step]
    assert probe_raws(p, p.max_raw) == [p.max_raw - step]
    waveform = Patch.init("Amp Multi (Chorus)").effect_type.param("chorus_waveform")
    assert probe_raws(waveform, 0) == [1]                        # at least one raw step


def test_silent_sections_are_inaudible_and_their_level_is_audible(di):
    patch = Patch.init("Amp Multi (Chorus)")          # chorus, delay and reverb levels at 0
    patch.set("chorus_level", 0.0).set("delay_level", 0.0).set("reverb_level", 0.0)
    keys = audible_keys(patch, di, SR)
    for silent in ("chorus_speed", "chorus_depth", "feedback_delay_time_ms", "reverb_time_s"):
        assert silent not in keys, silent
    for heard in ("preamp_gain", "treble", "chorus_level", "delay_level", "amplifier_type"):
        assert heard in keys, heard
    assert "master_volume" not in keys                # a pure output level (gain matched)
    patch.set("chorus_level", 7.0)                     # the chorus heard, at depth 0
    changes = audibility(patch, di, SR, keys=("chorus_depth", "chorus_speed"))
    assert changes["chorus_depth"] > -40.0 and changes["chorus_speed"] == -np.inf
    patch.set("chorus_depth", 5.0)                     # with depth, the LFO rate is heard
    assert audibility(patch, di, SR, keys=("chorus_speed",))["chorus_speed"] > -40.0


def test_projected_truth_takes_searched_fields_from_the_truth_and_the_rest_from_the_start():
    space = ParameterSpace("Amp Multi (Chorus)")
    start, truth = Patch.init("Amp Multi (Chorus)"), Patch.init("Amp Multi (Chorus)")
    truth.set("treble", 9.0).set("master_tone", 1.0).set("amplifier_type", "Lead 1")
    truth.set("feedback_delay_time_ms", 10.0)          # below the 30 ms safety limit
    projected = projected_truth(truth, start, space)
    assert projected.get("treble") == 9.0
    assert projected.get("master_tone") == start.get("master_tone")   # not searched
    assert projected.get("amplifier_type") == start.get("amplifier_type")
    assert projected.get("feedback_delay_time_ms") == pytest.approx(30.0, abs=0.1)
    screened = projected_truth(truth, start, space, extra_keys=("amplifier_type",))
    assert screened.get("amplifier_type") == "Lead 1"
    assert screened.get("master_tone") == start.get("master_tone")
    with pytest.raises(ValueError):
        projected_truth(Patch.init("Mono Delay"), start, space)


def test_diagnosis_splits_the_blame():
    assert diagnose(truth_loss=0.1, projected_loss=0.1, result_loss=0.25) == "reached"
    assert diagnose(truth_loss=0.1, projected_loss=0.15, result_loss=0.6) == "search failed"
    assert diagnose(truth_loss=0.1, projected_loss=0.9, result_loss=0.6) == "space too narrow"
    assert diagnose(truth_loss=0.1, projected_loss=0.5, result_loss=0.6) == "both"
