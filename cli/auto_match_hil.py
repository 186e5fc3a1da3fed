"""auto_match_hil: match a Magicstomp patch to a target recording, one take per candidate.

    auto_match_hil TARGET --di-signal DI [--optimize] [--budget TAKES] [--session-name S] ...

Loads and aligns the target to the DI, writes the analysis' starting patch,
measures it (take 0, the initial loss), searches the chosen parameters on the
virtual Magicstomp or the real unit, and exports a session folder
``<out>/<session>/`` (patches as JSON and .syx, WAVs, report, take history,
plots). ``--send-patch`` loads the best patch into the unit's edit buffer, or
with ``--patch-number N`` stores it to user slot N after backing up the bank.

Exit codes: 0 done, 1 a problem with the input, devices or files (one line),
2 a usage error, 130 interrupted (the session holds the best patch so far).
Runs as ``auto_match_hil``, ``python -m cli.auto_match_hil`` or
``python cli/auto_match_hil.py`` from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):   # python cli/auto_match_hil.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logging  # noqa: E402
import time  # noqa: E402

import click  # noqa: E402

from cli.common import (EXIT_INTERRUPTED, FiniteFloatRange, channel_options,  # noqa: E402
                        handle_errors, parse_channels, run_one_line, setup_logging,
                        verbose_option)
from cli.pipeline import MAX_BUDGET_TAKES, run_match  # noqa: E402
from optimize.match_plan import (  # noqa: E402
    DEFAULT_MODEL_BUDGET, MAX_MODEL_BUDGET, SEARCH_SPACES, MatchPlan)

UNIT_PROFILE_FILE = "unit_profile.json"   # magicstomp profile --out OUT/unit_profile.json

log = logging.getLogger("magicstomp.auto_match")

DEFAULT_BUDGET_TAKES = 40
MAX_PASSES = 100
MAX_PACING_MS = 5000.0
MAX_EXCERPT_S = 600.0
MAX_SEED = 2**32 - 1
DEFAULT_OPTIMIZER = "ours"
VIRTUAL_RATE_HZ = 44100


class OneLineCommand(click.Command):
    """A click command whose usage errors are one line (``Error: ...``) and exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        from_command_line = args is None
        args = _join_nargs(list(sys.argv[1:] if args is None else args), "--optimize-params")
        from cli.interrupts import restore_signals
        from cli.session import published
        published["dir"] = None             # no session of this run yet
        try:
            return run_one_line(super().main, usage_hint=lambda exc: " (see --help)",
                                interrupted_message=_interrupted_message,
                                standalone_mode=standalone_mode, args=args, prog_name=prog_name,
                                complete_var=complete_var, **extra)
        finally:
            if not from_command_line:       # in-process (tests): give the handlers back
                restore_signals()


def _interrupted_message() -> str:
    """Ctrl-C that reached the top: was a session published before it?"""
    from cli.session import published

    if published["dir"] is not None:
        return f"interrupted; the session {published['dir']} holds the best patch so far"
    return "interrupted; no session was written"


def _join_nargs(args: list, option: str) -> list:
    """The seed's ``--optimize-params a b c`` (argparse nargs='+'): the words after the
    option, up to the next option, become one comma-separated value."""
    out, i = [], 0
    while i < len(args):
        out.append(args[i])
        if args[i] == option:
            words = []
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1
                words.append(args[i])
            if words:
                out.append(",".join(words))
        i += 1
    return out


def _split_params(values) -> list | None:
    """--optimize-params a b / a,b / repeated: one flat list (None when not given)."""
    keys = [k for v in values for k in v.replace(",", " ").split()]
    return keys or None


def _effect_ref(text):
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() else text


@click.command(cls=OneLineCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--di-signal", "di_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The DI (clean) recording of the same performance.")
@click.option("--calibrate", is_flag=True, help="Measure latency, polarity and return gain first.")
@click.option("--optimize", is_flag=True, help="Search the parameters (else: starting patch only).")
@click.option("--send-patch", is_flag=True, help="Load the best patch into the unit.")
@click.option("--patch-number", type=click.IntRange(1, 99),
              help="With --send-patch: store to this user slot (after a bank backup).")
@click.option("--max-iterations", type=click.IntRange(1, MAX_PASSES),
              help="Budget in search passes (the original project's option): 1 + 2 x "
              "parameters x N takes; --budget wins when both are given.")
@click.option("--session-name", help="Session folder name (sanitised); default: a timestamp.")
@click.option("--optimize-params", multiple=True,
              help="Only these parameters move: the type's keys (magicstomp types TYPE) or the "
              "original project's names (delay_mix, reverb_mix, treble, ...); space- or "
              "comma-separated. Default: the type's main knobs.")
@click.option("--search-space", type=click.Choice(SEARCH_SPACES), default=None,
              help="What moves without --optimize-params: 'wide', every field the parameter "
              "roles call audible in the start (the original project's knobs first), or "
              "'seed', the original project's knobs only. Default: "
              f"{MatchPlan.__dataclass_fields__['search_space'].default}.")
@click.option("--in-device", help="Sound-card input (index or name part).")
@click.option("--out-device", help="Sound-card output (index or name part).")
@channel_options
@click.option("--pacing-ms", type=FiniteFloatRange(0.0, MAX_PACING_MS), default=70.0,
              show_default=True,
              help="Gap between SysEx messages (70 ms is safe for the unit's USB-MIDI).")
@click.option("--on-dropout", type=click.Choice(["retry", "warn"]), default="retry",
              show_default=True, help="A take with an under-/overrun: re-take it, or keep it "
              "with a warning (JACK dummy servers).")
@click.option("--list-devices", is_flag=True, help="List audio devices and MIDI ports, then exit.")
@click.option("--rig", type=click.Choice(["virtual", "hardware"]),
              help="Where the takes are played: the virtual Magicstomp or the unit through "
              "the sound card (default: hardware when devices are given, else virtual).")
@click.option("--midi-port", help="The unit's MIDI port (name part).")
@click.option("--effect-type", help="Effect type id or name (default: suggested by the analysis).")
@click.option("--start-patch", metavar="FILE|NAME",
              help="Start from your patch (.json/.syx) or a factory preset by name (e.g. "
              "TapeEcho) instead of the analysis' patch; its effect type is kept.")
@click.option("--optimizer", default=DEFAULT_OPTIMIZER, show_default=True,
              help="Search strategy: ours, coordinate, grid, random, seed_coordinate (the "
              "original project's search), cma (CMA-ES) or tpe (optuna TPE).")
@click.option("--loss", "loss_name", default="match", show_default=True,
              help="Objective: match (level-matched multi-term) or seed (the original "
              "project's 0.6 log-mel + 0.4 MFCC).")
@click.option("--budget", type=click.IntRange(1, MAX_BUDGET_TAKES), help=f"Takes in total "
              f"(default {DEFAULT_BUDGET_TAKES}, take 0 = the starting patch included).")
@click.option("--model-budget", type=click.IntRange(0, MAX_MODEL_BUDGET),
              default=DEFAULT_MODEL_BUDGET, show_default=True,
              help="Evaluations of the virtual Magicstomp used as a model (effect-type screen, "
              "residual-EQ fit; about 20-40 ms each, no take), apart from --budget.")
@click.option("--unit-profile", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE", help="A profile of your unit (magicstomp profile): the search "
              "runs on the virtual Magicstomp fitted to it (--model-budget), then the best "
              "candidates are confirmed and refined on the rig (--budget takes). On hardware, "
              "OUT/unit_profile.json is used when it exists.")
@click.option("--no-unit-profile", is_flag=True,
              help="Do not use OUT/unit_profile.json on hardware: search on the rig alone.")
@click.option("--virtual-variant", metavar="SEED|FILE",
              help="The virtual rig plays as the drawn unit variant SEED (or a variant JSON) "
              "instead of the nominal model: a stand-in for a real unit.")
@click.option("--analyzer", type=click.Choice(["librosa", "essentia"]), default="librosa",
              show_default=True, envvar="MAGICSTOMP_ANALYZER", show_envvar=True,
              help="Feature library that analyses the target (and computes --loss seed).")
@click.option("--excerpt", type=FiniteFloatRange(1.0, MAX_EXCERPT_S),
              help="Match on the busiest SECONDS of the DI (shorter takes).")
@click.option("--sample-rate", type=click.Choice(["44100", "48000", "96000"]),
              help="Working rate in Hz (default 44100 virtual, 48000 hardware).")
@click.option("--min-follow-score", type=FiniteFloatRange(0.0, 1.0), default=0.25,
              show_default=True, help="Refuse a target whose notes follow the DI less than this.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Random seed of the search.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True,
              help="Folder that receives the session folder (and calibration.json).")
@click.option("--force", is_flag=True, help="Replace an existing session of that name.")
@click.option("--no-residual-eq", is_flag=True,
              help="Skip fitting the residual spectrum onto the patch's EQ (still exported).")
@click.option("--export-capture", is_flag=True,
              help="Also write input.wav/output.wav (44.1 kHz float mono) for capture trainers.")
@verbose_option
@handle_errors
def main(**opts):
    """Match a Magicstomp patch to TARGET, re-amping --di-signal through the unit or its
    emulation (the virtual Magicstomp)."""
    setup_logging(opts["verbose"])
    if opts["list_devices"]:
        _list_devices()
        return
    if opts["calibrate"] and opts["target"] is None:
        _calibrate_only(opts)
        return
    _check_usage(opts)
    summary = run_match(opts, default_budget=DEFAULT_BUDGET_TAKES,
                        virtual_rate_hz=VIRTUAL_RATE_HZ, started=time.monotonic())
    click.echo(summary.text)
    if summary.fault is not None:
        from magicstomp.errors import DeviceError
        raise DeviceError(f"{summary.fault}; the session {summary.session_dir} holds the best "
                          "patch so far")
    if summary.interrupted:
        click.echo("Interrupted: the session holds the best patch so far.", err=True)
        sys.exit(EXIT_INTERRUPTED)


def _check_usage(opts) -> None:
    if opts["target"] is None:
        raise click.UsageError("missing TARGET: give the recording to match, e.g. "
                               "auto_match_hil target.wav --di-signal di.wav")
    if opts["di_path"] is None:
        raise click.UsageError("missing --di-signal DI: the clean recording of the same part")
    if opts["patch_number"] is not None and not opts["send_patch"]:
        raise click.UsageError("--patch-number needs --send-patch (store the best patch to "
                               "that slot)")
    hardware = opts["rig"] == "hardware" or (opts["rig"] is None and (opts["in_device"]
                                                                      or opts["out_device"]))
    if hardware and not (opts["in_device"] and opts["out_device"]):
        raise click.UsageError("the hardware rig needs both --in-device and --out-device "
                               "(see --list-devices)")
    if opts["calibrate"] and not hardware:
        log.info("--calibrate: the virtual rig needs no calibration; skipped")
    opts["rig"] = "hardware" if hardware else "virtual"
    opts["in_ch"] = parse_channels(opts["in_ch"])
    opts["optimize_params"] = _split_params(opts["optimize_params"])
    opts["effect_type"] = _effect_ref(opts["effect_type"])
    opts["start_patch"] = _start_patch(opts["start_patch"], opts["effect_type"])
    opts["unit_profile"] = _unit_profile(opts, hardware)
    if hardware and opts["virtual_variant"] is not None:
        raise click.UsageError("--virtual-variant sets the virtual rig's unit; drop it with "
                               "--in-device/--out-device")
    if opts["sample_rate"] is not None:
        opts["sample_rate"] = int(opts["sample_rate"])


def _unit_profile(opts, hardware: bool):
    """The unit profile's path: --unit-profile, else OUT/unit_profile.json on hardware
    (unless --no-unit-profile); None for a rig-only search. Loaded by the plan."""
    if opts["no_unit_profile"]:
        if opts["unit_profile"] is not None:
            raise click.UsageError("--unit-profile and --no-unit-profile contradict each "
                                   "other; give one")
        return None
    path = opts["unit_profile"]
    if path is None and hardware and (opts["out_dir"] / UNIT_PROFILE_FILE).is_file():
        path = opts["out_dir"] / UNIT_PROFILE_FILE
        log.info("using the unit profile %s (--no-unit-profile to search on the rig alone)",
                 path)
    return path


def _start_patch(ref, effect_ref):
    """--start-patch as ``(Patch, label)`` (None when not given); a different --effect-type
    is a usage error, since the patch brings its own."""
    if ref is None:
        return None
    from magicstomp.effects import effect_type
    from magicstomp.presets import patch_from_file_or_preset

    patch, label = patch_from_file_or_preset(ref)
    if effect_ref is not None and effect_type(effect_ref).id != patch.effect_type.id:
        raise click.UsageError(f"--effect-type {effect_type(effect_ref).name!r} differs from the "
                               f"--start-patch's type {patch.effect_type.name!r}; drop "
                               "--effect-type (the start patch sets the type)")
    return patch, label




def _calibrate_only(opts) -> None:
    """``auto_match_hil --calibrate --in-device D --out-device D [--in-ch N --out-ch N]
    [--midi-port P]``: measure the chain and write ``<out>/calibration.json`` (no match).
    With --midi-port a flat EQ patch is sent first; without it, put the unit in bypass."""
    import contextlib

    from cli.pipeline import CALIBRATION_FILE, HARDWARE_RATE_HZ, _clean_patch, _open_midi
    from hil.calibration import calibrate
    from magicstomp.patch import Patch

    if not (opts["in_device"] and opts["out_device"]):
        raise click.UsageError("--calibrate on its own needs --in-device and --out-device "
                               "(see --list-devices)")
    with contextlib.ExitStack() as stack:
        midi = _open_midi(opts, stack) if opts["midi_port"] else None
        record = calibrate(in_device=opts["in_device"], out_device=opts["out_device"],
                           in_ch=parse_channels(opts["in_ch"]), out_ch=opts["out_ch"],
                           sample_rate=int(opts["sample_rate"] or HARDWARE_RATE_HZ), midi=midi,
                           patch=_clean_patch(Patch) if midi else None,
                           on_dropout=opts["on_dropout"])
    path = record.save(opts["out_dir"] / CALIBRATION_FILE)
    for warning in record.warnings:
        log.warning("calibration: %s", warning)
    est = record.latency_estimates
    click.echo(f"Calibration {path}: latency {record.latency_samples} samples "
               f"({record.latency_ms:.2f} ms; {len(est)} estimates {min(est)}-{max(est)}), "
               f"polarity {'inverted' if record.polarity < 0 else 'normal'}, return gain "
               f"{record.return_gain_db:+.2f} dB, noise floor {record.noise_floor_dbfs:.1f} dBFS")


def _list_devices() -> None:
    from hil.io import list_devices
    from magicstomp.midi import list_ports as list_midi_ports   # reads MIDO_BACKEND now

    devices = list_devices()
    click.echo("Audio devices:")
    for d in devices:
        click.echo(f"  {d}")
    if not devices:
        click.echo("  (none found)")
    from magicstomp.errors import MidiError

    try:
        ports = list_midi_ports()
    except MidiError as exc:      # no MIDI backend: still show the audio devices
        click.echo(f"MIDI ports: unavailable ({exc})")
        return
    click.echo("MIDI outputs: " + (", ".join(ports.get("outputs", [])) or "(none)"))
    click.echo("MIDI inputs:  " + (", ".join(ports.get("inputs", [])) or "(none)"))


if __name__ == "__main__":
    main()
