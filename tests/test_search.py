"""Search strategies against losses with known minima: takes, budget, step halving."""

from dataclasses import dataclass

import numpy as np
import pytest

from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.search import (Recorder, available_strategies, get_strategy, register_strategy,
                             run_search)

MONO_DELAY = 0x0D


@dataclass
class Loss:
    total: float
    terms: dict


class Bowl:
    """A quadratic bowl over raw values with its minimum at known physical values."""

    def __init__(self, space, best_patch):
        self.space = space
        self.centre = space.to_unit(best_patch)
        self.calls = []

    def __call__(self, patch):
        self.calls.append(patch.copy())
        d = self.space.to_unit(patch) - self.centre
        total = float(np.sum(d ** 2))
        return Loss(total, {"bowl": total})


def _space_and_start():
    space = ParameterSpace(MONO_DELAY)   # delay_time_ms, feedback_gain_pct, mix_pct
    start = Patch.init(MONO_DELAY).with_values(delay_time_ms=300.0, feedback_gain_pct=20,
                                                mix_pct=30)
    return space, start


def test_initial_loss_is_the_unchanged_start_measured_first():
    space, start = _space_and_start()
    best = start.with_values(delay_time_ms=450.0)
    bowl = Bowl(space, best)
    result = run_search("coordinate", space=space, start=start, evaluate=bowl, budget_takes=10)
    assert bowl.calls[0] == start
    assert result.history[0].label == "start"
    assert result.initial_loss == pytest.approx(bowl(start).total)
    assert result.initial_loss > 0


def test_coordinate_finds_a_known_minimum():
    space, start = _space_and_start()
    best = start.with_values(delay_time_ms=450.0, feedback_gain_pct=40, mix_pct=54)
    result = run_search("coordinate", space=space, start=start, evaluate=Bowl(space, best),
                        budget_takes=300)
    assert result.stopped == "converged"
    assert result.best_patch.get("delay_time_ms") == pytest.approx(450.0, abs=3.0)
    assert result.best_patch.get("feedback_gain_pct") == pytest.approx(40, abs=2)
    assert result.best_patch.get("mix_pct") == pytest.approx(54, abs=2)
    assert result.best_loss < 1e-4 < result.initial_loss
    assert result.best_loss == min(t.loss for t in result.history)
    assert result.history[result.best_index].loss == result.best_loss


def test_step_halving_after_a_pass_without_gain():
    space, start = _space_and_start()
    start = space.clip(start)
    result = run_search("coordinate", space=space, start=start, evaluate=Bowl(space, start),
                        budget_takes=13)
    u0 = space.to_unit(start)
    moves = []
    for take in result.history[1:]:
        u = space.to_unit(start.with_values(**{k: take.params[k] for k in space.keys}))
        (changed,) = np.nonzero(np.abs(u - u0) > 1e-12)[0]
        moves.append((changed, abs(u[changed] - u0[changed])))
    n = space.size
    res = space.resolution_unit
    # first pass: +step and -step of each field at the seed's step; second pass: half the step
    for k, (i, size) in enumerate(moves):
        expected = space.steps_unit[i] * (1.0 if k < 2 * n else 0.5)
        assert size == pytest.approx(expected, abs=res[i])
    assert [i for i, _ in moves[:2 * n]] == [0, 0, 1, 1, 2, 2]
    assert len(moves) == 12


def test_budget_holds_and_every_take_is_recorded():
    space, start = _space_and_start()
    best = start.with_values(delay_time_ms=1200.0, feedback_gain_pct=-60, mix_pct=90)
    bowl = Bowl(space, best)
    result = run_search("coordinate", space=space, start=start, evaluate=bowl, budget_takes=7)
    assert result.stopped == "budget"
    assert len(result.history) == 7 == len(bowl.calls)
    assert [t.index for t in result.history] == list(range(7))
    assert all(t.seconds >= 0 and "bowl" in t.terms for t in result.history)


def test_only_selected_fields_move():
    space = ParameterSpace(MONO_DELAY, ["mix_pct"])
    start = Patch.init(MONO_DELAY)
    best = start.with_values(mix_pct=80, delay_time_ms=900.0)
    result = run_search("coordinate", space=space, start=start, evaluate=Bowl(space, best),
                        budget_takes=40)
    for take in result.history:
        for key, value in take.params.items():
            if key != "mix_pct":
                assert value == start.get(key), key
    assert result.best_patch.get("mix_pct") == pytest.approx(80, abs=1)


def test_grid_visits_a_full_grid_and_finds_a_grid_minimum():
    space = ParameterSpace(MONO_DELAY, ["feedback_gain_pct", "mix_pct"])
    start = Patch.init(MONO_DELAY)
    best = space.from_unit(start, [0.5, 0.75])      # on a 5-point grid
    bowl = Bowl(space, best)
    result = run_search("grid", space=space, start=start, evaluate=bowl, budget_takes=26,
                        points_per_param=5)
    assert len(result.history) == 26 and result.stopped in ("budget", "converged")
    assert result.best_loss == pytest.approx(0.0, abs=1e-9)
    assert result.best_patch == best


def test_grid_larger_than_the_budget_stops_at_the_budget():
    space = ParameterSpace(MONO_DELAY)
    start = Patch.init(MONO_DELAY)
    result = run_search("grid", space=space, start=start, evaluate=Bowl(space, start),
                        budget_takes=9, points_per_param=10)
    assert len(result.history) == 9 and result.stopped == "budget"


def test_interrupt_keeps_the_best_so_far():
    space, start = _space_and_start()
    best = start.with_values(mix_pct=60)
    bowl = Bowl(space, best)

    def interrupting(patch):
        if len(bowl.calls) == 5:
            raise KeyboardInterrupt
        return bowl(patch)

    result = run_search("coordinate", space=space, start=start, evaluate=interrupting,
                        budget_takes=50)
    assert result.stopped == "interrupted"
    assert len(result.history) == 5
    assert result.best_loss == min(t.loss for t in result.history)


def test_on_take_sees_every_take():
    space, start = _space_and_start()
    seen = []
    run_search("coordinate", space=space, start=start, evaluate=Bowl(space, start),
               budget_takes=4, on_take=lambda take, rec: seen.append((take.index, rec.takes_left)))
    assert seen == [(0, 3), (1, 2), (2, 1), (3, 0)]


@pytest.mark.parametrize("budget", [0, -3, 2.5, True])
def test_budget_below_one_is_refused(budget):
    space, start = _space_and_start()
    with pytest.raises(ParameterError, match="budget"):
        Recorder(space, Bowl(space, start), budget_takes=budget)


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ParameterError) as err:
        get_strategy("simulated-annealing")
    assert "coordinate" in str(err.value) and "grid" in str(err.value)
    assert {"coordinate", "grid"} <= set(available_strategies())


def test_registered_strategy_is_run():
    @register_strategy("test-two-corners")
    def two_corners(space, start, recorder, *, rng, **opts):
        for corner in (0.0, 1.0):
            recorder.evaluate_unit(start, np.full(space.size, corner), f"corner{corner}")

    space, start = _space_and_start()
    result = run_search("test-two-corners", space=space, start=start,
                        evaluate=Bowl(space, start), budget_takes=10)
    assert [t.label for t in result.history] == ["start", "corner0.0", "corner1.0"]
    assert result.stopped == "converged"


def test_no_take_after_an_interrupt_even_from_a_strategys_clean_up():
    space, start = _space_and_start()
    bowl = Bowl(space, start.with_values(mix_pct=60))

    @register_strategy("test-cleanup")
    def cleanup(space, start, recorder, *, rng, **opts):
        try:
            for i in range(10):
                recorder.evaluate(start.with_values(mix_pct=10 + i), "try")
        finally:
            recorder.evaluate(start.with_values(mix_pct=90), "clean-up")

    def interrupting(patch):
        if len(bowl.calls) == 3:
            raise KeyboardInterrupt
        return bowl(patch)

    result = run_search("test-cleanup", space=space, start=start, evaluate=interrupting,
                        budget_takes=50)
    assert result.stopped == "interrupted"
    assert [t.label for t in result.history] == ["start", "try", "try"]


def test_grid_points_default_to_the_finest_grid_within_the_budget():
    space = ParameterSpace(MONO_DELAY, ["feedback_gain_pct", "mix_pct"])
    start = Patch.init(MONO_DELAY)
    result = run_search("grid", space=space, start=start, evaluate=Bowl(space, start),
                        budget_takes=10)
    assert len(result.history) == 10 and result.stopped == "budget"   # the grid used every take
    grid_points = {(t.params["feedback_gain_pct"], t.params["mix_pct"])
                   for t in result.history[1:]}
    assert grid_points == {(fb, mix) for fb in (-95, 0, 95) for mix in (0, 50, 100)}
