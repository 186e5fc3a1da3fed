"""Search strategies over a :class:`~optimize.constraints.ParameterSpace`, one take per candidate.

The pieces
----------
Take            one measured candidate: index, parameters, loss, loss terms, seconds, label
SearchResult    best patch and loss, the initial loss (of the starting patch), the full history
Recorder        wraps the evaluator: counts takes, records every take, keeps the best,
                stops at the budget, calls ``on_take`` callbacks
STRATEGIES      registry name -> function ``f(space, start, recorder, *, rng, **opts) -> None``
                (:mod:`optimize.strategy_registry`: every strategy listed in one place, each
                declaring its options by its signature; an unknown option is refused)
run_search      measures the starting patch first (take 0), then runs a strategy

A strategy asks the recorder for losses (``recorder.evaluate(patch)`` or
``recorder.evaluate_unit(u)``) and returns when it has converged. When the
budget is spent the recorder raises :class:`BudgetExhausted`, which
:func:`run_search` catches; Ctrl-C (``KeyboardInterrupt``) is caught the same
way, so the caller always gets a result holding the best patch so far.

Strategies defined here: ``coordinate`` (the seed's +step/-step search with
step halving) and ``grid`` (a full grid over the selected parameters). Others
(``random``, ``seed_coordinate``, ``ours``) live in :mod:`optimize.strategies`, and the
library optimizers (``cma``, ``tpe``) in :mod:`optimize.library_strategies`; all are
listed in :data:`optimize.strategy_registry.BUILTIN` and imported on first use.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from magicstomp.errors import ParameterError

# the registry, re-exported from its historical home
from .strategy_registry import (STRATEGIES, available_strategies, check_options,  # noqa: F401
                                get_strategy, register_strategy)

log = logging.getLogger(__name__)


@dataclass
class Take:
    """One measured candidate.

    Attributes
    ----------
    index : int
        0 for the starting patch, then 1, 2, ... in the order measured.
    params : dict
        Every parameter of the patch taken, ``{key: physical value}``.
    loss : float
        The loss total (lower is better).
    terms : dict
        The loss terms, ``{name: value}``.
    seconds : float
        Wall-clock time of the take (render or re-amp plus loss).
    label : str
        What the strategy was trying (``"start"``, ``"treble+"``, ``"grid"``...).
    """

    index: int
    params: dict
    loss: float
    terms: dict
    seconds: float
    label: str = ""


@dataclass
class SearchResult:
    """What a search returns.

    ``stopped`` is ``"budget"`` (every take spent), ``"converged"`` (the
    strategy finished early) or ``"interrupted"`` (Ctrl-C). ``ended_worse_loss``
    is set (and the best patch is the starting patch) when the search ended with
    a loss above the start's: see :func:`never_worse`.
    """

    best_patch: object
    best_loss: float
    initial_loss: float
    history: list = field(default_factory=list)
    stopped: str = "converged"
    best_index: int = 0
    ended_worse_loss: float | None = None

    @property
    def takes(self) -> int:
        """Number of takes measured, the starting patch included."""
        return len(self.history)

    @property
    def improvement_pct(self) -> float:
        """Loss reduction relative to the initial loss, in percent."""
        if not self.initial_loss:
            return 0.0
        return 100.0 * (self.initial_loss - self.best_loss) / self.initial_loss


def never_worse(result: SearchResult, start) -> SearchResult:
    """``result``, or the starting patch (take 0) when the result's loss is above the start's.

    A best loss can end above the start's when a strategy reports the mean of
    re-measurements (:meth:`Recorder.adopt_best`) or a later step replaces the
    best patch; what is published must never sound further from the target
    than what the user started from.
    """
    if not result.history or not result.best_loss > result.initial_loss:
        return result
    log.warning("the search ended at loss %.6g, above the starting patch's %.6g; keeping the "
                "starting patch", result.best_loss, result.initial_loss)
    return dataclasses.replace(result, best_patch=start.copy(), best_loss=result.initial_loss,
                               best_index=0, ended_worse_loss=result.best_loss)


class BudgetExhausted(Exception):
    """Raised by :class:`Recorder` when a take is asked for after the budget is spent.

    Internal control flow between the recorder and :func:`run_search`; not a user error.
    """


def _split_loss(value) -> tuple:
    """(total, terms) from a LossValue-like object, a (total, terms) pair or a number."""
    if hasattr(value, "total"):
        return float(value.total), dict(getattr(value, "terms", {}) or {})
    if isinstance(value, tuple) and len(value) == 2:
        return float(value[0]), dict(value[1])
    return float(value), {}


class Recorder:
    """Counts takes against a budget, records each one and tracks the best.

    Parameters
    ----------
    space : ParameterSpace
        The space being searched (for ``evaluate_unit``).
    evaluate : callable
        ``evaluate(patch) -> LossValue(total, terms)``; one call is one take.
    budget_takes : int
        Most takes to measure, the starting patch included (at least 1).
    on_take : callable or list of callables, optional
        Each is called as ``f(take, recorder)`` after every take.
    cache : bool
        Answer a repeated patch (same bytes) from memory without a take.
    model_evaluate : callable, optional
        ``model_evaluate(patch) -> LossValue`` on the virtual Magicstomp used as a model
        (no take; counted against the model budget, which raises
        :class:`optimize.match_plan.ModelBudgetExhausted` when spent): strategies may
        rank candidates with :meth:`model_loss` before they spend takes on them. A
        ``left()`` attribute on it, when present, tells how many evaluations remain
        (:attr:`model_left`).
    """

    def __init__(self, space, evaluate: Callable, *, budget_takes: int, on_take=None,
                 cache: bool = True, model_evaluate: Callable | None = None):
        if isinstance(budget_takes, bool) or not isinstance(budget_takes, (int, np.integer)) \
                or budget_takes < 1:
            raise ParameterError(
                f"budget={budget_takes!r} takes is not allowed; expected a whole number of "
                "at least 1 (try --budget 40)", field="budget", value=budget_takes,
                allowed=">= 1")
        self.space = space
        self._evaluate = evaluate
        self._model_evaluate = model_evaluate
        self.budget_takes = int(budget_takes)
        if on_take is None:
            self.callbacks = []
        elif callable(on_take):
            self.callbacks = [on_take]
        else:
            self.callbacks = list(on_take)
        self._cache = {} if cache else None
        self._spectra = {}            # payload -> LossValue.spectrum of its last take
        self.history: list = []
        self.best_patch = None
        self.best_loss = math.inf
        self.best_index = -1
        self.interrupted = False
        self.started = time.monotonic()

    # -- counters ----------------------------------------------------------
    @property
    def takes_used(self) -> int:
        return len(self.history)

    @property
    def takes_left(self) -> int:
        return self.budget_takes - len(self.history)

    @property
    def initial_loss(self) -> float:
        return self.history[0].loss if self.history else math.nan

    # -- measuring ---------------------------------------------------------
    def evaluate(self, patch, label: str = "") -> float:
        """Loss of ``patch`` (one take unless cached); raises BudgetExhausted past the budget."""
        key = patch.to_payload()
        if self._cache is not None and key in self._cache:
            log.debug("cached %s: loss %.5f (no take)", label or "candidate", self._cache[key])
            return self._cache[key]
        if self.interrupted:      # Ctrl-C seen: no new take, even from a strategy's clean-up
            raise KeyboardInterrupt
        if self.takes_left <= 0:
            raise BudgetExhausted(f"all {self.budget_takes} takes are spent")
        t0 = time.perf_counter()
        try:
            value = self._evaluate(patch)
            total, terms = _split_loss(value)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        seconds = time.perf_counter() - t0
        if not math.isfinite(total):
            total = math.inf
        if getattr(value, "spectrum", None) is not None:
            self._spectra[key] = value.spectrum
        take = Take(index=len(self.history), params=patch.values(), loss=total, terms=terms,
                    seconds=seconds, label=label)
        self.history.append(take)
        if self._cache is not None:
            self._cache[key] = total
        if total < self.best_loss:
            self.best_loss, self.best_patch, self.best_index = total, patch.copy(), take.index
        log.debug("take %d %s: loss %.5f (%.2f s)", take.index, label, total, seconds)
        for callback in self.callbacks:
            callback(take, self)
        return total

    def model_loss(self, patch):
        """Loss of ``patch`` on the model (no take), or None without a model or once the
        model budget is spent."""
        from .match_plan import ModelBudgetExhausted

        if self._model_evaluate is None:
            return None
        try:
            total, _ = _split_loss(self._model_evaluate(patch))
        except ModelBudgetExhausted:
            self._model_evaluate = None       # spent: later rankings fall back to takes
            return None
        return total if math.isfinite(total) else math.inf

    @property
    def model_left(self):
        """Model evaluations left (None when the model does not say, 0 without one)."""
        if self._model_evaluate is None:
            return 0
        left = getattr(self._model_evaluate, "left", None)
        return None if left is None else int(left())

    def remeasure(self, patch, label: str = "remeasure") -> float:
        """Measure ``patch`` again as a new take (the cache is bypassed and then updated)."""
        if self._cache is not None:
            self._cache.pop(patch.to_payload(), None)
        return self.evaluate(patch, label)

    def adopt_best(self, patch, loss: float) -> None:
        """Report ``patch`` as the best with ``loss`` (e.g. the mean of its re-measurements).

        The best take index becomes that of the patch's latest take, if it has one.
        """
        self.best_patch, self.best_loss = patch.copy(), loss
        for take in reversed(self.history):
            if take.params == patch.values():
                self.best_index = take.index
                break

    def spectrum_of(self, patch):
        """The loss' long-term spectrum difference from ``patch``'s last take, or None."""
        return self._spectra.get(patch.to_payload())

    def evaluate_unit(self, base_patch, u, label: str = "") -> float:
        """Loss of the patch at normalized coordinates ``u`` (snapped to hardware steps)."""
        return self.evaluate(self.space.from_unit(base_patch, u), label)

    def result(self, stopped: str) -> SearchResult:
        return SearchResult(best_patch=self.best_patch, best_loss=self.best_loss,
                            initial_loss=self.initial_loss, history=list(self.history),
                            stopped=stopped, best_index=self.best_index)


#: The name used in the issue text for the same object.
TakeBudget = Recorder

def run_search(name: str, *, space, start, evaluate: Callable, budget_takes: int, seed: int = 0,
               on_take=None, model_evaluate: Callable | None = None, **opts) -> SearchResult:
    """Measure ``start`` (take 0, the initial loss), then search with strategy ``name``.

    Parameters
    ----------
    name : str
        A registered strategy (see :func:`available_strategies`).
    space : ParameterSpace
        Which fields move and within which limits.
    start : Patch
        The starting patch, measured unchanged as take 0.
    evaluate : callable
        ``evaluate(patch) -> LossValue``; one call is one take.
    budget_takes : int
        Most takes in total, take 0 included.
    seed : int
        Seed of the strategy's random generator.
    on_take : callable or list, optional
        Called as ``f(take, recorder)`` after every take.
    model_evaluate : callable, optional
        The model's ``evaluate`` (no take), for strategies that rank candidates on it
        (see :class:`Recorder`).
    **opts
        Passed to the strategy; one it does not declare is refused before any take
        (:func:`optimize.strategy_registry.check_options`).

    Returns
    -------
    SearchResult
        ``stopped`` says why it ended; ``best_patch`` is the best measured patch, never
        one whose loss is above the starting patch's (:func:`never_worse`).
    """
    strategy = get_strategy(name)
    opts = check_options(name, opts)
    if start.effect_type.id != space.effect_type.id:
        raise ParameterError(
            f"the starting patch is {start.effect_type.name} but the parameter space is for "
            f"{space.effect_type.name}; build the space from the patch's effect type",
            field="effect_type", value=start.effect_type.name)
    recorder = Recorder(space, evaluate, budget_takes=budget_takes, on_take=on_take,
                        model_evaluate=model_evaluate)
    rng = np.random.default_rng(seed)
    try:
        recorder.evaluate(start, "start")
        strategy(space, start, recorder, rng=rng, **opts)
        stopped = "converged" if recorder.takes_left > 0 else "budget"
    except BudgetExhausted:
        stopped = "interrupted" if recorder.interrupted else "budget"
    except KeyboardInterrupt:
        recorder.interrupted = True
        if not recorder.history:
            raise
        stopped = "interrupted"
    log.debug("search %s stopped (%s) after %d takes", name, stopped, recorder.takes_used)
    return never_worse(recorder.result(stopped), start)


# -- the seed's strategies ---------------------------------------------------

def step_coordinate(space, recorder, *, base, current, index: int, step_unit: float,
                    threshold: float):
    """Try ``+step`` then ``-step`` along one coordinate; the first loss below ``threshold`` wins.

    Parameters
    ----------
    space : ParameterSpace
        The space being searched.
    recorder : Recorder
        Measures each candidate (one take unless cached).
    base : Patch
        The patch the unit coordinates are applied to.
    current : numpy.ndarray
        ``base``'s unit coordinates.
    index : int
        Which coordinate to move (its key labels the takes ``key+`` / ``key-``).
    step_unit : float
        The step in unit coordinates (clipped to [0, 1]; a move clipped to nothing is skipped).
    threshold : float
        A candidate is kept when its loss is strictly below this.

    Returns
    -------
    tuple or None
        ``(loss, patch)`` of the kept candidate, or None when neither direction beat it.
    """
    key = space.keys[index]
    for sign, tag in ((1.0, "+"), (-1.0, "-")):
        trial = current.copy()
        trial[index] = min(1.0, max(0.0, trial[index] + sign * step_unit))
        if trial[index] == current[index]:
            continue
        patch = space.from_unit(base, trial)
        loss = recorder.evaluate(patch, f"{key}{tag}")
        if loss < threshold:
            return loss, patch
    return None


def coordinate(space, start, recorder, *, rng=None, min_improvement: float = 0.0,
               shrink: float = 0.5) -> None:
    """The seed's coordinate search, with step halving.

    For each parameter in turn: try ``+step``, keep it if the loss improves by
    more than ``min_improvement``; otherwise try ``-step`` likewise. After a
    pass that improves nothing, every step is multiplied by ``shrink``. Stops
    (converged) when every step is below half a hardware step of its field.
    """
    if not 0.0 < shrink < 1.0:
        raise ParameterError(f"shrink={shrink!r} must be between 0 and 1 (exclusive)",
                             field="shrink", value=shrink)
    steps = np.array(space.steps_unit, dtype=float)
    resolution = np.array(space.resolution_unit, dtype=float)
    base = start
    current = space.to_unit(start)
    best = recorder.best_loss
    while np.any(steps >= 0.5 * resolution):
        improved = False
        for i in range(len(space.keys)):
            if steps[i] < 0.5 * resolution[i]:
                continue
            found = step_coordinate(space, recorder, base=base, current=current, index=i,
                                    step_unit=steps[i], threshold=best - min_improvement)
            if found is not None:
                best, base = found
                current = space.to_unit(base)
                improved = True
        if not improved:
            steps = steps * shrink
            log.debug("coordinate: no gain in a pass; steps halved to %s",
                      np.array2string(steps, precision=4))


def grid(space, start, recorder, *, rng=None, points_per_param: int | None = None) -> None:
    """Full grid over the selected parameters, within the budget.

    ``points_per_param`` defaults to the largest count (at most each field's
    number of hardware steps) whose grid fits the takes left. A grid larger
    than the budget is visited in a shuffled order, so the takes that fit
    still cover the whole space; the budget stops it.
    """
    left = recorder.takes_left
    levels = [int(round(1.0 / r)) + 1 for r in space.resolution_unit]
    if points_per_param is None:
        n = 2
        while math.prod(min(n + 1, lv) for lv in levels) <= left and any(n + 1 <= lv
                                                                           for lv in levels):
            n += 1
        counts = [min(n, lv) for lv in levels]
    else:
        if isinstance(points_per_param, bool) or int(points_per_param) < 2:
            raise ParameterError(f"points_per_param={points_per_param!r} must be at least 2",
                                 field="points_per_param", value=points_per_param)
        counts = [min(int(points_per_param), lv) for lv in levels]
    axes = [np.linspace(0.0, 1.0, c) for c in counts]
    points = list(itertools.product(*axes))
    if len(points) > left:
        log.warning("the grid has %d points but only %d takes are left; visiting a shuffled "
                    "subset (raise --budget or lower the points per parameter)",
                    len(points), left)
        order = (rng or np.random.default_rng(0)).permutation(len(points))
        points = [points[i] for i in order]
    for point in points:
        recorder.evaluate_unit(start, np.array(point), "grid")
