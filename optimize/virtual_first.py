"""Virtual-first search: the model proposes, the unit confirms and refines.

    model = model_evaluator(loss, segment, sample_rate, variant=profile.variant)
    result = virtual_first(space, start, evaluate=rig_evaluate, model_evaluate=model,
                           budget_takes=30, budget_model=300)
    result.best_patch, result.best_loss        the best patch confirmed on the unit
    result.takes, result.model_evaluations     the two budgets, counted apart

Three phases:

1. **Model**: today's default search (``ours``: screening, scans, pattern search) runs on
   the model (the emulator rendered with a unit profile's variant, or the nominal model)
   for ``budget_model`` model evaluations. No take is spent.
2. **Confirm**: take 0 is the starting patch on the unit (the initial loss, as in every
   search); then the ``confirm`` best distinct candidates of the model phase, best first,
   one take each.
3. **Refine**: with the takes left, a local pattern search on the unit (``ours`` without
   screening or scans, small first steps) from the best confirmed patch.

The result is the best patch measured on the unit, never worse than the start (the start
is take 0 and wins when nothing beats it). A patch measured once is not measured again
(its take is remembered), so re-measurements cost nothing and add nothing.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from magicstomp.errors import ParameterError

from .search import BudgetExhausted, Take, run_search

log = logging.getLogger(__name__)

#: candidates of the model phase confirmed on the unit by default
CONFIRM = 3
#: first step of the refinement on the unit (normalized units): the model is near
REFINE_STEP = 0.06


@dataclass
class VirtualFirstResult:
    """What :func:`virtual_first` returns.

    ``history`` holds the unit's takes only (take 0 = the start); ``model_best_loss`` is
    the model's own loss of its best candidate; ``stopped`` is ``"budget"`` or
    ``"converged"`` (or ``"interrupted"``).
    """

    best_patch: object
    best_loss: float
    initial_loss: float
    takes: int
    model_evaluations: int
    history: list = field(default_factory=list)
    model_best_loss: float = math.nan
    confirmed: list = field(default_factory=list)
    stopped: str = "converged"
    seconds: dict = field(default_factory=dict)

    @property
    def improvement_pct(self) -> float:
        if not self.initial_loss:
            return 0.0
        return 100.0 * (self.initial_loss - self.best_loss) / self.initial_loss

    def best_after(self, takes: int) -> float:
        """The best loss measured within the first ``takes`` takes."""
        losses = [t.loss for t in self.history[:max(1, int(takes))]]
        return float(min(losses)) if losses else math.nan

    def takes_to(self, loss: float) -> int | None:
        """Takes (take 0 counted as 1) until a take scored ``loss`` or better; None if never."""
        for take in self.history:
            if take.loss <= loss:
                return take.index + 1
        return None


class _UnitTakes:
    """The unit's evaluator behind a budget: counts takes, remembers each patch's loss."""

    def __init__(self, evaluate, budget_takes: int, on_take=None):
        self._evaluate = evaluate
        self.budget = int(budget_takes)
        self.history: list = []
        self._known: dict = {}
        self.best_patch, self.best_loss, self.best_index = None, math.inf, -1
        self.callbacks = [] if on_take is None else \
            [on_take] if callable(on_take) else list(on_take)

    def __call__(self, patch, label: str = "refine"):
        key = patch.to_payload()
        if key in self._known:
            return self._known[key]
        if len(self.history) >= self.budget:
            raise BudgetExhausted(f"all {self.budget} takes are spent")
        t0 = time.perf_counter()
        value = self._evaluate(patch)
        total = float(getattr(value, "total", value))
        total = total if math.isfinite(total) else math.inf
        self.history.append(Take(index=len(self.history), params=patch.values(), loss=total,
                                 terms=dict(getattr(value, "terms", {}) or {}),
                                 seconds=time.perf_counter() - t0, label=label))
        self._known[key] = total
        if total < self.best_loss:
            self.best_patch, self.best_loss = patch.copy(), total
            self.best_index = len(self.history) - 1
        for callback in self.callbacks:      # as a Recorder's: f(take, state with best_*)
            callback(self.history[-1], self)
        return value if hasattr(value, "total") else total

    @property
    def left(self) -> int:
        return self.budget - len(self.history)


def model_evaluator(loss, segment, sample_rate: int, *, variant=None, preroll: int = 0):
    """``evaluate(patch) -> loss value`` on the model: the emulator (with ``variant``, e.g.
    a unit profile's) renders ``segment`` and ``loss`` scores it after ``preroll`` samples."""
    from magicstomp.emulator import render, to_mono
    segment = np.asarray(segment, dtype=np.float64)

    def evaluate(patch):
        take = to_mono(render(patch, segment, sample_rate, variant=variant))
        return loss(take[preroll:])

    return evaluate


def _check_budget(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name}={value!r} is not allowed; expected a whole number of at "
                             f"least {low}", field=name, value=value, allowed=f">= {low}")


def _candidates(measured: dict, start, count: int) -> list:
    """The ``count`` best distinct patches of the model phase (best first), start excluded.

    ``measured`` maps payload -> (patch, model loss)."""
    skip = start.to_payload()
    ranked = sorted((v for k, v in measured.items() if k != skip), key=lambda v: v[1])
    return ranked[:count]


def virtual_first(space, start, *, evaluate, model_evaluate, budget_takes: int,
                  budget_model: int, confirm: int = CONFIRM, seed: int = 0, hints=None,
                  strategy: str = "ours", on_take=None) -> VirtualFirstResult:
    """Search on the model, confirm and refine on the unit (see the module doc).

    Parameters
    ----------
    space : ParameterSpace
        What may move (the same space for the model and the unit).
    start : Patch
        The starting patch (take 0 on the unit).
    evaluate : callable
        ``evaluate(patch) -> LossValue`` on the unit: one call is one take.
    model_evaluate : callable
        ``model_evaluate(patch) -> LossValue`` on the model: one call is one model evaluation.
    budget_takes : int
        Most takes on the unit, take 0 included (at least 1).
    budget_model : int
        Most model evaluations (0: no model phase, the unit searches alone).
    confirm : int
        Model candidates measured on the unit before the refinement.
    seed : int
        Seed of the model search.
    hints : dict, optional
        The analysis' hints for the model search (:func:`optimize.hints.analysis_hints`).
    strategy : str
        The model phase's strategy (a registered name).
    on_take : callable or list, optional
        Called as ``f(take, state)`` after every take on the unit, as a Recorder's
        callbacks (``state.best_patch``, ``best_loss``, ``best_index``); model
        evaluations call nothing.
    """
    _check_budget("budget_takes", budget_takes, 1)
    _check_budget("budget_model", budget_model, 0)
    _check_budget("confirm", confirm, 0)
    t0 = time.perf_counter()
    candidates, model_result, model_evals = [], None, 0
    if budget_model >= 1:
        opts = {"hints": hints} if hints and strategy == "ours" else {}
        measured = {}

        def on_model(patch):
            value = model_evaluate(patch)
            measured[patch.to_payload()] = (patch.copy(), float(getattr(value, "total", value)))
            return value

        model_result = run_search(strategy, space=space, start=start, evaluate=on_model,
                                  budget_takes=int(budget_model), seed=seed, **opts)
        model_evals = model_result.takes
        candidates = _candidates(measured, start, int(confirm))
    t_model = time.perf_counter() - t0
    unit = _UnitTakes(evaluate, budget_takes, on_take)
    stopped = "budget"
    try:
        unit(start, "start")
        for patch, _model_loss in candidates:
            unit(patch, "confirm")
        if unit.left > 0:
            result = run_search("ours", space=space, start=unit.best_patch, evaluate=unit,
                                budget_takes=unit.left + 1, seed=seed, screen=False,
                                scan_points=1, initial_step=REFINE_STEP, rescreen_top=0,
                                final_remeasures=0)
            stopped = "converged" if result.stopped == "converged" else "budget"
    except BudgetExhausted:
        stopped = "budget"
    except KeyboardInterrupt:
        if not unit.history:
            raise
        stopped = "interrupted"
    best_patch, best_loss = unit.best_patch, unit.best_loss
    if not best_loss < unit.history[0].loss:       # nothing beat the start: keep it
        best_patch, best_loss = start.copy(), unit.history[0].loss
    return VirtualFirstResult(
        best_patch=best_patch, best_loss=best_loss, initial_loss=unit.history[0].loss,
        takes=len(unit.history), model_evaluations=model_evals, history=unit.history,
        model_best_loss=model_result.best_loss if model_result else math.nan,
        confirmed=[loss for _p, loss in candidates], stopped=stopped,
        seconds={"model": round(t_model, 3), "unit": round(time.perf_counter() - t0 - t_model, 3)})
