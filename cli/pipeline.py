"""One ``auto_match_hil`` run, from validated options to a published session folder.

The match itself is the library's (:func:`optimize.match.match`, stages and budgets
in README "How a match runs"); here the options become a
:class:`~optimize.match_plan.MatchPlan`, the devices are opened, and what the match
returns is printed and written as a session.

Order matters for safety: every name the user gave (optimizer, loss, effect
type, parameters, session, output folder, devices, MIDI port) is checked
before any audio is loaded or any take is made; files go to a partial folder
that is published only when complete (:mod:`cli.session`); the unit's slot is
written only after the session exists, with the bank backup inside it, and
read back (``magicstomp.midi_store``). A unit or device that vanishes mid-search
stops the search like Ctrl-C (:class:`FaultGuard`): the session is written with
the best patch so far (without the final full-length takes) and the run exits 1
naming what vanished.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import time
from dataclasses import dataclass

import click

from magicstomp.errors import CalibrationError, ParameterError
from optimize.match_plan import (DEFAULT_MODEL_BUDGET, MAX_BUDGET_TAKES,  # noqa: F401
                                 MatchPlan)

from .interrupts import quiet_from_now, sigterm_as_interrupt
from .progress import Progress
from .session import SessionWriter, public_error, sanitize_session_name
from .session_files import write_minimal_session, write_session

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
    fault: str | None = None


def build_plan(opts: dict, default_budget: int) -> MatchPlan:
    """The options as a checked MatchPlan, before any work: a bad ``--optimize-params`` name
    is a usage error (exit 2); on the virtual rig the type must be one it emulates."""
    start = opts.get("start_patch")
    profile = None
    if opts.get("unit_profile") is not None:
        from optimize.unit_profile import load_unit_profile
        profile = load_unit_profile(opts["unit_profile"])
    budget = opts["budget"]
    if budget is None and not opts["max_iterations"]:
        budget = default_budget
    plan = _as_usage_error(
        MatchPlan, effect_type=opts["effect_type"],
        start_patch=start[0] if start else None,
        start_label=start[1] if start else "--start-patch", optimize=bool(opts["optimize"]),
        optimizer=opts["optimizer"], budget_takes=budget,
        max_iterations=opts["max_iterations"], model_budget=opts.get("model_budget", DEFAULT_MODEL_BUDGET),
        seed=opts["seed"], residual_eq=not opts.get("no_residual_eq"),
        optimize_params=opts["optimize_params"], loss=opts["loss_name"],
        **({"search_space": opts["search_space"]} if opts.get("search_space") else {}),
        analyzer=opts["analyzer"], excerpt_s=opts["excerpt"],
        patch_name=opts["session_name"] or None,
        model_variant=profile.variant if profile is not None else None,
        virtual_first=profile is not None)
    if plan.effect_type is not None and opts["rig"] == "virtual":
        from magicstomp.emulator import processor_class
        processor_class(plan.effect_type)
    return plan


def _as_usage_error(func, *args, **kwargs):
    """``func(*args, **kwargs)``; a bad ``--optimize-params`` name is a usage error (exit 2)."""
    try:
        return func(*args, **kwargs)
    except ParameterError as exc:
        if exc.field != "optimize_params":
            raise
        raise click.UsageError(str(exc)) from None


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
    damaged = not opts["calibrate"] and _damaged_calibration(shared)
    if opts["calibrate"] or damaged:
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


def _damaged_calibration(path) -> bool:
    """True (after a one-line warning) when ``path`` exists but cannot be used."""
    from hil.calibration import CalibrationRecord
    if not path.exists():
        return False
    try:
        CalibrationRecord.load(path)
    except CalibrationError as exc:
        reason = str(exc).split("; run ")[0].split("; calibrate again")[0]
        log.warning("ignoring the damaged calibration file (%s); measuring a new one", reason)
        return True
    return False


def _clean_patch(patch_cls):
    """A flat 3-band EQ at unity: what the unit plays while the chain is calibrated."""
    patch = patch_cls.init("3 Band Parametric EQ")
    for key in ("eq_gain_1_db", "eq_gain_2_db", "eq_gain_3_db"):
        patch.set(key, 0.0)
    return patch


def _open_midi(opts: dict, stack: contextlib.ExitStack):
    from magicstomp.midi import MagicstompMidi

    midi = MagicstompMidi(opts["midi_port"]).open()
    stack.callback(_close_midi, midi)
    return midi


def _close_midi(midi) -> None:
    """Close the MIDI ports, or, when an audio stream was left open (its JACK server may be
    stalled: rtmidi's close would block), let go of them: the process leaves with os._exit
    right after (cli.common)."""
    import sys
    audio = sys.modules.get("hil.io")
    if audio is not None and audio.audio_stalled():
        midi.abandon()
    else:
        midi.close()


def run_match(opts: dict, *, default_budget: int, virtual_rate_hz: int, started: float) -> Summary:
    """Run the whole match; returns the printed summary (raises toolkit errors)."""
    from hil.rig import VirtualRig
    from optimize.match import match
    from optimize.pairs import load_pair

    plan = build_plan(opts, default_budget)  # usage errors first: one line, nothing before it
    log.info("starting: %s ...", "the hardware rig" if opts["rig"] == "hardware" else
             "the virtual Magicstomp (the first run after installing also compiles its DSP "
             "kernels: about 30 s more)")
    name = sanitize_session_name(opts["session_name"])
    hardware = opts["rig"] == "hardware"
    sample_rate = opts["sample_rate"] or (HARDWARE_RATE_HZ if hardware else virtual_rate_hz)
    with sigterm_as_interrupt(), SessionWriter(opts["out_dir"], name,
                                               force=opts["force"]) as writer, \
            contextlib.ExitStack() as stack:
        calibration = midi = None
        if not hardware:
            rig = stack.enter_context(VirtualRig(sample_rate=sample_rate,
                                                 variant=opts.get("virtual_variant")))
            if opts["send_patch"]:
                midi = _open_midi(opts, stack)
        log.info("loading the target %s and the DI %s at %d Hz, aligning them ...",
                 opts["target"], opts["di_path"], sample_rate)
        pair = load_pair(opts["target"], opts["di_path"], sample_rate=sample_rate,
                         min_follow=opts["min_follow_score"], excerpt_s=opts["excerpt"])
        _log_alignment(pair)
        if hardware:      # refuse a DI the sound card must not play before calibrating
            from hil.rig import MAX_SEND_PEAK_DBFS, check_di
            check_di(pair.di, max_peak_dbfs=MAX_SEND_PEAK_DBFS)
            rig, midi, calibration = _open_hardware(opts, stack, sample_rate)
        log.info("analysing the target (%s) for a starting patch ...", opts["analyzer"])
        _log_choices(rig, opts, plan)
        stages = _SessionStages(writer)
        try:
            found = match(plan, pair, rig, on_take=[writer.best_patch_saver(), stages.progress],
                          on_stage=stages)
        finally:
            stages.close()
        result, fault = found.search, _fault_text(found.fault)
        interrupted = found.interrupted
        if opts["optimize_params"]:       # aliases resolved: the session records the keys
            opts["optimize_params"] = list(found.space.keys)
        if calibration is not None:
            calibration = calibration.with_values(replicate_floor=found.floor)
        try:
            write_session(writer, opts=opts, pair=pair, rig=rig, result=result,
                          space=found.space, start=found.start, optimizer=found.optimizer,
                          budget_takes=found.budget_takes, floor=found.floor,
                          calibration=calibration, notes=found.notes,
                          seconds=time.monotonic() - started,
                          skip_takes=(interrupted and hardware) or fault is not None,
                          residual_eq=found.residual_eq, bypass=found.bypass,
                          model=_model_record(found))
            session_dir = writer.commit()
        except (KeyboardInterrupt, OSError) as exc:
            partial = writer.dir
            session_dir = _publish_essentials(writer, opts, found.start, result, exc)
            if isinstance(exc, OSError):
                raise public_error(exc, partial, writer.final_dir) from None
            if session_dir is None:
                raise
            interrupted = True
        if interrupted:       # saved: a late Ctrl-C must not kill the exit with code 130
            quiet_from_now()
        if opts["send_patch"] and not interrupted and fault is None:
            _send(midi, result.best_patch, opts["patch_number"], session_dir,
                  pacing_ms=opts["pacing_ms"])
    lines = summary_lines(session_dir, result, found.bypass, time.monotonic() - started,
                          send_patch=opts["send_patch"] and not interrupted and fault is None,
                          slot=opts["patch_number"], model=_model_record(found))
    if result.ended_worse_loss is not None:
        lines.insert(1, f"The search ended worse ({result.ended_worse_loss:.6g}): the starting "
                        "patch is published unchanged.")
    return Summary(text="\n".join(lines), interrupted=interrupted and fault is None,
                   session_dir=session_dir, result=result, fault=fault)


class _SessionStages:
    """``on_stage`` of the match: the session's files as the stages end, and the progress
    bar of the search (created once the take budget is known)."""

    def __init__(self, writer):
        self.writer, self.bar = writer, None

    def __call__(self, stage: str, state) -> None:
        if stage == "start":
            self.writer.write_text("_neutral.json", state.neutral.to_json())
        elif stage == "type_screen" and state.type_screen is not None:
            self.writer.write_json("_type_screen.json", state.type_screen.to_dict())
        elif stage == "ready":
            self.bar = Progress(state.budget_takes)
            self.writer.write_patch("initial", state.patch)
        elif stage == "search":
            self.close()

    def progress(self, take, recorder) -> None:
        if self.bar is not None:
            self.bar(take, recorder)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fault_text(exc) -> str | None:
    """The fault's sentence without its advice tail, lower-case first (for "because ...")."""
    if exc is None:
        return None
    return str(exc).rstrip(".")


def _model_record(found) -> dict:
    """The model evaluations of a match, for the session, the report and the summary."""
    return {"used": found.model_evaluations, "budget": found.model_budget,
            "by_stage": dict(found.model_by_stage)}


def summary_lines(session_dir, result, bypass, seconds: float, *, send_patch: bool,
                  slot=None, model: dict | None = None) -> list:
    """What the console prints at the end (stdout): figures, their reading, the next step."""
    from .report import bypass_reading, fmt_loss

    syx = session_dir / f"{session_dir.name}_optimized.syx"
    lines = [f"Session {session_dir}: {len(result.history)} takes ({result.stopped}), best take "
             f"{result.best_index} (take 0 = the starting patch), initial loss "
             f"{fmt_loss(result.initial_loss)}, final loss {fmt_loss(result.best_loss)} "
             f"({result.improvement_pct:.1f} % lower), bypass (dry DI) {fmt_loss(bypass)}, "
             f"{seconds:.1f} s{_model_text(model)}",
             bypass_reading(result.best_loss, bypass)]
    if send_patch:
        where = "the edit buffer" if slot is None else f"user slot {slot}"
        lines.append(f"Sent to {where} of the unit.")
    else:
        lines.append(f"Next step: magicstomp send {shlex.quote(str(syx))}   (edit buffer; add "
                     "--slot N --yes to store it to user slot N; or re-run with --send-patch)")
    return lines


def _model_text(model: dict | None) -> str:
    """", N of M model evaluations" (the virtual Magicstomp as a model, no take)."""
    if model is None:
        return ""
    return f", {model['used']} of {model['budget']} model evaluations"


def _log_alignment(pair) -> None:
    a = pair.alignment
    log.info("aligned: target offset %s ms, polarity %s, follow score %s, %.1f s of audio",
             a.get("offset_ms", "?"), "inverted" if a.get("polarity") == -1 else "normal",
             a.get("follow_score", "?"), pair.duration_s)


def _log_choices(rig, opts: dict, plan: MatchPlan) -> None:
    """--verbose: which rig, analyzer backend, loss and optimizer this run uses."""
    from analyzers.factory import get_analyzer

    analyzer = get_analyzer(opts["analyzer"])
    log.debug("rig: %s (%s)", type(rig).__name__, ", ".join(
        f"{k}={v}" for k, v in rig.describe().items() if k != "takes"))
    log.debug("analyzer backend: %s (%s.%s)", opts["analyzer"], type(analyzer).__module__,
              type(analyzer).__name__)
    from optimize.loss import get_loss

    log.debug("loss: %s (%s); optimizer: %s", opts["loss_name"], get_loss(plan.loss).__name__,
              plan.strategy if opts["optimize"] else "none (no --optimize: take 0 only)")


def _publish_essentials(writer, opts, start, result, exc):
    """A second Ctrl-C (or SIGTERM, or a write error) while the session was written:
    publish the best patch and a minimal session.json; None when they were not written."""
    if isinstance(exc, KeyboardInterrupt):
        reason = "interrupted while the session files were written"
    else:
        reason = f"a file could not be written ({exc.strerror or exc})"

    def minimal():
        write_minimal_session(writer, opts=opts, start=start, result=result, reason=reason)

    session_dir = writer.publish_essentials(minimal)
    if session_dir is not None:
        log.warning("%s; %s holds the best patch (%s_optimized.json/.syx) and a minimal "
                    "session.json, not every file", reason, session_dir, writer.name)
    return session_dir


def _send(midi, patch, slot, session_dir, *, pacing_ms: float) -> None:
    """Edit buffer, or user slot ``slot`` after a bank backup into the session folder."""
    if slot is None:
        midi.send_patch(patch, pacing_ms=pacing_ms)
        log.info("sent the best patch to the unit's edit buffer (not stored)")
        return
    from .magicstomp_device import BankProgress
    progress = BankProgress()
    try:      # read-back verified: a difference raises SlotWriteError naming the backup
        backup = midi.store_to_slot(patch, slot, backup_dir=session_dir, pacing_ms=pacing_ms,
                                    progress=progress, on_backup=progress.announce_backup)
    finally:
        progress.close()
    log.info("stored the best patch to user slot %d and read all 99 slots back identical; the "
             "previous bank is in %s", slot, backup)
