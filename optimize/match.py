"""``match(plan, pair, rig)``: make the Magicstomp sound like a target, stage by stage.

    from optimize.match import match
    from optimize.match_plan import MatchPlan
    from optimize.pairs import load_pair
    from hil.rig import VirtualRig

    pair = load_pair("target.wav", "di.wav", sample_rate=44100)
    with VirtualRig(sample_rate=44100) as rig:
        result = match(MatchPlan(budget_takes=40), pair, rig)
    result.best_patch, result.best_loss, result.model_evaluations

The stages share one :class:`~optimize.match_stages.MatchState`, one recorder of
takes (``optimize.search.Recorder``, inside the search) and one
:class:`~optimize.match_plan.ModelBudget`:

1. **start** - the analysis of the target and its starting patch, or the plan's
   start patch (the analysis still runs: its hints guide the search);
2. **effect type** - without a type or start patch, candidate types are ranked on
   the model and the best two measured on the rig (``optimize.type_screen``);
3. **search** - take 0 is the starting patch, then the plan's strategy within the
   take budget (``ours`` screens amp models and cabinets on the rig, re-screens them
   once the tone is fitted, and re-measures its best patch before it ends: the
   final re-measure, so one lucky noisy take cannot win);
4. **residual EQ** - the long-term spectral residual fitted onto the patch's EQ
   controls on the model, then one take, kept if lower (``optimize.match_residual``);
5. **never worse** - the published patch's loss is never above the start's.

The CLI (``auto_match_hil``) parses its options into a :class:`MatchPlan`, opens the
devices, calls :func:`match` and writes the session; the benchmarks and
``examples/`` call it alike.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from .match_plan import MatchPlan, ModelBudget
from .match_stages import (FaultGuard, MatchState, make_evaluator, replicate_floor,
                           screen_effect_type, starting_patch)

log = logging.getLogger("magicstomp.auto_match")

STAGES = ("start", "type_screen", "ready", "search", "residual_eq", "done")


@dataclass
class MatchResult:
    """What :func:`match` returns.

    ``search`` is the :class:`~optimize.search.SearchResult` (history of every take,
    best patch and loss, the start's loss); ``start`` the patch measured as take 0;
    ``model_evaluations`` the renders of the model (``model_by_stage`` per stage);
    ``fault`` the device error that stopped the search (None: none);
    ``residual_eq`` the residual-EQ record (``{"skipped": why}`` when not fitted).
    """

    plan: MatchPlan
    search: object
    start: object
    space: object
    neutral: object
    excerpt: object
    budget_takes: int
    model_evaluations: int
    model_budget: int
    model_by_stage: dict
    floor: float
    bypass: float
    residual_eq: dict
    notes: list = field(default_factory=list)
    type_screen: object = None
    fault: Exception | None = None
    interrupted: bool = False

    @property
    def optimizer(self) -> str:
        return self.plan.strategy

    @property
    def best_patch(self):
        return self.search.best_patch

    @property
    def best_loss(self) -> float:
        return self.search.best_loss

    @property
    def initial_loss(self) -> float:
        return self.search.initial_loss

    @property
    def takes(self) -> int:
        return len(self.search.history)


def match(plan: MatchPlan, pair, rig, *, on_take=None, on_stage=None) -> MatchResult:
    """Run every stage of ``plan`` on ``pair`` (``optimize.pairs.Pair``) through ``rig``.

    Parameters
    ----------
    plan : MatchPlan
        What to do (checked when it was built).
    pair : optimize.pairs.Pair
        The aligned target and DI.
    rig : hil.rig.VirtualRig or HardwareRig
        Where the takes are played (``rig.render(patch, di) -> take``).
    on_take : callable or list of callables, optional
        ``f(take, recorder)`` after every take of the search.
    on_stage : callable, optional
        ``f(stage, state)`` after each stage (:data:`STAGES`), with the
        :class:`~optimize.match_stages.MatchState` so far (e.g. to write files).

    Returns
    -------
    MatchResult
        A device that vanished mid-search ends the match early (``fault`` set, the
        best patch so far kept); Ctrl-C too (``interrupted``). Before take 0 both are
        raised.
    """
    def notify(stage):
        if on_stage is not None:
            on_stage(stage, state)

    state = _prepare(plan, pair, rig)
    state.patch, state.notes, state.neutral = starting_patch(
        pair, effect_type=plan.effect_type, analyzer=plan.analyzer,
        start=None if plan.start_patch is None else (plan.start_patch, plan.start_label))
    notify("start")
    if plan.effect_type is None:          # no type, no start patch: measure the types
        screen_effect_type(state)
        notify("type_screen")
    _ready(state)
    notify("ready")
    guard = FaultGuard(state.evaluate)    # a vanished unit or device stops the search
    state.evaluate = guard
    result = _search(state, guard, on_take)
    if result.ended_worse_loss is not None:
        state.notes.append(f"the search ended at loss {result.ended_worse_loss:.6g}, above the "
                           f"starting patch's {result.initial_loss:.6g}: the starting patch is "
                           "published unchanged")
    notify("search")
    interrupted = result.stopped == "interrupted"
    result, eq_info, interrupted = _residual(state, result, interrupted)
    notify("residual_eq")
    from .search import never_worse
    result = never_worse(result, state.patch)
    if guard.fault is not None:
        result = dataclasses.replace(result, stopped="device fault")
        state.notes.append(f"the run stopped after {len(result.history)} takes because "
                           f"{str(guard.fault).rstrip('.')}; the optimized patch is the best "
                           "measured so far")
    out = MatchResult(plan=plan, search=result, start=state.patch, space=state.space,
                      neutral=state.neutral, excerpt=state.excerpt,
                      budget_takes=state.budget_takes, model_evaluations=state.model.used,
                      model_budget=state.model.limit, model_by_stage=dict(state.model.by_stage),
                      floor=state.floor, bypass=state.bypass, residual_eq=eq_info,
                      notes=state.notes, type_screen=state.type_screen, fault=guard.fault,
                      interrupted=interrupted)
    notify("done")
    return out


def _prepare(plan, pair, rig) -> MatchState:
    """The excerpt, the loss and the evaluator (one take per call)."""
    from .loss import get_loss
    from .pairs import choose_excerpt
    from .take_alignment import TakeAligner

    if not isinstance(plan, MatchPlan):
        from magicstomp.errors import ParameterError
        raise ParameterError(f"plan={plan!r} is not a MatchPlan; build one with "
                             "optimize.match_plan.MatchPlan(...)", field="plan")
    sr = pair.sample_rate
    excerpt = choose_excerpt(pair.di, sr, seconds=plan.excerpt_s)
    loss_opts = {"backend": plan.analyzer} if plan.loss == "seed" else {}
    if plan.loss == "match":     # MatchLoss reads LFO modulation relative to the DI
        loss_opts = {"di": pair.di[excerpt.start:excerpt.stop]}
    loss_opts.update(plan.loss_options)
    loss = get_loss(plan.loss)(pair.target[excerpt.start:excerpt.stop], sr, **loss_opts)
    evaluate = make_evaluator(rig, loss, pair.di, excerpt,
                              aligner=TakeAligner(loss.target, sr))   # latency and polarity
    return MatchState(plan=plan, pair=pair, rig=rig, excerpt=excerpt, loss=loss,
                      loss_options=loss_opts, evaluate=evaluate,
                      model=ModelBudget(plan.model_budget, plan.model_variant))


def _ready(state: MatchState) -> None:
    """Name the patch, build the space and the take budget, measure the floor and bypass."""
    from .constraints import ParameterSpace, wide_keys
    from .reference import bypass_loss

    plan, patch, pair, excerpt = state.plan, state.patch, state.pair, state.excerpt
    if plan.patch_name:
        from magicstomp.patch import patch_name_from
        patch.name = patch_name_from(plan.patch_name, default=patch.name)
    log.info("starting patch: %s, named %r", patch.effect_type.name, patch.name)
    if excerpt.samples < pair.di.size:
        state.notes.append(excerpt.describe(pair.sample_rate))
    if _is_virtual(state.rig):
        from magicstomp.emulator import processor_class
        processor_class(patch.effect_type)
    names = list(plan.optimize_params) if plan.optimize_params else None
    wide = names is None and plan.search_space == "wide"
    state.space = space = ParameterSpace(patch.effect_type,
                                         wide_keys(patch.effect_type, patch) if wide else names)
    renamed = [f"{n} -> {k}" for n, k in zip(names or (), space.keys) if n != k]
    if renamed and len(names) == space.size:
        log.info("--optimize-params on %s: %s", space.effect_type.name, ", ".join(renamed))
    log.debug("parameter space:\n%s", space.describe())
    state.budget_takes = plan.takes_for(space.size)
    state.floor = replicate_floor(state)
    state.bypass = bypass_loss(state.loss, pair.di[excerpt.start:excerpt.stop])
    log.debug("bypass loss (the dry DI against the target, no take): %.6g", state.bypass)
    log.info("matching %s with %s: %s, budget %d takes", patch.effect_type.name,
             plan.strategy if plan.optimize else "no search", ", ".join(space.keys),
             state.budget_takes)


def _is_virtual(rig) -> bool:
    from hil.rig import VirtualRig
    return isinstance(rig, VirtualRig)


def chosen_keys(state: MatchState):
    """The keys ``optimize_params`` resolved to (None when every audible field moves)."""
    return tuple(state.space.keys) if state.plan.optimize_params else None


def _search(state: MatchState, guard: FaultGuard, on_take):
    """Take 0 and the plan's strategy; the residual EQ's take is reserved in the budget."""
    from . import match_residual
    from .search import run_search

    plan, space, patch = state.plan, state.space, state.patch
    fit_eq = match_residual.planned(plan, patch, chosen_keys(state)) and state.budget_takes >= 3
    eq_evaluations = match_residual.model_evaluations_needed(
        match_residual.fit_keys(patch, chosen_keys(state))) if fit_eq else 0
    options = {"min_improvement": state.floor} if plan.strategy == "coordinate" else {}
    if plan.strategy == "ours":
        from .hints import analysis_hints
        options["hints"] = analysis_hints(space, state.neutral.features, start=patch)
        if plan.optimize_params:
            options["screen"] = False     # --optimize-params: exactly those fields move
        if state.floor == 0.0:
            options["final_remeasures"] = 0   # a deterministic rig: a second take is the same
        options["model_evaluate"] = _model_evaluate(state, "screen", keep=eq_evaluations)
    options.update(plan.optimizer_options)
    takes = max(1, state.budget_takes - int(fit_eq) - state.rig_takes_before_search)
    if plan.virtual_first and plan.optimize:
        return _virtual_first(state, takes, max(0, state.model.left - eq_evaluations),
                              options.get("hints"), on_take)
    try:
        return run_search(plan.strategy, space=space, start=patch, evaluate=state.evaluate,
                          budget_takes=takes, seed=plan.seed, on_take=on_take, **options)
    except KeyboardInterrupt:
        if guard.fault is not None:      # before the first take: nothing to keep
            raise guard.fault from None
        raise


class _ModelRig:
    """The model as a rig: each render is one model evaluation of the search stage."""

    def __init__(self, model, sample_rate: int, stage: str = "search"):
        self.model, self.sample_rate, self.stage = model, int(sample_rate), stage

    def render(self, patch, audio):
        return self.model.render(patch, audio, self.sample_rate, self.stage)


def _model_evaluate(state: MatchState, stage: str, keep: int = 0):
    """``evaluate(patch)`` on the model (no take; counted in the model budget as ``stage``);
    it raises ModelBudgetExhausted once only ``keep`` evaluations are left (for a later
    stage, e.g. the residual EQ's fit)."""
    from .match_plan import ModelBudgetExhausted
    from .match_stages import make_evaluator
    from .take_alignment import TakeAligner

    sr = state.pair.sample_rate
    evaluate = make_evaluator(_ModelRig(state.model, sr, stage), state.loss, state.pair.di,
                              state.excerpt, aligner=TakeAligner(state.loss.target, sr))

    def bounded(patch):
        if state.model.left <= keep:
            raise ModelBudgetExhausted(f"{stage}: {keep} model evaluations are kept for "
                                       "later stages")
        return evaluate(patch)
    bounded.left = lambda: max(0, state.model.left - keep)    # what a strategy may still spend
    return bounded


def _virtual_first(state: MatchState, takes: int, model_evaluations: int, hints, on_take):
    """The search stage of a virtual-first plan, as a SearchResult (takes on the rig only)."""
    from .search import SearchResult
    from .virtual_first import virtual_first

    model_evaluate = _model_evaluate(state, "search")
    found = virtual_first(state.space, state.patch, evaluate=state.evaluate,
                          model_evaluate=model_evaluate, budget_takes=takes,
                          budget_model=model_evaluations, seed=state.plan.seed, hints=hints,
                          on_take=on_take)
    state.notes.append(f"virtual-first: {found.model_evaluations} model evaluations proposed "
                       f"{len(found.confirmed)} candidates, confirmed and refined in "
                       f"{found.takes} takes on the rig")
    best_index = min(range(len(found.history)), key=lambda i: found.history[i].loss)
    return SearchResult(best_patch=found.best_patch, best_loss=found.best_loss,
                        initial_loss=found.initial_loss, history=found.history,
                        stopped=found.stopped, best_index=best_index)


def _residual(state: MatchState, result, interrupted: bool) -> tuple:
    """The residual-EQ stage when planned: (result, record, interrupted)."""
    from . import match_residual as residual

    plan, patch, chosen = state.plan, state.patch, chosen_keys(state)
    info = {"skipped": residual.skip_reason(plan, patch, state.budget_takes, chosen)}
    if not (residual.planned(plan, patch, chosen) and state.budget_takes >= 3) or interrupted:
        return result, info, interrupted
    keys = residual.fit_keys(patch, chosen)
    log.info("fitting the residual spectrum onto the EQ controls (%s; on the virtual "
             "Magicstomp, no take) ...", ", ".join(keys))
    try:
        result, info = residual.residual_eq_step(
            result, pair=state.pair, excerpt=state.excerpt, evaluate=state.evaluate,
            budget_takes=state.budget_takes, keys=keys, model=state.model,
            model_evaluate=_model_evaluate(state, "residual EQ"))
    except KeyboardInterrupt:
        result = dataclasses.replace(result, stopped="interrupted")
        return result, info, True
    return result, info, interrupted
