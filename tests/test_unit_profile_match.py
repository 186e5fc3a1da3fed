"""``auto_match_hil --unit-profile``: the search runs on the profiled model, the rig confirms.

The rig is the virtual Magicstomp playing as a drawn unit variant (``--virtual-variant``),
the stand-in for a real unit whose knobs do not do exactly what the nominal model says.
The profile here is written straight from the variant (the fit itself is tested in
tests/test_unit_profile.py), so what is checked is the wiring: the plan's model renders
through the profile's variant, the search stage spends model evaluations, the rig's takes
stay within --budget, and the result is never worse than the start.
"""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from magicstomp.emulator import render, to_mono
from magicstomp.emulator.variants import UnitVariant
from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.match import match
from optimize.match_plan import MatchPlan
from optimize.pairs import Pair
from optimize.unit_profile import UnitProfile

RATE_HZ = 44100
UNIT_SEED = 3


@pytest.fixture(scope="module")
def files(data_dir, tmp_path_factory):
    """3.5 s of the jazz DI, its Mono Delay target through the drawn unit, and a profile."""
    folder = tmp_path_factory.mktemp("unit_profile_match")
    x, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = (x.mean(axis=1) if x.ndim > 1 else x)[int(0.2 * sr):int(3.7 * sr)]
    unit = UnitVariant.draw(UNIT_SEED)
    truth = Patch.init("Mono Delay").with_values(delay_time_ms=240.0, feedback_gain_pct=35,
                                                 mix_pct=45)
    sf.write(str(folder / "di.wav"), di, sr, subtype="FLOAT")
    sf.write(str(folder / "target.wav"), to_mono(render(truth, di, sr, variant=unit)), sr,
             subtype="FLOAT")
    UnitProfile(variant=unit, sections={}, fitted=[], unseen=[]).save(folder / "unit.json")
    return folder


def _run(files, out, *extra):
    return CliRunner().invoke(main, [str(files / "target.wav"), "--di-signal",
                                     str(files / "di.wav"), "--out", str(out),
                                     "--session-name", "s", "--optimize",
                                     "--effect-type", "Mono Delay", "--budget", "8",
                                     "--virtual-variant", str(UNIT_SEED), *map(str, extra)])


def test_the_search_runs_on_the_profiled_model_and_the_rig_confirms(files, tmp_path):
    result = _run(files, tmp_path, "--unit-profile", files / "unit.json", "--model-budget", 60)
    assert result.exit_code == 0, result.output + str(result.exception)
    doc = json.loads((tmp_path / "s" / "s_session.json").read_text())
    assert doc["takes"] <= 8 and doc["budget_takes"] == 8
    assert 30 <= doc["model_evaluations_by_stage"]["search"] <= doc["model_evaluations"] <= 60
    assert doc["final_loss"] <= doc["initial_loss"]
    report = (tmp_path / "s" / "s_report.txt").read_text()
    assert "virtual-first: " in report and "model evaluations proposed" in report


def test_without_a_profile_the_search_spends_no_model_evaluation(files, tmp_path):
    result = _run(files, tmp_path, "--model-budget", 60)
    assert result.exit_code == 0, result.output + str(result.exception)
    doc = json.loads((tmp_path / "s" / "s_session.json").read_text())
    assert "search" not in doc["model_evaluations_by_stage"]


def test_a_damaged_profile_is_one_sentence(files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = _run(files, tmp_path / "out", "--unit-profile", bad)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "bad.json" in errors[0], result.output
    assert not (tmp_path / "out" / "s").exists()


def test_profile_and_no_profile_together_is_a_usage_error(files, tmp_path):
    result = _run(files, tmp_path, "--unit-profile", files / "unit.json", "--no-unit-profile")
    assert result.exit_code == 2 and "contradict" in result.output


def test_on_hardware_the_profile_in_out_is_the_default(files, tmp_path):
    from cli.auto_match_hil import UNIT_PROFILE_FILE, _unit_profile
    opts = {"unit_profile": None, "no_unit_profile": False, "out_dir": tmp_path}
    assert _unit_profile(opts, hardware=True) is None
    (tmp_path / UNIT_PROFILE_FILE).write_text((files / "unit.json").read_text())
    assert _unit_profile(opts, hardware=True) == tmp_path / UNIT_PROFILE_FILE
    assert _unit_profile(opts, hardware=False) is None          # the virtual rig: opt in
    assert _unit_profile(dict(opts, no_unit_profile=True), hardware=True) is None


def test_the_plan_refuses_a_non_boolean_virtual_first():
    with pytest.raises(ParameterError, match="virtual_first='yes' is not allowed"):
        MatchPlan(effect_type="Mono Delay", virtual_first="yes")


def test_virtual_first_in_the_library_keeps_the_take_budget(files):
    x, _ = sf.read(str(files / "di.wav"), dtype="float64")
    target, _ = sf.read(str(files / "target.wav"), dtype="float64")
    from hil.rig import VirtualRig
    plan = MatchPlan(effect_type="Mono Delay", budget_takes=6, model_budget=40,
                     model_variant=UnitVariant.draw(UNIT_SEED), virtual_first=True)
    with VirtualRig(RATE_HZ, variant=UNIT_SEED) as rig:
        result = match(plan, Pair(target=target, di=x, sample_rate=RATE_HZ), rig)
    assert result.takes <= 6 and result.model_evaluations <= 40
    assert result.model_by_stage["search"] >= 20
    assert result.best_loss <= result.initial_loss
