"""One ``auto_match_hil`` run, from validated options to a published session folder.

Order matters for safety: every name the user gave (optimizer, loss, effect
type, parameters, session, output folder, devices, MIDI port) is checked
before any audio is loaded or any take is made; files go to a partial folder
that is published only when complete (:mod:`cli.session`); the unit's slot is
written only after the session exists, with the bank backup inside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass

from magicstomp.errors import CalibrationError

from . import residual
from .matching import choose_excerpt, load_pair, make_evaluator, starting_patch
from .progress import Progress
from .session import SessionWriter, sanitize_session_name
from .session_files import write_session

log = logging.getLogger("magicstomp.auto_match")

CALIBRATION_FILE = "calibration.json"
HARDWARE_RATE_HZ = 48000


@dataclass
class Summary:
    """What the command prints and how it exits."""

    text: str
    interrupted: bool
    session_dir: object
    result: object


def _plan(opts: dict, default_budget: int) -> dict:
    """Check every name before any work: optimizer, loss, effect type, parameters."""
    from magicstomp.effects import effect_type
    from optimize.constraints import ParameterSpace
    from optimize.loss import get_loss
    from optimize.search import get_strategy

    plan = {"optimizer": opts["optimizer"] if opts["optimize"] else "coordinate"}
    get_strategy(plan["optimizer"])
    plan["loss_cls"] = get_loss(opts["loss_name"])
    plan["type"] = effect_type(opts["effect_type"]) if opts["effect_type"] is not None else None
    if plan["type"] is not None:
        if opts["rig"] == "virtual":
            from magicstomp.emulator import processor_class
            processor_class(plan["type"])
        ParameterSpace(plan["type"], opts["optimize_params"])
    plan["budget"] = opts["budget"] or default_budget
    return plan


def _budget(opts: dict, plan: dict, space) -> int:
    """Takes in total: 1 without --optimize; --budget; the seed's --max-iterations passes
    (1 + 2 x parameters x passes); else the default."""
    if not opts["optimize"]:
        return 1
    if opts["budget"] is None and opts["max_iterations"]:
        return 1 + 2 * space.size * opts["max_iterations"]
    return plan["budget"]


def _open_hardware(opts: dict, stack: contextlib.ExitStack, sample_rate: int):
    """Devices, MIDI and calibration for the hardware rig (calibrating with --calibrate)."""
    from hil.calibration import CalibrationRecord, calibrate
    from hil.io import resolve_device
    from hil.rig import HardwareRig
    from magicstomp.patch import Patch

    in_dev = resolve_device(opts["in_device"], "input")
    out_dev = resolve_device(opts["out_device"], "output")
    midi = _open_midi(opts, stack)
    shared = opts["out_dir"] / CALIBRATION_FILE
    if opts["calibrate"]:
        log.info("calibrating %s -> %s at %d Hz", out_dev.name, in_dev.name, sample_rate)
        record = calibrate(in_device=in_dev.index, out_device=out_dev.index, in_ch=opts["in_ch"],
                           out_ch=opts["out_ch"], sample_rate=sample_rate, midi=midi,
                           patch=_clean_patch(Patch), on_dropout=opts["on_dropout"])
        for warning in record.warnings:
            log.warning("calibration: %s", warning)
        record.save(shared)
    else:
        record = CalibrationRecord.load(shared) if shared.exists() else None
        if record is None or not record.matches((in_dev, out_dev), sample_rate,
                                                in_ch=opts["in_ch"], out_ch=opts["out_ch"]):
            raise CalibrationError(
                f"no calibration for {in_dev.name} / {out_dev.name} at {sample_rate} Hz in "
                f"{shared}; add --calibrate to measure the re-amp chain first")
    rig = stack.enter_context(HardwareRig(
        in_device=in_dev.index, out_device=out_dev.index, in_ch=opts["in_ch"],
        out_ch=opts["out_ch"], sample_rate=sample_rate, midi=midi, calibration=record,
        pacing_ms=opts["pacing_ms"], on_dropout=opts["on_dropout"]))
    return rig, midi, record


def _clean_patch(patch_cls):
    """A flat 3-band EQ at unity: what the unit plays while the chain is calibrated."""
    patch = patch_cls.init("3 Band Parametric EQ")
    for key in ("eq_gain_1_db", "eq_gain_2_db", "eq_gain_3_db"):
        patch.set(key, 0.0)
    return patch


def _open_midi(opts: dict, stack: contextlib.ExitStack):
    from magicstomp.midi import MagicstompMidi

    midi = MagicstompMidi(opts["midi_port"]).open()
    stack.callback(midi.close)
    return midi


def run_match(opts: dict, *, default_budget: int, virtual_rate_hz: int, started: float) -> Summary:
    """Run the whole match; returns the printed summary (raises toolkit errors)."""
    from hil.rig import VirtualRig
    from optimize.constraints import ParameterSpace
    from optimize.search import run_search

    plan = _plan(opts, default_budget)
    name = sanitize_session_name(opts["session_name"])
    hardware = opts["rig"] == "hardware"
    sample_rate = opts["sample_rate"] or (HARDWARE_RATE_HZ if hardware else virtual_rate_hz)
    with SessionWriter(opts["out_dir"], name, force=opts["force"]) as writer, \
            contextlib.ExitStack() as stack:
        calibration = midi = None
        if not hardware:
            rig = stack.enter_context(VirtualRig(sample_rate=sample_rate))
            if opts["send_patch"]:
                midi = _open_midi(opts, stack)
        pair = load_pair(opts["target"], opts["di_path"], sample_rate=sample_rate,
                         min_follow=opts["min_follow_score"])
        if hardware:      # refuse a DI the sound card must not play before calibrating
            from hil.rig import MAX_SEND_PEAK_DBFS, check_di
            check_di(pair.di, max_peak_dbfs=MAX_SEND_PEAK_DBFS)
            rig, midi, calibration = _open_hardware(opts, stack, sample_rate)
        patch, notes, neutral = starting_patch(pair, effect_type=plan["type"],
                                               analyzer=opts["analyzer"])
        writer.write_text("_neutral.json", neutral.to_json())
        if not hardware:
            from magicstomp.emulator import processor_class
            processor_class(patch.effect_type)
        space = ParameterSpace(patch.effect_type, opts["optimize_params"])
        log.debug("parameter space:\n%s", space.describe())
        plan["budget"] = _budget(opts, plan, space)
        excerpt = choose_excerpt(pair.di, sample_rate, seconds=opts["excerpt"])
        if excerpt.samples < pair.di.size:
            notes.append(excerpt.describe(sample_rate))
        loss_cls = plan["loss_cls"]
        loss_opts = {"backend": opts["analyzer"]} if opts["loss_name"] == "seed" else {}
        if opts["loss_name"] == "match":     # MatchLoss reads LFO modulation relative to the DI
            loss_opts = {"di": pair.di[excerpt.start:excerpt.stop]}
        loss = loss_cls(pair.target[excerpt.start:excerpt.stop], sample_rate, **loss_opts)
        floor = _replicate_floor(rig, patch, pair, excerpt, loss_cls, loss_opts)
        if calibration is not None:
            calibration = calibration.with_values(replicate_floor=floor)
        strategy_opts = {"min_improvement": floor} if plan["optimizer"] == "coordinate" else {}
        if plan["optimizer"] == "ours":
            from optimize.hints import analysis_hints
            strategy_opts["hints"] = analysis_hints(space, neutral.features, start=patch)
            if opts["optimize_params"]:
                strategy_opts["screen"] = False   # --optimize-params: exactly those fields move
        progress = Progress(plan["budget"])
        log.info("matching %s with %s: %s, budget %d takes", patch.effect_type.name,
                 plan["optimizer"] if opts["optimize"] else "no search", ", ".join(space.keys),
                 plan["budget"])
        from optimize.take_alignment import TakeAligner     # the effect's latency and polarity
        evaluate = make_evaluator(rig, loss, pair.di, excerpt,
                                  aligner=TakeAligner(loss.target, sample_rate))
        fit_eq = residual.planned(opts, patch) and plan["budget"] >= 3
        try:      # with the residual EQ, its one take is reserved in the budget
            result = run_search(plan["optimizer"], space=space, start=patch, evaluate=evaluate,
                                budget_takes=plan["budget"] - int(fit_eq), seed=opts["seed"],
                                on_take=[progress], **strategy_opts)
        finally:
            progress.close()
        interrupted = result.stopped == "interrupted"
        eq_info = {"skipped": residual.skip_reason(opts, patch, plan["budget"])}
        if fit_eq and not interrupted:
            try:
                result, eq_info = residual.residual_eq_step(
                    result, pair=pair, excerpt=excerpt, evaluate=evaluate,
                    budget_takes=plan["budget"], keys=residual.fit_keys(opts, patch))
            except KeyboardInterrupt:
                interrupted = True
                result = dataclasses.replace(result, stopped="interrupted")
        write_session(writer, opts=opts, pair=pair, rig=rig, result=result, space=space,
                      start=patch, optimizer=plan["optimizer"], budget_takes=plan["budget"],
                      floor=floor, calibration=calibration, notes=notes,
                      seconds=time.monotonic() - started, skip_takes=interrupted and hardware,
                      residual_eq=eq_info)
        session_dir = writer.commit()
        if opts["send_patch"] and not interrupted:
            _send(midi, result.best_patch, opts["patch_number"], session_dir,
                  pacing_ms=opts["pacing_ms"])
    text = (f"Session {session_dir}: {len(result.history)} takes ({result.stopped}), initial loss "
            f"{result.initial_loss:.6g}, final loss {result.best_loss:.6g} "
            f"({result.improvement_pct:.1f} % lower), {time.monotonic() - started:.1f} s")
    return Summary(text=text, interrupted=interrupted, session_dir=session_dir, result=result)


def _replicate_floor(rig, patch, pair, excerpt, loss_cls, loss_opts) -> float:
    """Loss between two takes of the starting patch (0 for a deterministic rig)."""
    from hil.calibration import replicate_floor

    pre = excerpt.preroll
    segment = pair.di[excerpt.start - pre:excerpt.stop]

    def loss2(take, reference):
        return float(loss_cls(reference[pre:], pair.sample_rate, **loss_opts)(take[pre:]).total)

    floor = replicate_floor(rig, patch, segment, loss2)
    log.debug("replicate floor: %.6g", floor)
    return floor


def _send(midi, patch, slot, session_dir, *, pacing_ms: float) -> None:
    """Edit buffer, or user slot ``slot`` after a bank backup into the session folder."""
    if slot is None:
        midi.send_patch(patch, pacing_ms=pacing_ms)
        log.info("sent the best patch to the unit's edit buffer (not stored)")
        return
    backup = midi.store_to_slot(patch, slot, backup_dir=session_dir, pacing_ms=pacing_ms)
    log.info("stored the best patch to user slot %d; the previous bank is in %s", slot, backup)
