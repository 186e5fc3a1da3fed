"""Every strategy is listed in one registry and declares its options; an unknown one is refused."""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.search import run_search
from optimize.strategy_registry import (BUILTIN, available_strategies, check_options,
                                        register_strategy, strategy_options)

TARGET_U = np.array([0.7, 0.2, 0.55])

#: one known option per strategy whose effect is visible: a value the strategy itself
#: refuses (its own check ran, so the option reached it), or a count that ends it at once
REACHES = {
    "coordinate": ({"shrink": 2.0}, "shrink"),
    "grid": ({"points_per_param": 1}, "points_per_param"),
    "ours": ({"initial_step": 0.0}, "initial_step"),
    "cma": ({"sigma": 0.0}, "sigma"),
    "tpe": ({"n_startup": -1}, "n_startup"),
    "random": ({"max_repeats": 0}, None),           # no draw: take 0 only
    "seed_coordinate": ({"max_passes": 0}, None),    # no pass: take 0 only
}


def _problem():
    space = ParameterSpace("Mono Delay", ["delay_time_ms", "feedback_gain_pct", "mix_pct"])
    calls = []

    def evaluate(patch):
        calls.append(patch)
        return float(np.sum((space.to_unit(patch) - TARGET_U) ** 2))
    return space, Patch.init("Mono Delay"), evaluate, calls


def test_every_built_in_strategy_is_listed_once_and_declares_its_options():
    assert set(BUILTIN) == set(REACHES) and set(BUILTIN) <= set(available_strategies())
    for name in BUILTIN:
        options = strategy_options(name)
        assert options and "rng" not in options, name
        assert set(REACHES[name][0]) <= set(options), name


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_strategy_refuses_an_unknown_option_before_any_take(name):
    space, start, evaluate, calls = _problem()
    with pytest.raises(ParameterError) as err:
        run_search(name, space=space, start=start, evaluate=evaluate, budget_takes=5,
                   stepsize=0.1)
    known = ", ".join(sorted(strategy_options(name)))
    assert str(err.value) == f"strategy {name!r} has no option 'stepsize'; its options are: {known}"
    assert calls == []


def test_a_misspelt_cma_option_names_the_right_ones():
    with pytest.raises(ParameterError, match="strategy 'cma' has no option 'popsiz'; its options "
                                             "are: popsize, sigma"):
        check_options("cma", {"popsiz": 8})


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_a_known_option_reaches_the_strategy(name):
    space, start, evaluate, calls = _problem()
    options, refused = REACHES[name]
    if refused is not None:
        with pytest.raises(ParameterError, match=refused):
            run_search(name, space=space, start=start, evaluate=evaluate, budget_takes=5,
                       **options)
        return
    result = run_search(name, space=space, start=start, evaluate=evaluate, budget_takes=5,
                        **options)
    assert result.takes == 1 and result.stopped == "converged"
    default = run_search(name, space=space, start=start, evaluate=evaluate, budget_takes=5)
    assert default.takes == 5          # without the option it searches


def test_a_registered_strategy_taking_any_keyword_accepts_any_option():
    @register_strategy("test-open-options")
    def open_options(space, start, recorder, *, rng, **options):
        recorder.evaluate(start.with_values(mix_pct=int(options["mix"])), "open")

    assert strategy_options("test-open-options") is None
    space, start, evaluate, _ = _problem()
    result = run_search("test-open-options", space=space, start=start, evaluate=evaluate,
                        budget_takes=3, mix=77)
    assert result.history[1].params["mix_pct"] == 77
