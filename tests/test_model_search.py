"""The model proposes (issue 14, "a library optimizer where it wins"): CMA-ES from the
``cma`` package spends the model evaluations ``ours`` has left on the virtual Magicstomp,
and only its few best patches get takes (:mod:`optimize.model_search`)."""

from __future__ import annotations

import numpy as np

from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.match_plan import ModelBudgetExhausted
from optimize.model_search import propose
from optimize.search import Recorder, run_search

MONO_DELAY = 0x0D


def _space_and_truth():
    space = ParameterSpace(MONO_DELAY)
    truth = np.linspace(0.2, 0.8, len(space.keys))
    return space, truth


def _bowl(space, truth):
    """Known answer: the squared distance to ``truth`` in normalized coordinates."""
    return lambda patch: float(np.sum((space.to_unit(patch) - truth) ** 2))


def _budgeted(func, limit: int, calls: list):
    def model(patch):
        if len(calls) >= limit:
            raise ModelBudgetExhausted("spent")
        calls.append(patch)
        return func(patch)
    return model


def test_the_model_search_finds_the_bottom_within_its_budget_and_proposes_only_better():
    space, truth = _space_and_truth()
    loss = _bowl(space, truth)
    start = space.from_unit(Patch.init(MONO_DELAY), np.full(len(truth), 0.95))
    calls: list = []
    recorder = Recorder(space, loss, budget_takes=10,
                        model_evaluate=_budgeted(loss, 300, calls))
    found = propose(space, recorder, start, rng=np.random.default_rng(0), keep=3)
    assert len(calls) == 300                           # the model budget, not one more
    assert recorder.takes_used == 0                    # the model proposes: no take
    assert 1 <= len(found) <= 3
    losses = [loss(p) for p in found]
    assert losses == sorted(losses) and losses[0] < loss(start)
    assert np.max(np.abs(space.to_unit(found[0]) - truth)) < 0.05


def test_without_a_model_nothing_is_proposed():
    space, truth = _space_and_truth()
    recorder = Recorder(space, _bowl(space, truth), budget_takes=10)
    assert propose(space, recorder, Patch.init(MONO_DELAY), rng=np.random.default_rng(0)) == []


def test_nothing_is_proposed_when_the_model_finds_nothing_below_the_start():
    space, truth = _space_and_truth()
    loss = _bowl(space, truth)
    start = space.from_unit(Patch.init(MONO_DELAY), truth)      # already at the bottom
    recorder = Recorder(space, loss, budget_takes=10, model_evaluate=_budgeted(loss, 200, []))
    found = propose(space, recorder, start, rng=np.random.default_rng(1))
    assert all(loss(p) < loss(start) for p in found)
    assert len(found) <= 1            # at most a patch that snaps nearer the bottom


def _valley(space):
    """A narrow diagonal valley over the first two knobs: one knob at a time crawls."""
    def loss(patch):
        u = space.to_unit(patch)
        along, across = u[0] + u[1] - 1.2, u[0] - u[1] + 0.3
        return float(along ** 2 + 400.0 * across ** 2 + np.sum((u[2:] - 0.5) ** 2))
    return loss


def test_ours_with_the_model_proposals_ends_lower_at_equal_takes_and_they_cost_takes():
    space = ParameterSpace(MONO_DELAY)
    loss = _valley(space)
    start = space.from_unit(Patch.init(MONO_DELAY), np.full(len(space.keys), 0.1))

    def run(proposals, calls):
        return run_search("ours", space=space, start=start, evaluate=loss, budget_takes=30,
                          seed=0, final_remeasures=0, model_proposals=proposals,
                          model_evaluate=_budgeted(loss, 400, calls))
    used, unused = [], []
    with_model, without = run(3, used), run(0, unused)
    labels = [t.label for t in with_model.history]
    assert 1 <= labels.count("model proposal") <= 3
    assert len(with_model.history) <= 30 and len(used) <= 400 and unused == []
    assert with_model.best_loss < 0.5 * without.best_loss


def test_a_field_the_model_does_not_hear_goes_back_to_the_incumbents_value():
    """The loss ignores the last field: CMA-ES moves it anyway; the pruned proposal
    keeps the incumbent's value there and the model's answer everywhere else."""
    space, truth = _space_and_truth()
    deaf = len(truth) - 1

    def loss(patch):
        u = space.to_unit(patch)
        return float(np.sum((u[:deaf] - truth[:deaf]) ** 2))
    start = space.from_unit(Patch.init(MONO_DELAY), np.full(len(truth), 0.95))
    calls: list = []
    model = _budgeted(loss, 300, calls)
    model.left = lambda: 300 - len(calls)
    recorder = Recorder(space, loss, budget_takes=10, model_evaluate=model)
    assert recorder.model_left == 300
    best = propose(space, recorder, start, rng=np.random.default_rng(0), keep=3)[0]
    key = space.keys[deaf]
    assert best.get_raw(key) == start.get_raw(key)
    assert np.max(np.abs(space.to_unit(best)[:deaf] - truth[:deaf])) < 0.05
    assert len(calls) <= 300 and recorder.model_left >= 0


def test_a_model_that_scores_every_patch_infinite_proposes_nothing():
    space, _ = _space_and_truth()
    calls: list = []
    model = _budgeted(lambda patch: float("inf"), 120, calls)
    recorder = Recorder(space, lambda patch: 1.0, budget_takes=10, model_evaluate=model)
    assert propose(space, recorder, Patch.init(MONO_DELAY), rng=np.random.default_rng(0)) == []
    assert 0 < len(calls) <= 120
