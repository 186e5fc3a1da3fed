"""auto_match_hil --start-patch FILE|NAME, and the published patch is never worse than the start.

Audio: 2.5 s of the CC0 jazz DI (tests/data/audio/di-cc0-jazz, freesound user Sub-d,
sound 49658, CC0) and its render by the virtual Magicstomp through a Mono Delay patch.
"""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from magicstomp.emulator import render, to_mono
from magicstomp.files import read_syx, write_syx
from magicstomp.patch import Patch
from magicstomp.presets import find_preset, patch_from_file_or_preset
from optimize import search
from optimize.search import SearchResult, Take, never_worse

RATE_HZ = 44100
TARGET_VALUES = {"delay_time_ms": 220.0, "feedback_gain_pct": 30, "mix_pct": 40}
#: the user's own patch: the same type, another dial setting
USER_VALUES = {"delay_time_ms": 300.0, "feedback_gain_pct": 10, "mix_pct": 25}


def same_settings(a, b) -> bool:
    """Same type, knobs and parameter values (the name is the session's: --session-name)."""
    return a.effect_type == b.effect_type and a.knob_keys() == b.knob_keys() and \
        a.values() == b.values()


@pytest.fixture(scope="module")

def pair(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("start")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(2.7 * sr)]
    target = to_mono(render(Patch.init("Mono Delay").with_values(**TARGET_VALUES), di, sr))
    sf.write(str(folder / "di.wav"), di, sr, subtype="FLOAT")
    sf.write(str(folder / "target.wav"), target, sr, subtype="FLOAT")
    return folder / "target.wav", folder / "di.wav"


@pytest.fixture
def user_patch():
    return Patch.init("Mono Delay").with_values(**USER_VALUES)


def _run(pair, out, *extra):
    args = [str(pair[0]), "--di-signal", str(pair[1]), "--out", str(out), "--session-name", "s",
            "--no-residual-eq", *extra]
    return CliRunner().invoke(main, args)


def _session(out):
    folder = out / "s"
    doc = json.loads((folder / "s_session.json").read_text())
    report = (folder / "s_report.txt").read_text()
    return (Patch.load(folder / "s_initial.json"), Patch.load(folder / "s_optimized.json"),
            doc, report)


@pytest.mark.parametrize("suffix", [".json", ".syx"])
def test_start_patch_from_a_file_is_take_0(pair, tmp_path, user_patch, suffix):
    path = tmp_path / f"mine{suffix}"
    if suffix == ".json":
        path.write_text(user_patch.to_json())
    else:
        write_syx(path, user_patch)
    result = _run(pair, tmp_path / "out", "--start-patch", str(path), "--optimize",
                  "--optimizer", "coordinate", "--budget", "4")
    assert result.exit_code == 0, result.output + result.stderr
    initial, optimized, doc, report = _session(tmp_path / "out")
    assert same_settings(initial, user_patch)        # not the analysis' patch
    assert initial.name == "s"                       # named after the session
    assert doc["effect_type"]["name"] == "Mono Delay"
    assert f"started from {path}" in report and any("--start-patch" in n for n in doc["notes"])
    assert doc["takes"] == 4 and doc["final_loss"] <= doc["initial_loss"]
    assert optimized.effect_type.name == "Mono Delay"


def test_start_patch_by_preset_name_takes_the_presets_type(pair, tmp_path):
    preset = find_preset("TapeEcho")
    result = _run(pair, tmp_path / "out", "--start-patch", "tape echo", "--optimize",
                  "--optimizer", "coordinate", "--budget", "3")
    assert result.exit_code == 0, result.output + result.stderr
    initial, optimized, doc, report = _session(tmp_path / "out")
    assert same_settings(initial, preset.patch())
    assert initial.effect_type.name == optimized.effect_type.name == "Mod. Delay"
    assert "factory preset guitar 54 TapeEcho" in report


def test_a_bad_preset_name_is_one_sentence_with_close_matches(pair, tmp_path):
    result = _run(pair, tmp_path / "out", "--start-patch", "Tape Ecko")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == ["Error: 'Tape Ecko' is neither a patch file nor a factory preset; "
                      "did you mean TapeEcho, VintageEcho?"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_missing_patch_file_is_one_line(pair, tmp_path):
    result = _run(pair, tmp_path / "out", "--start-patch", str(tmp_path / "gone.syx"))
    assert result.exit_code == 1
    assert "gone.syx" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_another_effect_type_than_the_start_patchs_is_a_usage_error(pair, tmp_path, user_patch):
    path = tmp_path / "mine.json"
    path.write_text(user_patch.to_json())
    result = _run(pair, tmp_path / "out", "--start-patch", str(path), "--effect-type", "Reverb")
    assert result.exit_code == 2
    assert "--effect-type 'Reverb' differs from the --start-patch's type 'Mono Delay'" \
        in result.stderr
    same = _run(pair, tmp_path / "out", "--start-patch", str(path), "--effect-type", "mono delay")
    assert same.exit_code == 0, same.stderr


def test_patch_from_file_or_preset_reads_the_vendored_syx(data_dir):
    path = data_dir / "derived_patches" / "derived_guitar_54_TapeEcho_slot.syx"
    patch, label = patch_from_file_or_preset(path)
    (assembled,) = read_syx(path)
    assert patch == Patch.from_payload(assembled.payload) and label == str(path)
    assert patch_from_file_or_preset("guitar 54")[0] == find_preset("TapeEcho").patch()


# -- never worse than the start ------------------------------------------------------------
def _worse_strategy(space, start, recorder, *, rng, **_ignored):
    """A search that ends worse than it started: it adopts a far-off patch as its best
    (as a noisy re-measurement mean can), the failure the guarantee exists for."""
    far = start.with_values(mix_pct=100, feedback_gain_pct=90, delay_time_ms=900.0)
    loss = recorder.evaluate(far, "far")
    recorder.adopt_best(far, max(loss, 10.0 * recorder.initial_loss))


def test_a_search_that_ends_worse_publishes_the_start(pair, tmp_path, user_patch, monkeypatch):
    monkeypatch.setitem(search.STRATEGIES, "coordinate", _worse_strategy)
    path = tmp_path / "mine.json"
    path.write_text(user_patch.to_json())
    result = _run(pair, tmp_path / "out", "--start-patch", str(path), "--optimize",
                  "--optimizer", "coordinate", "--budget", "3")
    assert result.exit_code == 0, result.output + result.stderr
    initial, optimized, doc, report = _session(tmp_path / "out")
    assert optimized == initial and same_settings(initial, user_patch)
    assert doc["final_loss"] == doc["initial_loss"] and doc["best_take"] == 0
    assert "The search ended worse" in result.stdout
    assert "the starting patch is published unchanged" in report


def test_never_worse_keeps_a_better_result_and_replaces_a_worse_one(user_patch):
    better = user_patch.with_values(mix_pct=40)
    history = [Take(0, user_patch.values(), 1.0, {}, 0.0, "start"),
               Take(1, better.values(), 0.5, {}, 0.0, "x")]
    good = SearchResult(better, 0.5, 1.0, history, "budget", 1)
    assert never_worse(good, user_patch) is good
    bad = SearchResult(better, 1.2, 1.0, history, "budget", 1)
    kept = never_worse(bad, user_patch)
    assert (kept.best_patch, kept.best_loss, kept.best_index, kept.ended_worse_loss) == \
        (user_patch, 1.0, 0, 1.2)
