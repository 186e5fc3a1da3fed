"""The residual-EQ step of ``auto_match_hil`` and its session exports.

After the search, :func:`residual_eq_step` fits the remaining long-term
spectral difference (target minus the best patch, on the matched excerpt) onto
the patch's own EQ controls (:func:`optimize.residual_eq.fit_eq_controls`).
The fit's probes are rendered by the virtual Magicstomp (a model of the unit,
no take); then ONE take of the EQ-adjusted patch is measured on the rig, added
to the history as ``residual-eq`` and kept only if its loss is lower. The
pipeline reserves that take in the budget before the search.

:func:`export_residual` writes ``<s>_residual_eq.csv`` (``frequency_hz,gain_db``)
and ``<s>_correction_ir.wav`` (minimum-phase FIR) from the final full-length
take against the target, for a DAW.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from magicstomp.errors import MagicstompError

log = logging.getLogger("magicstomp.auto_match")

LABEL = "residual-eq"
CURVE_SUFFIX = "_residual_eq.csv"
IR_SUFFIX = "_correction_ir.wav"
IR_LENGTH = 2048


def fit_keys(opts: dict, patch) -> tuple:
    """The EQ controls the residual EQ may set: the type's, within ``--optimize-params`` if given
    (that option means exactly those fields move)."""
    from optimize.residual_eq import eq_keys

    keys = eq_keys(patch.effect_type)
    chosen = opts.get("optimize_params")
    return tuple(k for k in keys if k in chosen) if chosen else keys


def planned(opts: dict, patch) -> bool:
    """True when the run will try the residual EQ (so one take is reserved for it)."""
    return bool(opts["optimize"] and not opts.get("no_residual_eq") and fit_keys(opts, patch))


def skip_reason(opts: dict, patch, budget_takes: int) -> str:
    """Why the residual EQ is not fitted in this run (for the report)."""
    from optimize.residual_eq import eq_keys

    if not opts["optimize"]:
        return "no --optimize"
    if opts.get("no_residual_eq"):
        return "--no-residual-eq"
    if not eq_keys(patch.effect_type):
        return f"{patch.effect_type.name} has no EQ controls"
    if not fit_keys(opts, patch):
        return "--optimize-params names none of the EQ controls " \
               f"({', '.join(eq_keys(patch.effect_type))})"
    if budget_takes < 3:
        return "the budget is too small (fewer than 3 takes)"
    return "interrupted"


def residual_eq_step(result, *, pair, excerpt, evaluate, budget_takes: int, keys=None):
    """Fit the residual onto the EQ controls, measure one take, keep it if better.

    Parameters
    ----------
    result : optimize.search.SearchResult
        The search's result (not modified).
    pair : cli.matching.Pair
        Target and DI.
    excerpt : cli.matching.Excerpt
        The matched window (the fit uses the same one as the loss).
    evaluate : callable
        The search's ``evaluate(patch) -> LossValue`` (one rig take).
    budget_takes : int
        Takes in total; the step makes no take when none is left.
    keys : tuple of str, optional
        EQ controls to set (default: all of the type's, see :func:`fit_keys`).

    Returns
    -------
    (SearchResult, dict)
        The result with the ``residual-eq`` take appended (and the best patch
        replaced when it is better), and a record for the report.
    """
    from magicstomp.emulator import render, to_mono
    from optimize.residual_eq import fit_eq_controls

    best = result.best_patch
    sr = pair.sample_rate
    info = {"loss_before": result.best_loss, "changes": {}, "kept": False}
    if best is None or not math.isfinite(result.best_loss):
        info["skipped"] = "no finite loss was measured"
        return result, info
    if len(result.history) >= budget_takes:
        info["skipped"] = "no take left in the budget"
        return result, info
    segment = pair.di[excerpt.start - excerpt.preroll:excerpt.stop]
    target = pair.target[excerpt.start:excerpt.stop]

    def model(patch):
        return to_mono(render(patch, segment, sr))[excerpt.preroll:]

    try:
        fit = fit_eq_controls(best, target, model, sr, keys=keys)
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
    from optimize.search import Take

    t0 = time.perf_counter()
    value = evaluate(fit.patch)
    seconds = time.perf_counter() - t0
    total = float(getattr(value, "total", value))
    if not math.isfinite(total):
        total = math.inf
    terms = dict(getattr(value, "terms", {}) or {})
    take = Take(index=len(result.history), params=fit.patch.values(), loss=total, terms=terms,
                seconds=seconds, label=LABEL)
    history = list(result.history) + [take]
    info.update(loss_after=total, take=take.index, kept=total < result.best_loss)
    log.info("residual EQ: %s; loss %.6g -> %.6g (%s)", _describe(info["changes"]),
             result.best_loss, total, "kept" if info["kept"] else "discarded")
    if info["kept"]:
        return dataclasses.replace(result, history=history, best_patch=fit.patch.copy(),
                                   best_loss=total, best_index=take.index), info
    return dataclasses.replace(result, history=history), info


def _describe(changes: dict) -> str:
    return ", ".join(f"{k} {_num(a)} -> {_num(b)}" for k, (a, b) in changes.items()) or "none"


def _num(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def report_lines(info: dict | None) -> list:
    """The ``Residual EQ`` section of the report (empty without a record)."""
    if info is None:
        return []
    from .report import fmt_loss

    lines = ["", "Residual EQ (long-term spectrum fitted onto the patch's EQ controls):"]
    if "residual_rms_db_before" in info:
        lines.append(f"  residual before: {info['residual_rms_db_before']:.2f} dB rms "
                     f"(60 Hz-12 kHz), predicted after: {info['residual_rms_db_predicted']:.2f}"
                     " dB rms")
    if info.get("skipped"):
        lines.append(f"  not fitted: {info['skipped']}")
    elif "loss_after" in info:
        lines.append(f"  changed: {_describe(info['changes'])}")
        lines.append(f"  loss before: {fmt_loss(info['loss_before'])}, after: "
                     f"{fmt_loss(info['loss_after'])} (take {info['take']}, "
                     f"{'kept' if info['kept'] else 'discarded: not lower'})")
    if info.get("exported"):
        lines.append(f"  what remains ({info['final_residual_rms_db']:.2f} dB rms, final take vs "
                     f"target) is exported as {info['exported']}")
    return lines


def export_residual(writer, target, take, sample_rate: int) -> dict:
    """Write the correction curve (CSV) and the correction IR (WAV) of ``take`` vs ``target``.

    Returns ``{"files": [...], "rms_db": residual rms in the fit range, "freqs_hz": centres,
    "gain_db": the exported (clipped, faded) correction curve}``.
    """
    from optimize.residual_eq import (FIT_RANGE_HZ, correction_ir, residual_curve,
                                      smooth_curve, write_correction_ir, write_curve_csv)

    freqs, diff = residual_curve(np.asarray(target), np.asarray(take), sample_rate)
    csv_path = writer.register(write_curve_csv(writer.path(CURVE_SUFFIX), freqs, diff))
    ir = correction_ir(freqs, diff, sample_rate, length=IR_LENGTH)
    ir_path = writer.register(write_correction_ir(writer.path(IR_SUFFIX), ir, sample_rate))
    band = (freqs >= FIT_RANGE_HZ[0]) & (freqs <= FIT_RANGE_HZ[1])
    rms_db = float(np.sqrt(np.mean(np.asarray(diff)[band] ** 2)))
    return {"files": [csv_path.name, ir_path.name], "rms_db": round(rms_db, 2),
            "freqs_hz": np.asarray(freqs), "gain_db": smooth_curve(freqs, diff)}
