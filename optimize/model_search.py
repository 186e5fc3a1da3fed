"""The model proposes: CMA-ES (the ``cma`` package) on the virtual Magicstomp, no take.

``ours`` has a model of the unit (:meth:`optimize.search.Recorder.model_loss`, the
emulator driven by the same patch bytes) whose evaluations cost a few tens of ms
and no take. Once the seed's knobs have converged, the model evaluations left are
spent by CMA-ES over the space's normalized coordinates from the incumbent; the
best patch it found is pruned (fields the model hardly hears go back to the
incumbent's values), and the few best distinct patches are measured on the rig,
one take each; the search goes on from the best of them only if a take confirms
it (the model proposes, takes confirm). CMA-ES is the library's: it adapts its
step and the coupling between knobs (a level with its time, a drive with its
volume) from the losses alone, which a one-knob-at-a-time search on takes cannot
afford.

    proposals = propose(space, recorder, patch, rng=rng, keep=3)
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

#: initial CMA-ES step, in normalized units (a fifth of every range)
SIGMA = 0.2
#: generations in a row that rendered nothing new before the search gives up
MAX_STALE = 20
#: most renders of one model search when the model budget does not stop it sooner
MAX_RENDERS = 1000
#: a field of the best proposal goes back to the incumbent's value when the model's loss
#: stays within this share of the best's (the loss hardly hears it: keep the analysis' value)
PRUNE_TOLERANCE = 0.01
#: population after restarts (doubled each time) stops growing here
MAX_POPSIZE = 64


class _ModelCache:
    """Model loss per patch (a candidate snapped to a patch already rendered is free)."""

    def __init__(self, space, recorder, base_patch, cap: int):
        self.space, self.recorder, self.base, self.cap = space, recorder, base_patch, cap
        self.losses: dict = {}
        self.patches: dict = {}
        self.spent = False

    def loss(self, u) -> float:
        patch = self.space.from_unit(self.base, np.clip(u, 0.0, 1.0))
        key = patch.to_payload()
        if key not in self.losses:
            spent = self.spent or len(self.losses) >= self.cap
            value = None if spent else self.recorder.model_loss(patch)
            if value is None:
                self.spent = True
                return math.inf
            self.losses[key], self.patches[key] = value, patch
        return self.losses[key]

    def best(self, keep: int, exclude=None, below: float = math.inf) -> list:
        """The ``keep`` best distinct patches rendered with a loss under ``below``, best
        first, ``exclude`` (a payload) left out."""
        ranked = sorted((loss, key) for key, loss in self.losses.items()
                        if key != exclude and loss < below)
        return [self.patches[key] for _, key in ranked[:int(keep)]]


def propose(space, recorder, patch, *, rng, keep: int = 3, sigma: float | None = None,
            max_evaluations: int = MAX_RENDERS) -> list:
    """The ``keep`` best patches CMA-ES finds on the model from ``patch``, best first;
    only patches the model scores below ``patch`` are proposed. The best one is then
    pruned (:func:`_prune`): a field whose change the model hardly hears goes back to
    ``patch``'s value, so the search does not wander where the loss cannot tell.

    Runs until the model budget is spent (``recorder.model_loss`` returns None), or after
    ``max_evaluations`` renders, or when MAX_STALE generations in a row
    render nothing new. Empty without a model. Restarts from the best point with a doubled
    population when CMA-ES stops early.
    """
    import cma

    n = len(space.keys)
    if sigma is None:                     # SIGMA up to 12 fields, smaller steps in more
        sigma = SIGMA * min(1.0, math.sqrt(12.0 / max(n, 1)))
    left = recorder.model_left
    prune = n if left is None or left > 3 * n else 0      # renders kept for the pruning
    if left is not None:
        max_evaluations = min(max_evaluations, left - prune)
    cache = _ModelCache(space, recorder, patch, max_evaluations)
    start_loss = cache.loss(space.to_unit(patch))
    if cache.spent:
        return []
    pad = max(0, 2 - n)                   # cma needs 2 dimensions at least: a dummy one
    x0 = np.concatenate([np.clip(space.to_unit(patch), 0.0, 1.0), np.full(pad, 0.5)])
    popsize, stale = None, 0
    while not _done(cache, stale):
        es = cma.CMAEvolutionStrategy(x0.tolist(), float(sigma), _options(rng, popsize))
        while not es.stop() and not _done(cache, stale):
            rendered = len(cache.losses)
            candidates = es.ask()
            es.tell(candidates, [cache.loss(c[:n]) for c in candidates])
            stale = stale + 1 if len(cache.losses) == rendered else 0
        best = cache.best(1) or [patch]       # every render infinite: restart from the start
        x0 = np.concatenate([np.clip(space.to_unit(best[0]), 0.0, 1.0), np.full(pad, 0.5)])
        popsize = min(2 * (popsize or es.popsize), MAX_POPSIZE)
    found = cache.best(keep, patch.to_payload(), below=start_loss)
    log.debug("model search: %d renders, start %.4f, best %s", len(cache.losses), start_loss,
              f"{cache.losses[found[0].to_payload()]:.4f}" if found else "none")
    if found and prune:
        found[0] = _prune(space, recorder, found[0], cache.losses[found[0].to_payload()], patch)
    return found


def _prune(space, recorder, best, best_loss: float, incumbent):
    """``best`` with each field the model hardly hears put back to ``incumbent``'s value:
    one render per differing field, kept while the loss stays within PRUNE_TOLERANCE."""
    limit = best_loss * (1.0 + PRUNE_TOLERANCE)
    for key in space.keys:
        if best.get_raw(key) == incumbent.get_raw(key):
            continue
        trial = best.copy().set_raw(key, incumbent.get_raw(key))
        loss = recorder.model_loss(trial)
        if loss is None:
            break
        if loss <= limit:
            best = trial
    return best


def _done(cache: _ModelCache, stale: int) -> bool:
    return cache.spent or stale >= MAX_STALE


def _options(rng, popsize) -> dict:
    opts = {"bounds": [0.0, 1.0], "seed": int(rng.integers(1, 2 ** 31 - 1)),
            "verbose": -9, "verb_log": 0, "verb_disp": 0}
    if popsize:
        opts["popsize"] = int(popsize)
    return opts
