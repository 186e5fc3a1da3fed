"""Virtual-first search: budgets kept apart and respected, never worse than the start; the
quick benchmark end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hil.rig import VirtualRig
from magicstomp.emulator import UnitVariant
from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.objective import MatchLoss
from optimize.virtual_first import model_evaluator, virtual_first
from signals import SR

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "virtual_first.py"


@pytest.fixture(scope="module")
def case():
    """An Amp Multi (Chorus) target on a drawn unit, 0.5 s of plucked notes."""
    from optimize.unit_probes import make_stimulus
    di = make_stimulus("plucks", 0.5, SR, -12.0)
    unit = VirtualRig(SR, variant=UnitVariant.draw(4))
    hidden = Patch.init(0x37).with_values(treble=8.0, bass=3.0, chorus_level=6.0,
                                          chorus_speed=4.0, chorus_depth=6.0)
    start = Patch.init(0x37)
    loss = MatchLoss(unit.render(hidden, di), SR, di=di)
    counts = {"takes": 0, "model": 0}

    def on_unit(patch):
        counts["takes"] += 1
        return loss(unit.render(patch, di))

    model = model_evaluator(loss, di, SR)

    def on_model(patch):
        counts["model"] += 1
        return model(patch)

    return dict(space=ParameterSpace(0x37), start=start, on_unit=on_unit, on_model=on_model,
                counts=counts, loss=loss, di=di, unit=unit)


@pytest.mark.parametrize("takes, evals", [(6, 25), (1, 10), (4, 0)])
def test_budgets_respected_and_counted_apart(case, takes, evals):
    case["counts"].update(takes=0, model=0)
    result = virtual_first(case["space"], case["start"], evaluate=case["on_unit"],
                           model_evaluate=case["on_model"], budget_takes=takes,
                           budget_model=evals)
    assert result.takes == case["counts"]["takes"] <= takes
    assert result.model_evaluations == case["counts"]["model"] <= evals
    assert len(result.history) == result.takes and result.history[0].label == "start"
    # never worse than the start, and the reported loss is what the unit gives
    assert result.best_loss <= result.initial_loss
    assert result.best_loss == pytest.approx(
        float(case["loss"](case["unit"].render(result.best_patch, case["di"])).total))
    assert result.best_after(result.takes) == pytest.approx(result.best_loss)


def test_model_candidates_beat_the_start_on_the_unit(case):
    seen = []
    result = virtual_first(case["space"], case["start"], evaluate=case["on_unit"],
                           model_evaluate=case["on_model"], budget_takes=8, budget_model=40,
                           on_take=lambda take, state: seen.append((take.index, state.best_loss)))
    assert [i for i, _ in seen] == list(range(result.takes))
    assert seen[-1][1] == result.best_loss
    assert result.best_loss < 0.9 * result.initial_loss
    assert result.takes_to(result.best_loss) <= result.takes
    assert result.confirmed and result.confirmed == sorted(result.confirmed)


def test_a_model_that_lies_cannot_make_it_worse(case):
    """A model that prefers exactly the wrong patches: the start is kept."""
    def liar(patch):
        return -float(case["loss"](case["unit"].render(patch, case["di"])).total)

    result = virtual_first(case["space"], case["start"], evaluate=case["on_unit"],
                           model_evaluate=liar, budget_takes=3, budget_model=15)
    assert result.best_loss <= result.initial_loss
    if result.best_loss == result.initial_loss:
        assert result.best_patch == case["start"]


def test_bad_budgets_are_refused(case):
    for kwargs in ({"budget_takes": 0, "budget_model": 5},
                   {"budget_takes": 3, "budget_model": -1},
                   {"budget_takes": 2.5, "budget_model": 5}):
        with pytest.raises(ParameterError, match="expected a whole number"):
            virtual_first(case["space"], case["start"], evaluate=case["on_unit"],
                          model_evaluate=case["on_model"], **kwargs)


@pytest.mark.slow
def test_quick_benchmark_runs(tmp_path, data_dir):
    spec = importlib.util.spec_from_file_location("virtual_first_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["mq_cases"].DATA = data_dir
    out = tmp_path / "vf"
    assert module.main(["--quick", "--workers", "1", "--out", str(out)]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    summary = doc["summary"]
    assert summary["cases"] == 2 and 0.0 <= summary["share_within_30_takes"] <= 1.0
    assert set(summary["median_takes_to_rig_only_loss"]) == {"vf_nominal", "vf_profiled"}
    assert set(summary["profile_distance_reduction"]) >= {"tone", "amp/drive", "levels"}
    assert "hardware_match_wall_s" in summary
    for row in doc["cases"]:
        for label in ("vf_nominal", "vf_profiled"):
            run = row[label]
            assert run["takes"] <= doc["config"]["vf_takes"]
            assert run["model_evaluations"] <= doc["config"]["model_evals"]
            assert run["final_loss"] <= row["start_loss"] + 1e-12
        assert np.isfinite(row["rig_only"]["final_loss"])
    assert "Virtual-first" in out.with_suffix(".md").read_text()
