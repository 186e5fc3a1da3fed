"""What goes into a session folder (see README, "Session files").

    <s>_neutral.json             the analysis' device-neutral patch (what it measured)
    <s>_initial.json / .syx      starting patch (analysis), JSON and edit-buffer SysEx
    <s>_optimized.json / .syx    best patch found
    <s>_target.wav, <s>_di.wav   the target aligned to the DI, and the DI (working rate, float)
    <s>_take_initial.wav         the starting patch re-amped over the whole DI
    <s>_take_optimized.wav       the best patch re-amped over the whole DI
    <s>_residual_eq.csv          residual EQ curve (target - optimized take), frequency_hz,gain_db
    <s>_correction_ir.wav        minimum-phase correction IR of that curve (for a DAW)
    <s>_history.csv              every take: index, label, seconds, loss, terms, parameters
    <s>_report.txt               the report (cli.report)
    <s>_loss.png, <s>_spectra.png, <s>_mel.png   plots (cli.plots)
    <s>_session.json             options, alignment, excerpt, rig, figures (machine-readable);
                                 a minimal one ("complete": false, why) is written first and
                                 stays when a second interrupt or a write error cut the rest
    calibration.json             hardware rig only: latency, polarity, gain, replicate floor
    input.wav, output.wav        with --export-capture: DI and optimized take, 44.1 kHz float mono
"""

from __future__ import annotations

import logging
import math
import shlex

import numpy as np

from optimize.match_stages import render_full

from . import plots
from .report import format_report
from .residual import export_residual, report_lines

log = logging.getLogger("magicstomp.auto_match")

CAPTURE_RATE_HZ = 44100
CALIBRATION_NAME = "calibration.json"
#: below this the note says the pairing is loose: same-performance pairs scored 0.45-0.92 (one
#: at 0.13), unrelated ones 0.00-0.33 (benchmarks/follow_score.py)
LOOSE_FOLLOW_SCORE = 0.35


def _panel(take_initial, take_optimized, target, sample_rate, backend, di=None) -> dict:
    """``{metric: {"initial", "optimized"[, "bypass"]}}``; bypass = the dry DI vs the target."""
    from optimize.loss import SeedLoss, metric_panel

    seed = SeedLoss(target, sample_rate, backend=backend)      # built once for the three
    first = metric_panel(take_initial, target, sample_rate, backend=backend, seed_loss=seed)
    last = metric_panel(take_optimized, target, sample_rate, backend=backend, seed_loss=seed)
    dry = (metric_panel(di, target, sample_rate, backend=backend, seed_loss=seed)
           if di is not None else {})
    return {k: {"initial": first[k], "optimized": last.get(k),
                **({"bypass": dry[k]} if k in dry else {})} for k in first}


def _eq_changes(residual_eq) -> dict:
    """``{key: (search value, fitted value)}`` when the residual-EQ take was kept."""
    if not residual_eq or not residual_eq.get("kept"):
        return {}
    return {k: tuple(v) for k, v in residual_eq.get("changes", {}).items()}


def options_record(opts: dict, **resolved) -> dict:
    """Every option of the run (paths as text), an option left to its default (None) replaced
    by the value the run chose (``resolved``: budget, sample_rate, effect_type...)."""
    record = {k: _option_value(v) for k, v in opts.items()}
    record.update({k: v for k, v in resolved.items() if record.get(k) is None})
    return dict(sorted(record.items()))


def _option_value(value):
    """An option as JSON: a path as text, a loaded --start-patch as where it came from."""
    if hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, tuple) and len(value) == 2 and hasattr(value[0], "to_dict"):
        return value[1]                   # --start-patch: (Patch, its file or preset label)
    return value


def write_essentials(writer, *, opts, start, result, reason: str) -> None:
    """The files a run must never lose, written first: the starting and best patches
    (JSON and .syx) and a minimal ``<s>_session.json`` (``"complete": false`` and why),
    which the full one replaces at the end."""
    best = result.best_patch if result.best_patch is not None else start
    writer.write_patch("initial", start)
    writer.write_patch("optimized", best)
    write_minimal_session(writer, opts=opts, start=start, result=result, reason=reason)


def write_minimal_session(writer, *, opts, start, result, reason: str) -> None:
    """``<s>_session.json`` with what is known after the search (see :func:`write_essentials`)."""
    best = result.best_patch if result.best_patch is not None else start
    writer.write_json("_session.json", {
        "session": writer.name, "complete": False, "incomplete_reason": reason,
        "target": str(opts["target"]), "di": str(opts["di_path"]),
        "effect_type": {"id": best.effect_type.id, "name": best.effect_type.name},
        "takes": len(result.history), "stopped": result.stopped,
        "initial_loss": _finite(result.initial_loss), "final_loss": _finite(result.best_loss),
        "best_take": result.best_index, "seed": opts["seed"],
        "files": sorted(set(writer.files) | {f"{writer.name}_session.json"}),
    })


def write_session(writer, *, opts, pair, rig, result, space, start, optimizer, budget_takes,
                  floor, calibration, notes, seconds, skip_takes=False,
                  residual_eq=None, bypass=None, model=None) -> None:
    """Write every file of the session into ``writer`` (not yet published), the
    essentials first (:func:`write_essentials`).

    ``residual_eq`` is the record of :func:`optimize.match_residual.residual_eq_step` (None:
    not tried); ``bypass`` the loss of the dry DI against the target (:mod:`optimize.reference`);
    ``model`` the model evaluations ``{"used", "budget", "by_stage"}`` (None: not counted).
    """
    from optimize.reference import compare_to_bypass

    from .report import bypass_reading, next_step_lines

    sr = pair.sample_rate
    best = result.best_patch if result.best_patch is not None else start
    write_essentials(writer, opts=opts, start=start, result=result,
                     reason="the run stopped while the other session files were written")
    writer.write_wav("_target.wav", pair.target, sr)
    writer.write_wav("_di.wav", pair.di, sr)
    writer.write_history(result.history, start.effect_type.keys())
    notes = list(notes) + list(pair.warnings)
    follow = pair.alignment.get("follow_score")
    if follow is not None and follow < LOOSE_FOLLOW_SCORE:
        notes.append(f"the target follows the DI only loosely (follow score {follow:.2f}); "
                     "check that both files are the same performance")
    if opts["optimize"] and len(result.history) > 1 and result.best_loss >= result.initial_loss:
        notes.append("the search found no patch better than the starting patch; try a larger "
                     "--budget, another --effect-type or another --optimizer")
    if result.stopped == "interrupted":
        notes.append(f"interrupted by the user after {len(result.history)} takes; the optimized "
                     "patch is the best measured so far")
    panel = None
    if skip_takes:
        notes.append("the final full-length takes were skipped after the interruption")
    else:
        log.info("writing the session %s: full-length takes of the starting and the best "
                 "patch ...", writer.name)
        take_initial = render_full(rig, start, pair.di)
        take_optimized = render_full(rig, best, pair.di)
        writer.write_wav("_take_initial.wav", take_initial, sr)
        writer.write_wav("_take_optimized.wav", take_optimized, sr)
        log.info("scoring the metric panel and the residual curve ...")
        panel = _panel(take_initial, take_optimized, pair.target, sr, opts["analyzer"],
                       di=pair.di)
        exported = export_residual(writer, pair.target, take_optimized, sr)
        residual_eq = dict(residual_eq or {}, exported=" and ".join(exported["files"]),
                           final_residual_rms_db=exported["rms_db"])
        log.info("drawing the plots ...")
        signals = {"target": pair.target, "initial take": take_initial,
                   "optimized take": take_optimized}
        writer.write_png("_spectra.png", plots.spectra_figure(
            signals, sr, correction=(exported["freqs_hz"], exported["gain_db"])))
        writer.write_png("_mel.png", plots.mel_figure(signals, sr))
        if opts["export_capture"]:
            _export_capture(writer, pair.di, take_optimized, sr)
    writer.write_png("_loss.png", plots.loss_figure(result.history, bypass_loss=bypass))
    if calibration is not None:
        writer.write_text(CALIBRATION_NAME, _calibration_json(calibration), bare=True)
    rig_info = rig.describe()
    syx = writer.final_dir / f"{writer.name}_optimized.syx"
    steps = next_step_lines(syx, send_patch=bool(opts["send_patch"]), slot=opts["patch_number"])
    report = format_report(session=writer.name, result=result, space=space, rig=rig_info,
                           optimizer=optimizer, budget_takes=budget_takes, seconds=seconds,
                           metric_panel=panel, alignment=pair.alignment, replicate_floor=floor,
                           notes=notes, optimized=bool(opts["optimize"]),
                           extra_lines=report_lines(residual_eq), bypass_loss=bypass,
                           eq_changes=_eq_changes(residual_eq), next_steps=steps,
                           model_evaluations=model)
    writer.write_text("_report.txt", report)
    cmp = compare_to_bypass(result.best_loss, bypass) if bypass is not None else None
    writer.write_json("_session.json", {
        "session": writer.name, "target": str(opts["target"]), "di": str(opts["di_path"]),
        "effect_type": {"id": best.effect_type.id, "name": best.effect_type.name},
        "optimizer": optimizer if opts["optimize"] else None, "loss": opts["loss_name"],
        "budget_takes": budget_takes, "takes": len(result.history), "stopped": result.stopped,
        "model_budget": model["budget"] if model else None,
        "model_evaluations": model["used"] if model else None,
        "model_evaluations_by_stage": model["by_stage"] if model else None,
        "initial_loss": _finite(result.initial_loss), "final_loss": _finite(result.best_loss),
        "bypass_loss": _finite(bypass), "final_to_bypass": _finite(cmp.ratio) if cmp else None,
        "bypass_verdict": cmp.verdict if cmp else None,
        "reading": bypass_reading(result.best_loss, bypass), "patch_name": best.name,
        "take_numbering": "take 0 = the starting patch", "best_take": result.best_index,
        "replicate_floor": floor, "seconds": round(seconds, 2),
        "parameters": list(space.keys), "sample_rate": pair.sample_rate,
        "alignment": pair.alignment, "rig": rig_info, "seed": opts["seed"], "notes": notes,
        "metric_panel": panel, "residual_eq": residual_eq,
        "next_step": {"edit_buffer": f"magicstomp send {shlex.quote(str(syx))}",
                      "store": f"magicstomp send {shlex.quote(str(syx))} --slot N --yes"},
        "options": options_record(opts, budget=budget_takes, sample_rate=sr,
                                  effect_type=best.effect_type.name),
        "files": sorted(writer.files),
    })


def _calibration_json(record) -> str:
    import json

    from .session import _plain
    return json.dumps(_plain(record.to_dict()), indent=2) + "\n"


def _finite(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def _export_capture(writer, di, take, sample_rate) -> None:
    """``input.wav`` / ``output.wav``: 44.1 kHz, 32-bit float, mono (WaveNet capture trainers)."""
    from analyzers.loading import resample

    if sample_rate != CAPTURE_RATE_HZ:
        di = resample(di, sample_rate, CAPTURE_RATE_HZ)
        take = resample(take, sample_rate, CAPTURE_RATE_HZ)
    n = min(len(di), len(take))
    writer.write_wav("input.wav", np.asarray(di[:n]), CAPTURE_RATE_HZ, bare=True)
    writer.write_wav("output.wav", np.asarray(take[:n]), CAPTURE_RATE_HZ, bare=True)
