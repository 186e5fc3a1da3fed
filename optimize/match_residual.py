"""The residual-EQ stage of a match (:func:`optimize.match.match`).

After the search, :func:`residual_eq_step` fits the remaining long-term spectral
difference (target minus the best patch, on the matched excerpt) onto the
patch's own EQ controls (:func:`optimize.residual_eq.fit_eq_controls`). The
fit's probes are rendered by the virtual Magicstomp (a model of the unit, no
take), counted against the model budget; then ONE take of the EQ-adjusted patch
is measured on the rig, added to the history as ``residual-eq`` and kept only if
its loss is lower. The match reserves that take in the budget before the search.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

from magicstomp.errors import MagicstompError

log = logging.getLogger("magicstomp.auto_match")

LABEL = "residual-eq"
#: Gauss-Newton rounds of the fit (fit_eq_controls' default)
FIT_ROUNDS = 2


def fit_keys(patch, chosen=None) -> tuple:
    """The EQ controls the residual EQ may set: the type's, within ``chosen`` (the keys of
    ``optimize_params``) if given (that option means exactly those fields move)."""
    from .residual_eq import eq_keys

    keys = eq_keys(patch.effect_type)
    return tuple(k for k in keys if k in chosen) if chosen else keys


def planned(plan, patch, chosen=None) -> bool:
    """True when the match will try the residual EQ (so one take is reserved for it)."""
    return bool(plan.optimize and plan.residual_eq and fit_keys(patch, chosen))


#: model scores that choose the strength of the fit: the search's best, the fit, half of it
STRENGTH_EVALUATIONS = 3


def model_evaluations_needed(keys) -> int:
    """Most model renders one fit makes: the start, then per round a probe per control and
    the candidate, and the scores that choose its strength."""
    return 1 + FIT_ROUNDS * (len(keys) + 1) + STRENGTH_EVALUATIONS


def skip_reason(plan, patch, budget_takes: int, chosen=None) -> str:
    """Why the residual EQ is not fitted in this match (for the report)."""
    from .residual_eq import eq_keys

    if not plan.optimize:
        return "no --optimize"
    if not plan.residual_eq:
        return "--no-residual-eq"
    if not eq_keys(patch.effect_type):
        return f"{patch.effect_type.name} has no EQ controls"
    if not fit_keys(patch, chosen):
        return "--optimize-params names none of the EQ controls " \
               f"({', '.join(eq_keys(patch.effect_type))})"
    if budget_takes < 3:
        return "the budget is too small (fewer than 3 takes)"
    return "interrupted"


def residual_eq_step(result, *, pair, excerpt, evaluate, budget_takes: int, keys=None,
                     model=None, model_evaluate=None):
    """Fit the residual onto the EQ controls, measure one take, keep it if better.

    Parameters
    ----------
    result : optimize.search.SearchResult
        The search's result (not modified).
    pair : optimize.pairs.Pair
        Target and DI.
    excerpt : optimize.pairs.Excerpt
        The matched window (the fit uses the same one as the loss).
    evaluate : callable
        The search's ``evaluate(patch) -> LossValue`` (one rig take).
    budget_takes : int
        Takes in total; the step makes no take when none is left.
    keys : tuple of str, optional
        EQ controls to set (default: all of the type's, see :func:`fit_keys`).
    model : optimize.match_plan.ModelBudget, optional
        Counts the fit's renders (and renders through its unit variant); the step is
        skipped when fewer evaluations are left than a fit may need. None = an
        unlimited nominal model.
    model_evaluate : callable, optional
        ``model_evaluate(patch) -> LossValue`` on the model (counted in ``model``): the
        fit (which minimizes the spectral residual) and the fit at half strength are
        scored with the match's own loss, and the lower one gets the take. None = the
        full fit.

    Returns
    -------
    (SearchResult, dict)
        The result with the ``residual-eq`` take appended (and the best patch
        replaced when it is better), and a record for the report.
    """
    from .match_plan import ModelBudget
    from .residual_eq import eq_keys, fit_eq_controls

    best = result.best_patch
    sr = pair.sample_rate
    info = {"loss_before": result.best_loss, "changes": {}, "kept": False}
    if best is None or not math.isfinite(result.best_loss):
        info["skipped"] = "no finite loss was measured"
        return result, info
    if len(result.history) >= budget_takes:
        info["skipped"] = "no take left in the budget"
        return result, info
    model = ModelBudget(10**9) if model is None else model
    needed = model_evaluations_needed(eq_keys(best.effect_type) if keys is None else keys)
    if model.left < needed:
        info["skipped"] = (f"the model budget is spent ({model.left} evaluations left, the fit "
                           f"may need {needed})")
        return result, info
    segment = pair.di[excerpt.start - excerpt.preroll:excerpt.stop]
    target = pair.target[excerpt.start:excerpt.stop]

    def render(patch):
        return model.render(patch, segment, sr, "residual EQ")[excerpt.preroll:]

    try:
        fit = fit_eq_controls(best, target, render, sr, keys=keys, rounds=FIT_ROUNDS)
    except MagicstompError as exc:      # e.g. a type the emulator cannot model
        info["skipped"] = f"the fit failed: {exc}"
        return result, info
    info.update(residual_rms_db_before=round(fit.before_rms_db, 2),
                residual_rms_db_predicted=round(fit.after_rms_db, 2),
                changes={k: [old, new] for k, (old, new) in fit.changes.items()})
    if not fit.changes:
        info["skipped"] = "the fit changed no control (the residual is already as small as " \
                          "the EQ controls can make it)"
        return result, info
    patch = fit.patch if model_evaluate is None else _strength(best, fit, model_evaluate, info)
    return _measure(result, patch, evaluate, info)


def _strength(best, fit, model_evaluate, info):
    """The fit or the fit at half strength, whichever the model scores lower (the fit
    minimizes the spectral residual, the match's loss weighs more than the spectrum)."""
    from .constraints import ParameterSpace

    space = ParameterSpace(best.effect_type, tuple(fit.changes))
    half = space.from_unit(best, 0.5 * (space.to_unit(best) + space.to_unit(fit.patch)))
    scored = {}
    for label, patch in (("search", best), ("fit", fit.patch), ("half", half)):
        value = model_evaluate(patch)
        scored[label] = float(getattr(value, "total", value))
    info["model_losses"] = {k: round(v, 6) for k, v in scored.items()}
    if scored["half"] < scored["fit"] and half != best:
        info["strength"] = "half"
        info["changes"] = {k: [best.get(k), half.get(k)] for k in fit.changes
                           if best.get_raw(k) != half.get_raw(k)}
        return half
    info["strength"] = "full"
    return fit.patch


def _measure(result, patch, evaluate, info):
    """One take of the fitted patch, appended to the history; kept when lower."""
    from .search import Take

    t0 = time.perf_counter()
    value = evaluate(patch)
    seconds = time.perf_counter() - t0
    total = float(getattr(value, "total", value))
    if not math.isfinite(total):
        total = math.inf
    terms = dict(getattr(value, "terms", {}) or {})
    take = Take(index=len(result.history), params=patch.values(), loss=total, terms=terms,
                seconds=seconds, label=LABEL)
    history = list(result.history) + [take]
    info.update(loss_after=total, take=take.index, kept=total < result.best_loss)
    log.info("residual EQ: %s; loss %.6g -> %.6g (%s)", describe_changes(info["changes"]),
             result.best_loss, total, "kept" if info["kept"] else "discarded")
    if info["kept"]:
        return dataclasses.replace(result, history=history, best_patch=patch.copy(),
                                   best_loss=total, best_index=take.index), info
    return dataclasses.replace(result, history=history), info


def describe_changes(changes: dict) -> str:
    return ", ".join(f"{k} {_num(a)} -> {_num(b)}" for k, (a, b) in changes.items()) or "none"


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
