"""``match()`` in the library (optimize/match.py): its plan, its stages, its two budgets.

Known answers: the target is the CC0 jazz DI (tests/data/audio/di-cc0-jazz, clean; see
tests/data/SOURCES.md) rendered by the virtual Magicstomp through a known Mono Delay
patch; the match sees only the target and the DI.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from hil.rig import VirtualRig
from magicstomp.emulator import render, to_mono
from magicstomp.emulator.variants import UnitVariant
from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize import search
from optimize.match import STAGES, match
from optimize.match_plan import MatchPlan, ModelBudget, ModelBudgetExhausted
from optimize.pairs import Pair

RATE_HZ = 44100
DELAY_VALUES = {"delay_time_ms": 220.0, "feedback_gain_pct": 30, "mix_pct": 40}


@pytest.fixture(scope="module")
def pair(data_dir):
    """4 s of the jazz DI and its Mono Delay target (matched on a 3 s excerpt)."""
    x, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == RATE_HZ
    di = (x.mean(axis=1) if x.ndim > 1 else x)[int(0.2 * sr):int(4.2 * sr)]
    truth = Patch.init("Mono Delay").with_values(**DELAY_VALUES)
    target = to_mono(render(truth, di, RATE_HZ))
    return Pair(target=target, di=di, sample_rate=RATE_HZ)


@pytest.fixture(scope="module")
def rig():
    with VirtualRig(sample_rate=RATE_HZ) as unit:
        yield unit


def test_a_small_mono_delay_match_ends_no_worse_than_it_started_within_both_budgets(pair, rig):
    plan = MatchPlan(effect_type="Mono Delay", budget_takes=8, model_budget=30, excerpt_s=3.0)
    stages, takes = [], []
    result = match(plan, pair, rig, on_take=lambda take, rec: takes.append(take.index),
                   on_stage=lambda stage, state: stages.append(stage))
    assert stages == [s for s in STAGES if s != "type_screen"]    # the type was given
    assert result.best_patch.effect_type.name == "Mono Delay"
    assert result.takes <= 8 and result.budget_takes == 8
    assert takes == list(range(len(takes))) and len(takes) >= 7    # the search's takes, in order
    assert result.best_loss <= result.initial_loss
    assert result.best_loss < result.bypass                         # the echo is closer than dry
    assert result.model_evaluations == 0                             # no type screen, no EQ
    assert result.residual_eq == {"skipped": "Mono Delay has no EQ controls"}
    assert result.excerpt.samples == 3 * RATE_HZ


@pytest.mark.parametrize("model_budget", [30, 10])
def test_the_residual_eq_fits_on_the_model_only_within_the_model_budget(pair, rig, model_budget):
    """Amp Simulator has five EQ controls: a fit may need 1 + 2 x (5 + 1) = 13 renders, and
    3 more choose its strength (the search's best, the fit, half the fit)."""
    plan = MatchPlan(effect_type="Amp Simulator", budget_takes=6, model_budget=model_budget,
                     excerpt_s=3.0)
    result = match(plan, pair, rig)
    assert result.takes <= 6 and result.best_loss <= result.initial_loss
    if model_budget >= 16:
        assert 0 < result.model_by_stage["residual EQ"] <= 16
        assert result.model_evaluations <= model_budget
        assert "residual_rms_db_before" in result.residual_eq
        assert result.residual_eq["strength"] in ("full", "half")
        assert set(result.residual_eq["model_losses"]) == {"search", "fit", "half"}
    else:
        assert result.model_evaluations == 0
        assert result.residual_eq["skipped"].startswith("the model budget is spent (10 "
                                                         "evaluations left, the fit may need 16)")


def test_the_type_screen_spends_model_evaluations_not_takes_within_the_model_budget(pair, rig):
    plan = MatchPlan(budget_takes=6, model_budget=12, excerpt_s=3.0, residual_eq=False)
    result = match(plan, pair, rig)
    assert result.model_evaluations == result.model_by_stage["type screen"] == 12
    assert result.type_screen.evaluations == 12 and result.type_screen.rig_takes == 2
    assert result.takes <= 6 - 1        # the second screened type's take counts in the budget
    assert result.best_loss <= result.initial_loss
    assert any("chosen by measurement" in note for note in result.notes)


def test_a_model_budget_of_zero_makes_no_model_evaluation(pair, rig):
    plan = MatchPlan(budget_takes=4, model_budget=0, excerpt_s=3.0)
    result = match(plan, pair, rig)
    assert result.model_evaluations == 0 and result.type_screen is None
    assert any("model budget is 0" in note for note in result.notes)
    assert result.takes <= 4
    if "skipped" in result.residual_eq:         # EQ type: skipped for lack of model renders
        assert result.residual_eq["skipped"]


def test_a_search_that_ends_worse_publishes_the_start(pair, rig, monkeypatch):
    def worse(space, start, recorder, *, rng, **options):
        far = start.with_values(mix_pct=100, feedback_gain_pct=90, delay_time_ms=900.0)
        recorder.adopt_best(far, 10.0 * recorder.initial_loss + recorder.evaluate(far, "far"))

    monkeypatch.setitem(search.STRATEGIES, "coordinate", worse)
    plan = MatchPlan(effect_type="Mono Delay", optimizer="coordinate", budget_takes=3,
                     excerpt_s=3.0)
    result = match(plan, pair, rig)
    assert result.best_patch == result.start and result.best_loss == result.initial_loss
    assert result.search.ended_worse_loss > result.initial_loss
    assert any("published unchanged" in note for note in result.notes)


def test_the_model_variant_is_the_unit_the_model_renders(pair, rig):
    budget = ModelBudget(2, UnitVariant.draw(3))
    patch = Patch.init("Amp Simulator")
    drawn = budget.render(patch, pair.di[:RATE_HZ], RATE_HZ, "test")
    nominal = ModelBudget(2).render(patch, pair.di[:RATE_HZ], RATE_HZ, "test")
    assert drawn.shape == nominal.shape and not np.allclose(drawn, nominal)
    budget.render(patch, pair.di[:RATE_HZ], RATE_HZ, "test")
    with pytest.raises(ModelBudgetExhausted):
        budget.render(patch, pair.di[:RATE_HZ], RATE_HZ, "test")
    assert budget.to_dict() == {"used": 2, "budget": 2, "by_stage": {"test": 2}}


@pytest.mark.parametrize("values,words", [
    ({"budget_takes": 0}, "budget_takes=0 is not allowed"),
    ({"budget_takes": 2.5}, "budget_takes=2.5"),
    ({"model_budget": -1}, "model_budget=-1"),
    ({"seed": -3}, "seed=-3"),
    ({"optimize": "yes"}, "optimize='yes'"),
    ({"optimizer": "annealing"}, "optimizer 'annealing' is unknown"),
    ({"optimizer": "cma", "optimizer_options": {"popsiz": 8}},
     "strategy 'cma' has no option 'popsiz'; its options are: popsize, sigma"),
    ({"loss": "mse"}, "loss 'mse' is unknown"),
    ({"analyzer": "madmom"}, "analyzer 'madmom' is unknown"),
    ({"excerpt_s": -2.0}, "excerpt_s=-2.0"),
    ({"effect_type": "Mono Delay", "optimize_params": ["no_such_knob"]}, "no_such_knob"),
    ({"model_variant": 7}, "model_variant=7"),
    ({"effect_type": "Reverb", "start_patch": Patch.init("Mono Delay")}, "differs from the start"),
])
def test_the_plan_refuses_each_bad_value_in_one_sentence(values, words):
    with pytest.raises(ParameterError) as err:
        MatchPlan(**values)
    text = str(err.value)
    assert words in text and "\n" not in text


def test_the_plan_is_frozen_and_resolves_its_type():
    plan = MatchPlan(start_patch=Patch.init("Mono Delay"), budget_takes=None, max_iterations=2)
    assert plan.effect_type.name == "Mono Delay"
    assert plan.takes_for(3) == 1 + 2 * 3 * 2
    assert MatchPlan(optimize=False).takes_for(5) == 1 and MatchPlan().takes_for(5) == 40
    with pytest.raises(AttributeError):
        plan.seed = 4
    with pytest.raises(TypeError):
        plan.optimizer_options["x"] = 1


def test_the_plan_pickles_for_worker_processes():
    import pickle

    plan = MatchPlan(effect_type="Mono Delay", optimizer="cma", optimizer_options={"sigma": 0.3},
                     model_variant=UnitVariant.draw(2), optimize_params=["mix_pct"])
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan and dict(again.optimizer_options) == {"sigma": 0.3}


def test_the_command_shows_both_budgets_in_the_session_the_report_and_the_summary(
        pair, tmp_path):
    import json

    from click.testing import CliRunner

    from cli.auto_match_hil import main

    sf.write(str(tmp_path / "di.wav"), pair.di, RATE_HZ, subtype="FLOAT")
    sf.write(str(tmp_path / "target.wav"), pair.target, RATE_HZ, subtype="FLOAT")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(tmp_path / "target.wav"), "--di-signal",
                                       str(tmp_path / "di.wav"), "--out", str(out),
                                       "--session-name", "s", "--optimize", "--budget", "5",
                                       "--model-budget", "9", "--excerpt", "3"])
    assert result.exit_code == 0, result.output + str(result.exception)
    doc = json.loads((out / "s" / "s_session.json").read_text())
    assert doc["model_budget"] == 9 and doc["model_evaluations"] == 9
    assert doc["model_evaluations_by_stage"] == {"type screen": 9}
    assert doc["takes"] <= 5 and doc["budget_takes"] == 5 and doc["options"]["model_budget"] == 9
    assert doc["final_loss"] <= doc["initial_loss"]
    report = (out / "s" / "s_report.txt").read_text()
    assert "Model evaluations: 9 of 9 (the virtual Magicstomp as a model, no take: type " \
           "screen 9)" in report
    assert ", 9 of 9 model evaluations" in result.stdout.splitlines()[0]


def test_a_bad_model_budget_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from cli.auto_match_hil import main

    result = CliRunner().invoke(main, ["t.wav", "--di-signal", "d.wav", "--model-budget", "-4"])
    assert result.exit_code == 2 and "--model-budget" in result.output
