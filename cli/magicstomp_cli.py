"""The ``magicstomp`` command: effect types, patch files, MIDI and the virtual unit.

    magicstomp types [TYPE]                              the 64 effect types / one type's parameters
    magicstomp presets [NAME] [--bank B] [--type T]      the 292 factory presets / one as JSON
    magicstomp decode FILE                               .syx/.ub9 -> patch JSON on stdout
    magicstomp encode PATCH.json --out FILE.syx [--slot N | --edit-buffer]
    magicstomp ports                                     MIDI ports
    magicstomp send PATCH [--port P] [--slot N --yes] [--dry-run FILE]
    magicstomp dump (--slot N | --all) --out FILE.syx [--port P]
    magicstomp restore BANK.syx [--port P] [--yes]       write a 99-patch bank (a backup) back
    magicstomp render PATCH IN.wav --out OUT.wav         through the virtual Magicstomp
    magicstomp profile (--port P --in-device D --out-device D | --virtual-variant SEED)
                                                         fit the model to the unit (a unit profile)

Exit codes: 0 done, 1 a problem with the input, the unit or a file (one line,
traceback only with --verbose), 2 a usage error, 130 interrupted.
Runs as ``magicstomp`` or ``python -m cli.magicstomp_cli``.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # python cli/magicstomp_cli.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import click  # noqa: E402

from cli.common import handle_errors, run_one_line, setup_logging, verbose_option  # noqa: E402

FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
#: a float WAV may go above full scale, but not by 60 dB: that is not audio
MAX_INPUT_PEAK = 1000.0


class OneLineGroup(click.Group):
    """A click group whose usage errors are one line (``Error: ...``) and exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        return run_one_line(super().main, usage_hint=_usage_hint,
                            interrupted_message="interrupted; nothing more was sent or written",
                            standalone_mode=standalone_mode, args=args, prog_name=prog_name,
                            complete_var=complete_var, **extra)


def _usage_hint(exc: click.UsageError) -> str:
    """`` (see magicstomp send --help)``: the help of the (sub)command that was misused."""
    return f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@verbose_option
@click.pass_context
def main(ctx, verbose):
    """Yamaha Magicstomp (UB99) patches: decode, encode, send, dump and render."""
    ctx.obj = {"verbose": verbose}
    setup_logging(verbose)


# -- types / presets ---------------------------------------------------------------
EMULATED_LEGEND = ("virtual: yes = the virtual Magicstomp emulates the type ({n} of {total} "
                   "types; magicstomp render and auto_match_hil's default rig play them), "
                   "- = on the unit only")


def _virtual(type_id: int) -> str:
    from magicstomp.emulator import EMULATED_TYPES

    return "yes" if type_id in EMULATED_TYPES else "-"


@main.command("types")
@click.argument("type_ref", metavar="[TYPE]", required=False)
@handle_errors
def types_cmd(type_ref):
    """List the 64 effect types (and which the virtual Magicstomp emulates), or one TYPE's
    parameters (TYPE: id such as 0x0D, or name).

    Example: magicstomp types "Mono Delay"
    """
    from magicstomp.effects import EFFECT_TYPES, effect_type
    from magicstomp.emulator import EMULATED_TYPES

    if type_ref is None:
        click.echo(f"{'id':<5} {'type':<36} {'parameters':>10}  virtual")
        for t in EFFECT_TYPES:
            click.echo(f"0x{t.id:02X}  {t.name:<36} {len(t.params):>10}  {_virtual(t.id)}")
        click.echo(EMULATED_LEGEND.format(n=len(EMULATED_TYPES), total=len(EFFECT_TYPES)))
        return
    t = effect_type(type_ref)
    emulated = "emulated by the virtual Magicstomp" if _virtual(t.id) == "yes" else \
        "not emulated: on the unit only"
    click.echo(f"{t}  ({t.category}, {len(t.params)} parameters, {emulated}; offset = byte "
               "in the 127-byte effect block)")
    click.echo(f"{'key':<28} {'name':<24} {'offset':>6} {'size':>4}  range")
    for p in t.params:
        click.echo(f"{p.key:<28} {p.name[:24]:<24} {f'0x{p.offset:02X}':>6} {p.size:>4}  "
                   f"{p.describe_range()}")


@main.command("presets")
@click.argument("name", required=False)
@click.option("--bank", type=click.Choice(["guitar", "bass", "acoustic"]),
              help="Only this bank of factory presets.")
@click.option("--type", "type_ref", metavar="TYPE",
              help="Only presets of this effect type (id such as 0x37, or name).")
@click.option("--emulated", is_flag=True,
              help="Only presets the virtual Magicstomp can play.")
@handle_errors
def presets_cmd(name, bank, type_ref, emulated):
    """List Yamaha's 292 factory presets (bank, number, name, effect type, emulated or not), or
    print preset NAME ("bank:name" picks a bank) as patch JSON.

    Examples: magicstomp presets --bank guitar --type "Amp Multi (Chorus)";
    magicstomp presets guitar:HeavyHiGain > heavy.json
    """
    from magicstomp.effects import effect_type
    from magicstomp.emulator import EMULATED_TYPES
    from magicstomp.presets import factory_presets, find_preset

    if name is not None:
        if bank or type_ref or emulated:
            raise click.UsageError("NAME prints one preset; --bank, --type and --emulated "
                                   "filter the list: give one or the other")
        click.echo(json.dumps(find_preset(name).patch().to_dict(), indent=2))
        return
    wanted = effect_type(type_ref).id if type_ref is not None else None
    rows = [p for p in factory_presets() if bank in (None, p.bank)
            and wanted in (None, p.effect_type_id)
            and (not emulated or p.effect_type_id in EMULATED_TYPES)]
    if not rows:
        click.echo("no factory preset matches those filters; `magicstomp presets` lists all "
                   "292", err=True)
        return
    click.echo(f"{'bank':<9} {'#':>2}  {'name':<13} {'type':<36} virtual")
    for p in rows:
        t = effect_type(p.effect_type_id)
        click.echo(f"{p.bank:<9} {p.index:>2}  {p.name:<13} 0x{t.id:02X} {t.name:<31} "
                   f"{_virtual(t.id)}")
    click.echo(f"{len(rows)} preset(s), {sum(_virtual(p.effect_type_id) == 'yes' for p in rows)}"
               " the virtual Magicstomp can play (virtual: yes); print one as patch JSON with "
               "magicstomp presets BANK:NAME")


# -- decode / encode ---------------------------------------------------------------
@main.command("decode")
@click.argument("file", type=EXISTING_FILE)
@handle_errors
def decode_cmd(file):
    """Print the patch(es) of a .syx, .ub9 or .mid FILE as patch JSON (a bank gives a list).

    Example: magicstomp decode examples/HeavyHiGain.syx > heavy.json
    """
    from magicstomp.files import read_patches

    patches = read_patches(file)
    doc = patches[0].to_dict() if len(patches) == 1 else [p.to_dict() for p in patches]
    click.echo(json.dumps(doc, indent=2))


@main.command("encode")
@click.argument("patch_file", metavar="PATCH.json", type=EXISTING_FILE)
@click.option("--out", "out_path", required=True, type=FILE,
              help="The .syx (or .ub9) file to write.")
@click.option("--slot", type=click.IntRange(1, 99), help="Frame it for user slot N (1-99).")
@click.option("--edit-buffer", is_flag=True, help="Frame it for the edit buffer (the default).")
@handle_errors
def encode_cmd(patch_file, out_path, slot, edit_buffer):
    """Write a patch JSON file as SysEx (.syx); a list of 99 patches gives a bank.

    With --out NAME.ub9 the patches (1-99) are written as a Yamaha editor library.

    Example: magicstomp encode heavy.json --out heavy.syx --slot 5
    """
    from magicstomp.files import read_patches, write_bank_syx, write_syx, write_ub9

    if slot is not None and edit_buffer:
        raise click.UsageError("--slot and --edit-buffer exclude each other; choose one")
    patches = read_patches(patch_file)
    if out_path.suffix.lower() == ".ub9":
        write_ub9(out_path, patches)
        click.echo(f"wrote a .ub9 library of {len(patches)} patch(es) to {out_path}", err=True)
        return
    if len(patches) == 99:
        if slot is not None or edit_buffer:
            raise click.UsageError("a 99-patch bank is always written as a bulk-all bank; "
                                   "drop --slot/--edit-buffer")
        write_bank_syx(out_path, patches)
        click.echo(f"wrote the 99-patch bank to {out_path}", err=True)
        return
    if len(patches) != 1:
        raise click.UsageError(f"{patch_file} holds {len(patches)} patches; encode takes one "
                               "patch or a bank of 99")
    write_syx(out_path, patches[0], slot=slot)
    where = f"user slot {slot}" if slot else "the edit buffer"
    click.echo(f"wrote {patches[0].name or 'the patch'!r} for {where} to {out_path}", err=True)


# -- render ----------------------------------------------------------------------------
@main.command("render")
@click.argument("patch_file", metavar="PATCH", type=EXISTING_FILE)
@click.argument("in_wav", metavar="IN.wav", type=EXISTING_FILE)
@click.option("--out", "out_path", required=True, type=FILE, help="The stereo WAV to write.")
@handle_errors
def render_cmd(patch_file, in_wav, out_path):
    """Render IN.wav through PATCH (.json/.syx/.ub9, first patch) on the virtual Magicstomp.

    Writes a 32-bit float stereo WAV at the input's sample rate; a stereo
    input is folded to mono first (the unit has one input).

    Example: magicstomp render delay.json examples/di.wav --out wet.wav
    """
    import numpy as np
    import soundfile as sf

    from magicstomp.emulator import render
    from magicstomp.errors import AudioInputError
    from magicstomp.files import atomic_write_bytes, load_patch

    patch = load_patch(patch_file)
    try:
        audio, rate_hz = sf.read(str(in_wav), dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioInputError(f"{in_wav}: cannot read the audio ({exc}); expected a WAV/FLAC "
                              "file") from None
    if audio.shape[0] == 0:
        raise AudioInputError(f"{in_wav}: the file holds no samples; expected a recording")
    bad = int(np.count_nonzero(~np.isfinite(audio)))
    if bad:
        raise AudioInputError(f"{in_wav}: {bad} samples are NaN or infinite; expected finite "
                              "audio (re-export it from your editor as PCM or float WAV)")
    peak = float(np.max(np.abs(audio)))
    if peak > MAX_INPUT_PEAK:
        raise AudioInputError(f"{in_wav}: the audio peaks at {20 * np.log10(peak):+.0f} dBFS; "
                              f"expected audio near full scale (at most "
                              f"{20 * np.log10(MAX_INPUT_PEAK):+.0f} dBFS): check the file's "
                              "format or normalise it")
    stereo = render(patch, audio.mean(axis=1), rate_hz)
    if not np.all(np.isfinite(stereo)):
        raise AudioInputError(f"rendering {in_wav} through {patch.effect_type} gave NaN or "
                              "infinite samples; nothing was written (check the input's level)")
    buffer = io.BytesIO()
    sf.write(buffer, stereo.astype(np.float32), rate_hz, subtype="FLOAT", format="WAV")
    atomic_write_bytes(out_path, buffer.getvalue())
    click.echo(f"rendered {audio.shape[0] / rate_hz:.2f} s at {rate_hz} Hz through "
               f"{patch.effect_type} to {out_path}", err=True)


def _register_device_commands() -> None:
    from cli.magicstomp_device import dump_cmd, ports_cmd, restore_cmd, send_cmd

    from cli.magicstomp_profile import profile_cmd

    for command in (ports_cmd, send_cmd, dump_cmd, restore_cmd, profile_cmd):
        main.add_command(command)


_register_device_commands()


if __name__ == "__main__":
    main()
