"""Joint moves of coupled knobs in ``ours``: pairs from the roles, and a deadlock they escape.

The objective is a known answer: an effect at level L and depth D heard against a
target effect at level L* and depth D*. The target's effect is matched only where
the depths are close (within W), so

    loss = L*^2 + L^2 - 2 L L* k(D - D*),   k(x) = max(0, 1 - |x| / W)

At L = 0 the depth is inaudible (the loss does not move), and with |D - D*| >= W
raising the level only adds a wrong effect (the loss rises): every one-knob move
fails, while a diagonal move (+L, toward D*) improves.
"""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.joint_moves import coupled_pairs, section_silent
from optimize.search import run_search

AMP_MULTI = 0x37
KEYS = ("chorus_level", "chorus_depth")
LEVEL_TRUE, DEPTH_TRUE, WIDTH = 0.6, 0.55, 0.15


class CoupledValley:
    """The loss above over the normalized (level, depth) of a real space, counting calls."""

    def __init__(self, space):
        self.space, self.calls = space, 0

    def __call__(self, patch):
        self.calls += 1
        level, depth = self.space.to_unit(patch)
        k = max(0.0, 1.0 - abs(depth - DEPTH_TRUE) / WIDTH)
        return LEVEL_TRUE ** 2 + level ** 2 - 2.0 * level * LEVEL_TRUE * k + 1e-4


def _run(joint_moves: bool, budget: int = 80):
    space = ParameterSpace(AMP_MULTI, list(KEYS))
    start = space.from_unit(Patch.init(AMP_MULTI), [0.0, 0.3])     # silent, depth far off
    valley = CoupledValley(space)
    result = run_search("ours", space=space, start=start, evaluate=valley, budget_takes=budget,
                        seed=0, screen=False, joint_moves=joint_moves)
    return space, result, valley


def test_one_knob_moves_deadlock_in_the_coupled_valley():
    _, result, _ = _run(joint_moves=False)
    assert result.best_loss == pytest.approx(result.initial_loss)      # never improved
    assert not any("joint" in t.label for t in result.history)


def test_joint_moves_escape_the_coupled_valley():
    space, result, valley = _run(joint_moves=True)
    assert result.takes <= 80 and valley.calls <= 80
    assert any(t.label == "chorus_level+chorus_depth joint" for t in result.history)
    level, depth = space.to_unit(result.best_patch)
    assert level == pytest.approx(LEVEL_TRUE, abs=0.05)
    assert depth == pytest.approx(DEPTH_TRUE, abs=0.05)
    assert result.best_loss < 0.05 * result.initial_loss


def test_coupled_pairs_come_from_the_roles():
    space = ParameterSpace(AMP_MULTI, ["preamp_gain", "treble", "chorus_level", "chorus_speed",
                                       "chorus_depth", "delay_level", "feedback_delay_time_ms",
                                       "delay_feedback_pct", "reverb_level", "reverb_time_s"])
    keys = space.keys
    pairs = {(keys[i], keys[j]) for i, j in coupled_pairs(d.param for d in space.dimensions)}
    assert pairs == {("chorus_level", "chorus_speed"), ("chorus_level", "chorus_depth"),
                     ("delay_level", "feedback_delay_time_ms"),
                     ("delay_level", "delay_feedback_pct"),
                     ("delay_feedback_pct", "feedback_delay_time_ms"),
                     ("reverb_level", "reverb_time_s")}
    mono = Patch.init("Mono Delay").effect_type          # a single effect's mix is its level
    mono_pairs = {(mono.params[i].key, mono.params[j].key) for i, j in coupled_pairs(mono.params)}
    assert ("mix_pct", "delay_time_ms") in mono_pairs


def test_a_section_is_silent_when_its_levels_are_at_their_minimum():
    patch = Patch.init(AMP_MULTI)
    p = patch.effect_type.param
    assert patch.get("chorus_level") == 0
    assert section_silent(p("chorus_depth"), patch) and not section_silent(p("chorus_level"), patch)
    assert not section_silent(p("treble"), patch)            # the amp has no level of its own
    patch.set("chorus_level", 3)
    assert not section_silent(p("chorus_depth"), patch)


def test_joint_moves_skip_silent_knobs_and_keep_takes_bounded():
    """With the chorus silent, its depth is not stepped alone; joint takes stay a share."""
    space = ParameterSpace(AMP_MULTI)
    rng = np.random.default_rng(4)
    optimum = rng.uniform(0.2, 0.8, len(space.keys))

    def bowl(patch):
        return float(np.sum((space.to_unit(patch) - optimum) ** 2)) + 1e-4

    start = Patch.init(AMP_MULTI)               # chorus, delay and reverb levels at 0
    result = run_search("ours", space=space, start=start, evaluate=bowl, budget_takes=150,
                        seed=0, screen=False)
    labels = [t.label for t in result.history]
    assert not any(label.startswith(("chorus_depth+", "chorus_depth-")) for label in labels[:12])
    joint = sum("joint" in label for label in labels)
    assert 0 < joint <= 0.35 * len(labels)
    assert result.best_loss < 0.2 * result.initial_loss
