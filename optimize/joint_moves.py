"""Joint moves of coupled knobs for the ``ours`` pattern search, chosen by parameter roles.

One-knob moves deadlock on coupled pairs: with an effect's level at its minimum,
its depth, feedback, time, rate or decay is inaudible, so moving them alone changes
nothing; and at a wrong depth or time, raising the level alone only adds a wrong
effect, so every level move raises the loss. A diagonal move of the pair, both
knobs at once, can step out of that corner.

The pairs come from the roles (``magicstomp/data/param_roles.json``), within one
section: a level or mix with that section's time, feedback, depth, rate or decay,
and a feedback with that section's time. After a pass of the search in which
neither knob of a pair improved the incumbent, the four diagonals (+a,+b),
(+a,-b), (-a,+b), (-a,-b) are measured and the best is kept if it improves. A pair
none of whose knobs ever changed the loss when moved alone is left out (nothing
couples there), a pair is tried again only after the incumbent has changed, and
each pass spends at most
:data:`PASS_SHARE` of its own takes on joint moves (at least one pair's worth).
"""

from __future__ import annotations

import itertools

import numpy as np

from .constraints import LEVEL_ROLES, section_silent  # noqa: F401 (re-exported)

#: roles a level is coupled with inside its section
COUPLED_ROLES = ("time", "feedback", "depth", "rate", "decay")
#: most joint-move takes after a pass, as a share of the takes the pass used itself
PASS_SHARE = 0.3
DIAGONALS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def coupled_pairs(params) -> list:
    """``[(i, j), ...]``: index pairs of ``params`` that move jointly (level first)."""
    params = list(params)
    pairs = []
    for i, j in itertools.permutations(range(len(params)), 2):
        a, b = params[i], params[j]
        if a.section != b.section:
            continue
        if a.role in LEVEL_ROLES and b.role in COUPLED_ROLES:
            pairs.append((i, j))
        elif a.role == "feedback" and b.role == "time":
            pairs.append((i, j))
    return pairs


class JointMoves:
    """Diagonal moves of coupled pairs for one :class:`optimize.strategies._PatternSearch`."""

    def __init__(self, search, timing):
        self.search = search
        self.pairs = coupled_pairs(search.params)
        self.timing = timing                 # is_timing(param): keeps its own (fine) step
        self.tried: dict = {}                # pair -> incumbent version when last tried

    def after_pass(self, order, stalled: set, takes_in_pass: int) -> None:
        """Try the pairs of ``order`` whose two knobs both ``stalled`` in the last pass."""
        cap = max(len(DIAGONALS), int(PASS_SHARE * takes_in_pass))
        start = self.search.recorder.takes_used
        rank = {i: n for n, i in enumerate(order)}
        for i, j in sorted(self.pairs, key=lambda ij: (rank.get(ij[0], 1e9), rank.get(ij[1], 1e9))):
            if i not in rank or j not in rank or i not in stalled or j not in stalled:
                continue
            if not {i, j} & self.search.responsive:
                continue                      # neither knob ever changed the loss: flat
            if self.tried.get((i, j)) == self.search.version:
                continue
            if self.search.recorder.takes_used - start + len(DIAGONALS) > cap:
                return
            self.tried[(i, j)] = self.search.version
            if self.move(i, j):
                stalled.discard(i)
                stalled.discard(j)

    def move(self, i: int, j: int) -> bool:
        """Measure the four diagonals of pair (i, j); keep the best if it improves."""
        s = self.search
        steps = [s.steps[k] if self.timing(s.params[k]) else
                 max(s.steps[k], 0.5 * s.initial_step) for k in (i, j)]
        f0, best = s.inc.loss, None
        label = f"{s.space.keys[i]}+{s.space.keys[j]} joint"
        for di, dj in DIAGONALS:
            trial = s.inc.unit.copy()
            trial[i] = np.clip(trial[i] + di * steps[0], 0.0, 1.0)
            trial[j] = np.clip(trial[j] + dj * steps[1], 0.0, 1.0)
            if trial[i] == s.inc.unit[i] or trial[j] == s.inc.unit[j]:
                continue                      # at a bound: a one-knob move, already tried
            patch, loss = s.measure(trial, label)
            if loss < f0 and (best is None or loss < best[1]):
                best = (patch, loss, di, dj)
        if best is None:
            return False
        patch, loss, di, dj = best
        s.accept(patch, loss)
        s.direction[i], s.direction[j] = di, dj
        s.steps[i] = max(s.steps[i], steps[0])
        s.steps[j] = max(s.steps[j], steps[1])
        return True
