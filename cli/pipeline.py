"""One ``auto_match_hil`` run, from validated options to a published session folder.

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
import dataclasses
import logging
import shlex
import time
from dataclasses import dataclass

import click

from magicstomp.errors import CalibrationError, DeviceError, MidiError, ParameterError

from . import residual
from .interrupts import quiet_from_now, sigterm_as_interrupt
from .matching import choose_excerpt, load_pair, make_evaluator, starting_patch
from .progress import Progress
from .session import SessionWriter, public_error, sanitize_session_name
from .session_files import write_minimal_session, write_session

log = logging.getLogger("magicstomp.auto_match")

CALIBRATION_FILE = "calibration.json"
HARDWARE_RATE_HZ = 48000
#: most takes one run may ask for (5000 virtual takes are over an hour; hardware ones, half a day)
MAX_BUDGET_TAKES = 5000


@dataclass
class Summary:
    """What the command prints and how it exits."""

    text: str
    interrupted: bool
    session_dir: object
    result: object
    fault: str | None = None


class FaultGuard:
    """Wraps ``evaluate``: a DeviceError or MidiError (a unit, MIDI link or audio device
    gone) is kept in ``fault`` and stops the search as Ctrl-C does, so the search
    returns its best so far instead of losing it."""

    def __init__(self, evaluate):
        self._evaluate = evaluate
        self.fault: Exception | None = None

    def __call__(self, patch):
        if self.fault is not None:
            raise KeyboardInterrupt
        try:
            return self._evaluate(patch)
        except (DeviceError, MidiError) as exc:
            self.fault = exc
            log.debug("take failed: %s", exc)
            raise KeyboardInterrupt from None


def _plan(opts: dict, default_budget: int) -> dict:
    """Check every name before any work: optimizer, loss, effect type, parameters."""
    from magicstomp.effects import effect_type
    from optimize.constraints import ParameterSpace, check_names
    from optimize.loss import get_loss
    from optimize.search import get_strategy

    plan = {"optimizer": opts["optimizer"] if opts["optimize"] else "coordinate"}
    get_strategy(plan["optimizer"])
    plan["loss_cls"] = get_loss(opts["loss_name"])
    plan["type"] = effect_type(opts["effect_type"]) if opts["effect_type"] is not None else None
    if opts.get("start_patch") is not None:       # --start-patch: the patch's own type
        plan["type"] = opts["start_patch"][0].effect_type
    if plan["type"] is not None:
        if opts["rig"] == "virtual":
            from magicstomp.emulator import processor_class
            processor_class(plan["type"])
        _as_usage_error(ParameterSpace, plan["type"], opts["optimize_params"])
    elif opts["optimize_params"]:      # the type comes from the analysis: known names only
        _as_usage_error(check_names, opts["optimize_params"])
    plan["budget"] = opts["budget"] or default_budget
    return plan


def _as_usage_error(func, *args):
    """``func(*args)``; a bad ``--optimize-params`` name is a usage error (exit 2)."""
    try:
        return func(*args)
    except ParameterError as exc:
        if exc.field != "optimize_params":
            raise
        raise click.UsageError(str(exc)) from None


def _space(effect_type_ref, names):
    """The ParameterSpace; names are resolved to keys (aliases logged), bad ones exit 2."""
    from optimize.constraints import ParameterSpace

    space = _as_usage_error(ParameterSpace, effect_type_ref, names)
    renamed = [f"{n} -> {k}" for n, k in zip(names or (), space.keys) if n != k]
    if renamed and len(names) == space.size:
        log.info("--optimize-params on %s: %s", space.effect_type.name, ", ".join(renamed))
    return space


def _budget(opts: dict, plan: dict, space) -> int:
    """Takes in total: 1 without --optimize; --budget; the seed's --max-iterations passes
    (1 + 2 x parameters x passes); else the default."""
    if not opts["optimize"]:
        return 1
    if opts["budget"] is None and opts["max_iterations"]:
        takes = 1 + 2 * space.size * opts["max_iterations"]
        if takes > MAX_BUDGET_TAKES:
            raise ParameterError(
                f"--max-iterations {opts['max_iterations']} over {space.size} parameters asks for "
                f"{takes} takes; the maximum is {MAX_BUDGET_TAKES} (use fewer passes or --budget)",
                field="max_iterations", value=opts["max_iterations"])
        return takes
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
    from optimize.reference import bypass_loss
    from optimize.search import run_search

    plan = _plan(opts, default_budget)     # usage errors first: one line, nothing before it
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
            rig = stack.enter_context(VirtualRig(sample_rate=sample_rate))
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
        patch, notes, neutral = starting_patch(pair, effect_type=plan["type"],
                                               analyzer=opts["analyzer"],
                                               start=opts.get("start_patch"))
        writer.write_text("_neutral.json", neutral.to_json())
        excerpt = choose_excerpt(pair.di, sample_rate, seconds=opts["excerpt"])
        loss_cls = plan["loss_cls"]
        loss_opts = {"backend": opts["analyzer"]} if opts["loss_name"] == "seed" else {}
        if opts["loss_name"] == "match":     # MatchLoss reads LFO modulation relative to the DI
            loss_opts = {"di": pair.di[excerpt.start:excerpt.stop]}
        loss = loss_cls(pair.target[excerpt.start:excerpt.stop], sample_rate, **loss_opts)
        from optimize.take_alignment import TakeAligner     # the effect's latency and polarity
        evaluate = make_evaluator(rig, loss, pair.di, excerpt,
                                  aligner=TakeAligner(loss.target, sample_rate))
        screen = None
        if plan["type"] is None:          # no --effect-type, no --start-patch: measure the types
            patch, screen, evaluate, notes = _screen_types(opts, plan, pair, excerpt, loss,
                                                           neutral, evaluate)
            writer.write_json("_type_screen.json", screen.to_dict())
        if opts["session_name"]:
            from magicstomp.patch import patch_name_from
            patch.name = patch_name_from(opts["session_name"], default=patch.name)
        log.info("starting patch: %s, named %r", patch.effect_type.name, patch.name)
        if excerpt.samples < pair.di.size:
            notes.append(excerpt.describe(sample_rate))
        if not hardware:
            from magicstomp.emulator import processor_class
            processor_class(patch.effect_type)
        space = _space(patch.effect_type, opts["optimize_params"])
        if opts["optimize_params"]:       # aliases resolved: the residual EQ reads keys
            opts["optimize_params"] = list(space.keys)
        log.debug("parameter space:\n%s", space.describe())
        plan["budget"] = _budget(opts, plan, space)
        floor = _replicate_floor(rig, patch, pair, excerpt, loss_cls, loss_opts)
        bypass = bypass_loss(loss, pair.di[excerpt.start:excerpt.stop])
        log.debug("bypass loss (the dry DI against the target, no take): %.6g", bypass)
        if calibration is not None:
            calibration = calibration.with_values(replicate_floor=floor)
        strategy_opts = {"min_improvement": floor} if plan["optimizer"] == "coordinate" else {}
        if plan["optimizer"] == "ours":
            from optimize.hints import analysis_hints
            strategy_opts["hints"] = analysis_hints(space, neutral.features, start=patch)
            if opts["optimize_params"]:
                strategy_opts["screen"] = False   # --optimize-params: exactly those fields move
        progress = Progress(plan["budget"])
        _log_choices(rig, opts, plan)
        log.info("matching %s with %s: %s, budget %d takes", patch.effect_type.name,
                 plan["optimizer"] if opts["optimize"] else "no search", ", ".join(space.keys),
                 plan["budget"])
        evaluate = FaultGuard(evaluate)      # a vanished unit or device stops the search
        fit_eq = residual.planned(opts, patch) and plan["budget"] >= 3
        writer.write_patch("initial", patch)
        extra = screen.rig_takes - 1 if screen else 0     # the kept type's take is take 0
        try:      # with the residual EQ, its one take is reserved in the budget
            result = run_search(plan["optimizer"], space=space, start=patch, evaluate=evaluate,
                                budget_takes=max(1, plan["budget"] - int(fit_eq) - extra),
                                seed=opts["seed"],
                                on_take=[writer.best_patch_saver(), progress], **strategy_opts)
        except KeyboardInterrupt:
            if evaluate.fault is not None:   # before the first take: nothing to keep
                raise evaluate.fault from None
            raise
        finally:
            progress.close()
        interrupted = result.stopped == "interrupted"
        if result.ended_worse_loss is not None:
            notes.append(f"the search ended at loss {result.ended_worse_loss:.6g}, above the "
                         f"starting patch's {result.initial_loss:.6g}: the starting patch is "
                         "published unchanged")
        eq_info = {"skipped": residual.skip_reason(opts, patch, plan["budget"])}
        if fit_eq and not interrupted:
            log.info("fitting the residual spectrum onto the EQ controls (%s; on the virtual "
                     "Magicstomp, no take) ...", ", ".join(residual.fit_keys(opts, patch)))
            try:
                result, eq_info = residual.residual_eq_step(
                    result, pair=pair, excerpt=excerpt, evaluate=evaluate,
                    budget_takes=plan["budget"], keys=residual.fit_keys(opts, patch))
            except KeyboardInterrupt:
                interrupted = True
                result = dataclasses.replace(result, stopped="interrupted")
        fault = _fault_text(evaluate.fault)
        if fault is not None:
            result = dataclasses.replace(result, stopped="device fault")
            notes.append(f"the run stopped after {len(result.history)} takes because {fault}; "
                         "the optimized patch is the best measured so far")
        try:
            write_session(writer, opts=opts, pair=pair, rig=rig, result=result, space=space,
                          start=patch, optimizer=plan["optimizer"], budget_takes=plan["budget"],
                          floor=floor, calibration=calibration, notes=notes,
                          seconds=time.monotonic() - started,
                          skip_takes=(interrupted and hardware) or fault is not None,
                          residual_eq=eq_info, bypass=bypass)
            session_dir = writer.commit()
        except (KeyboardInterrupt, OSError) as exc:
            partial = writer.dir
            session_dir = _publish_essentials(writer, opts, patch, result, exc)
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
    lines = summary_lines(session_dir, result, bypass, time.monotonic() - started,
                          send_patch=opts["send_patch"] and not interrupted and fault is None,
                          slot=opts["patch_number"])
    if result.ended_worse_loss is not None:
        lines.insert(1, f"The search ended worse ({result.ended_worse_loss:.6g}): the starting "
                        "patch is published unchanged.")
    return Summary(text="\n".join(lines), interrupted=interrupted and fault is None,
                   session_dir=session_dir, result=result, fault=fault)


def _fault_text(exc) -> str | None:
    """The fault's sentence without its advice tail, lower-case first (for "because ...")."""
    if exc is None:
        return None
    return str(exc).rstrip(".")


def summary_lines(session_dir, result, bypass, seconds: float, *, send_patch: bool,
                  slot=None) -> list:
    """What the console prints at the end (stdout): figures, their reading, the next step."""
    from .report import bypass_reading, fmt_loss

    syx = session_dir / f"{session_dir.name}_optimized.syx"
    lines = [f"Session {session_dir}: {len(result.history)} takes ({result.stopped}), best take "
             f"{result.best_index} (take 0 = the starting patch), initial loss "
             f"{fmt_loss(result.initial_loss)}, final loss {fmt_loss(result.best_loss)} "
             f"({result.improvement_pct:.1f} % lower), bypass (dry DI) {fmt_loss(bypass)}, "
             f"{seconds:.1f} s",
             bypass_reading(result.best_loss, bypass)]
    if send_patch:
        where = "the edit buffer" if slot is None else f"user slot {slot}"
        lines.append(f"Sent to {where} of the unit.")
    else:
        lines.append(f"Next step: magicstomp send {shlex.quote(str(syx))}   (edit buffer; add "
                     "--slot N --yes to store it to user slot N; or re-run with --send-patch)")
    return lines


def _log_alignment(pair) -> None:
    a = pair.alignment
    log.info("aligned: target offset %s ms, polarity %s, follow score %s, %.1f s of audio",
             a.get("offset_ms", "?"), "inverted" if a.get("polarity") == -1 else "normal",
             a.get("follow_score", "?"), pair.duration_s)


def _log_choices(rig, opts: dict, plan: dict) -> None:
    """--verbose: which rig, analyzer backend, loss and optimizer this run uses."""
    from analyzers.factory import get_analyzer

    analyzer = get_analyzer(opts["analyzer"])
    log.debug("rig: %s (%s)", type(rig).__name__, ", ".join(
        f"{k}={v}" for k, v in rig.describe().items() if k != "takes"))
    log.debug("analyzer backend: %s (%s.%s)", opts["analyzer"], type(analyzer).__module__,
              type(analyzer).__name__)
    log.debug("loss: %s (%s); optimizer: %s", opts["loss_name"], plan["loss_cls"].__name__,
              plan["optimizer"] if opts["optimize"] else "none (no --optimize: take 0 only)")


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


def _screen_types(opts, plan, pair, excerpt, loss, neutral, evaluate) -> tuple:
    """The effect type chosen by measurement (optimize/type_screen.py): the best types on
    the model, the best two of them on the rig (one without --optimize).

    Returns (patch, screen, evaluate reusing the kept type's take as take 0, notes)."""
    from optimize.constraints import ParameterSpace
    from optimize.type_screen import choose_effect_type, reuse_take

    def fits(type_id):      # --optimize-params must name fields of the chosen type
        try:
            return ParameterSpace(type_id, opts["optimize_params"]) is not None
        except ParameterError:
            return False

    rig_top = min(2, max(1, plan["budget"] - 2)) if opts["optimize"] else 1
    segment = pair.di[excerpt.start - excerpt.preroll:excerpt.stop]
    patch, screen, value, notes = choose_effect_type(
        pair.target[excerpt.start:excerpt.stop], segment, neutral, pair.sample_rate,
        evaluate=evaluate, preroll=excerpt.preroll, loss=loss, rig_top=rig_top,
        allowed=fits if opts["optimize_params"] else None)
    log.info("%s", notes[0])
    return patch, screen, reuse_take(evaluate, patch, value), notes


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
    from .magicstomp_device import BankProgress
    progress = BankProgress()
    try:      # read-back verified: a difference raises SlotWriteError naming the backup
        backup = midi.store_to_slot(patch, slot, backup_dir=session_dir, pacing_ms=pacing_ms,
                                    progress=progress, on_backup=progress.announce_backup)
    finally:
        progress.close()
    log.info("stored the best patch to user slot %d and read all 99 slots back identical; the "
             "previous bank is in %s", slot, backup)
