"""Library optimizers as search strategies: ``cma`` (CMA-ES) and ``tpe`` (optuna's TPE).

Both follow the contract of :mod:`optimize.search` (``f(space, start, recorder,
*, rng, **opts)``) and search the space's normalized 0..1 coordinates, one take
per candidate; a candidate that snaps to a patch already measured is answered
from the recorder's cache without a take.

cma  CMA-ES (``cma`` package, bounds 0..1) from the start, initial step
     ``sigma`` (0.2 of the range); restarted from the best point with a doubled
     population (at most MAX_POPSIZE) when it stops early, until the budget is
     spent or MAX_STALE generations in a row measure nothing new.
tpe  optuna's Tree-structured Parzen Estimator (multivariate), the start as
     its first trial, ``n_startup`` random trials, then the model's proposals;
     integer raw values per field, so no two trials of one patch are drawn twice
     by the model's own bookkeeping.

Neither screens the amp model or the cabinet: they move the space's fields only.
"""

from __future__ import annotations

import logging

import numpy as np

from .strategy_registry import check_count, check_positive

log = logging.getLogger(__name__)

#: Generations (cma) or trials (tpe) in a row that measure nothing new before giving up:
#: every candidate snapped to a patch already measured, so the space is exhausted.
MAX_STALE = 50
#: cma's population after restarts (doubled each time) stops growing here: a small space
#: whose last unmeasured patches trickle in would otherwise double it without end.
MAX_POPSIZE = 64


def cma_search(space, start, recorder, *, rng, sigma: float = 0.2, popsize: int = 0) -> None:
    """CMA-ES over the unit cube from the start until the budget is spent.

    Parameters
    ----------
    sigma : float
        Initial standard deviation, in normalized units (0.2 = a fifth of each range).
    popsize : int
        Candidates per generation; 0 = the library's default (4 + 3 ln n).
    """
    import cma

    check_positive("sigma", sigma, upper=1.0)
    check_count("popsize", popsize)
    n = len(space.keys)
    pad = max(0, 2 - n)              # cma needs 2 dimensions at least: a dummy one, ignored
    x0 = np.concatenate([np.clip(space.to_unit(start), 0.0, 1.0), np.full(pad, 0.5)])
    pop = int(popsize) or None
    stale = 0
    while stale < MAX_STALE:
        opts = {"bounds": [0.0, 1.0], "seed": int(rng.integers(1, 2 ** 31 - 1)),
                "verbose": -9, "verb_log": 0, "verb_disp": 0}
        if pop:
            opts["popsize"] = pop
        es = cma.CMAEvolutionStrategy(x0.tolist(), float(sigma), opts)
        while not es.stop() and stale < MAX_STALE:
            seen = recorder.takes_used
            candidates = es.ask()
            es.tell(candidates, [recorder.evaluate_unit(start, np.clip(c[:n], 0.0, 1.0), "cma")
                                 for c in candidates])
            stale = stale + 1 if recorder.takes_used == seen else 0
        log.debug("cma: stopped (%s); restarting from the best", es.stop())
        x0 = np.concatenate([np.clip(space.to_unit(recorder.best_patch), 0.0, 1.0),
                             np.full(pad, 0.5)])
        pop = min(2 * (pop or es.popsize), MAX_POPSIZE)


def tpe_search(space, start, recorder, *, rng, n_startup: int = 10) -> None:
    """optuna's multivariate TPE over the fields' raw values until the budget is spent.

    Parameters
    ----------
    n_startup : int
        Random trials before the model proposes (after the start, which is enqueued).
    """
    import optuna

    check_count("n_startup", n_startup)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=int(rng.integers(0, 2 ** 31 - 1)),
                                         n_startup_trials=int(n_startup), multivariate=True)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial({d.key: d.raw_at(u) for d, u in zip(space.dimensions,
                                                            space.to_unit(start))})
    stale = 0
    while stale < MAX_STALE:
        trial = study.ask()
        u = np.array([d.unit_at(trial.suggest_int(d.key, d.lo_raw, d.hi_raw))
                      for d in space.dimensions])
        seen = recorder.takes_used
        study.tell(trial, recorder.evaluate_unit(start, u, "tpe"))
        stale = stale + 1 if recorder.takes_used == seen else 0
