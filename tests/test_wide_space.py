"""The wide search space: every field the parameter roles call audible in the start.

Known answers from the effect table and magicstomp/data/param_roles.json.
"""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace, default_keys, section_silent, wide_keys
from optimize.match_plan import MatchPlan
from optimize.search import run_search
from optimize.search_order import staged_order

AMP_MULTI = 0x37


def test_wide_keys_add_the_fields_the_seed_never_moved():
    keys = wide_keys(AMP_MULTI)
    assert keys[:len(default_keys(AMP_MULTI))] == default_keys(AMP_MULTI)   # seed knobs first
    for key in ("master_tone", "lo_mid", "bass", "hi_mid", "compressor_gain_db",
                "delay_hp_frequency_hz", "delay_lp_frequency_hz", "delay_tap_l_pct",
                "chorus_delay_time_ms", "reverb_ini_delay_ms"):
        assert key in keys, key
    t = Patch.init(AMP_MULTI).effect_type
    for key in keys:                       # no choice, gate, stereo or output volume
        p = t.param(key)
        assert p.kind != "enum" and p.role not in ("choice", "gate", "stereo", "dynamics")
        assert not (p.role == "volume" and p.section != "dynamics"), key
    assert "master_volume" not in keys and "gate_threshold" not in keys
    ParameterSpace(AMP_MULTI, keys)        # every one is a valid dimension


def test_wide_keys_leave_out_the_knobs_of_sections_silent_in_the_start():
    start = Patch.init(AMP_MULTI)          # chorus, delay and reverb levels at 0
    keys = wide_keys(AMP_MULTI, start)
    assert "delay_lp_frequency_hz" not in keys and "reverb_ini_delay_ms" not in keys
    assert "delay_level" in keys and "reverb_level" in keys        # levels stay
    assert "feedback_delay_time_ms" in keys                         # seed knobs always stay
    assert "bass" in keys                                           # the amp is never silent
    heard = start.copy()
    heard.set("delay_level", 5)
    assert section_silent(start.effect_type.param("delay_lp_frequency_hz"), start)
    assert not section_silent(start.effect_type.param("delay_lp_frequency_hz"), heard)
    assert "delay_lp_frequency_hz" in wide_keys(AMP_MULTI, heard)
    assert "reverb_ini_delay_ms" not in wide_keys(AMP_MULTI, heard)


def test_staged_order_puts_what_matters_most_first():
    space = ParameterSpace(AMP_MULTI, wide_keys(AMP_MULTI))
    order = [space.keys[i] for i in staged_order([d.param for d in space.dimensions])]
    assert order[:3] == ["preamp_gain", "treble", "presence"]
    assert order.index("bass") < order.index("master_tone") < order.index("compressor_gain_db")
    assert order.index("delay_level") < order.index("feedback_delay_time_ms") < \
        order.index("delay_feedback_pct") < order.index("delay_lp_frequency_hz") < \
        order.index("delay_tap_l_pct")
    assert order.index("chorus_depth") < order.index("reverb_level")


def test_ours_searches_the_seed_knobs_first_in_a_wide_space():
    space = ParameterSpace(AMP_MULTI, wide_keys(AMP_MULTI))
    rng = np.random.default_rng(2)
    optimum = rng.uniform(0.2, 0.8, space.size)
    start = space.from_unit(Patch.init(AMP_MULTI), rng.uniform(0.2, 0.8, space.size))

    def bowl(patch):
        return float(np.sum((space.to_unit(patch) - optimum) ** 2)) + 1e-4

    result = run_search("ours", space=space, start=start, evaluate=bowl, budget_takes=150,
                        seed=0, screen=False)
    seed = set(default_keys(AMP_MULTI))
    moved = [t.label.split()[0].rstrip("+-") for t in result.history[1:]
             if not t.label.startswith(("remeasure", "start"))]
    first_extra = next(n for n, key in enumerate(moved) if key.split("+")[0] not in seed)
    assert first_extra >= 0.5 * 150                    # the seed's knobs had most of the takes
    assert {"bass", "lo_mid", "delay_tap_l_pct"} <= set(moved)    # then the others moved too
    assert result.best_loss < 0.5 * result.initial_loss


def test_the_plan_names_its_space_and_refuses_an_unknown_one():
    assert MatchPlan().search_space in ("wide", "seed")
    assert MatchPlan(search_space="wide").to_dict()["search_space"] == "wide"
    with pytest.raises(ParameterError, match="search_space='all' is not allowed"):
        MatchPlan(search_space="all")
