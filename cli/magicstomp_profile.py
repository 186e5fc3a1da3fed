"""``magicstomp profile``: measure the connected unit and fit the model to it (once per unit).

    magicstomp profile --port P --in-device D --out-device D [--calibrate]   the unit
    magicstomp profile --virtual-variant 3                                   a stand-in unit

Plays the probe session (about 20 s of audio for the default types: the common multis
and the Tape Echo), fits the virtual Magicstomp's modelling assumptions to the takes
(:mod:`optimize.unit_profile`) and writes the unit profile JSON (default
``out/unit_profile.json``). Prints, per section, the model-versus-unit distance before
(nominal model) and after the fit, and the time taken.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import click

from cli.common import FiniteFloatRange, channel_options, handle_errors, parse_channels

log = logging.getLogger("magicstomp.profile")

DEFAULT_PROFILE = Path("out") / "unit_profile.json"


def _types(text):
    """--types as effect type ids (names, decimal or hex ids, comma-separated)."""
    from magicstomp.effects import effect_type
    from magicstomp.errors import ParameterError
    from optimize.unit_probes import DEFAULT_TYPES, probe_types
    if text is None:
        return DEFAULT_TYPES
    ids = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            type_id = effect_type(int(part, 16) if part.lower().startswith("0x") else
                                  int(part) if part.isdigit() else part).id
        except ParameterError as exc:
            raise click.UsageError(f"--types: {exc}") from None
        if type_id not in probe_types():
            raise click.UsageError(
                f"--types: {effect_type(type_id).name} has no probes; choose among the multis "
                "0x37-0x3E and Tape Echo 0x35 (the multis' probes fit the amp, drive, tone, "
                "LFO, echo and reverb assumptions the other types share)")
        ids.append(type_id)
    if not ids:
        raise click.UsageError("--types is empty; give e.g. 0x37,0x3B,0x35")
    return tuple(ids)




@click.command("profile")
@click.option("--virtual-variant", metavar="SEED|FILE",
              help="Profile the virtual Magicstomp playing as the unit variant SEED (or a "
                   "variant JSON): a stand-in for a real unit.")
@click.option("--port", "-p", "midi_port", default=None, metavar="NAME",
              help="The unit's MIDI port (default: the port that looks like a Magicstomp).")
@click.option("--in-device", help="Sound-card input carrying the unit's return.")
@click.option("--out-device", help="Sound-card output feeding the re-amp box.")
@channel_options
@click.option("--calibrate", is_flag=True,
              help="Measure the chain's latency and polarity first (else the calibration.json "
                   "next to --out is used, as auto_match_hil writes it).")
@click.option("--sample-rate", type=click.Choice(["44100", "48000", "96000"]),
              help="Rate in Hz (default 44100 virtual, 48000 on the unit).")
@click.option("--types", "types_text", metavar="T1,T2",
              help="Effect types to profile: ids or names (default 0x37,0x3B,0x35: Amp Multi "
                   "(Chorus), Distortion Multi (Chorus), Tape Echo).")
@click.option("--probe-scale", type=FiniteFloatRange(0.25, 4.0), default=1.0,
              show_default=True, help="Stretch every probe (longer = steadier on a noisy "
                                      "chain; the session stays under 2 minutes).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_PROFILE, show_default=True, help="Where to write the profile.")
@click.option("--pacing-ms", type=FiniteFloatRange(0.0, 5000.0), default=70.0,
              show_default=True, help="Gap between SysEx messages.")
@click.option("--on-dropout", type=click.Choice(["retry", "warn"]), default="retry",
              show_default=True, help="A take with an under-/overrun: re-take it or warn.")
@handle_errors
def profile_cmd(virtual_variant, midi_port, in_device, out_device, in_ch, out_ch, calibrate,
                sample_rate, types_text, probe_scale, out_path, pacing_ms, on_dropout):
    """Measure the unit once and fit the virtual Magicstomp to it (a unit profile).

    Example: magicstomp profile --port UB99 --in-device 2 --out-device 2 --calibrate
    """
    from optimize.unit_profile import fit_unit_profile
    hardware = bool(in_device or out_device)
    if hardware and virtual_variant is not None:
        raise click.UsageError("--virtual-variant profiles the virtual unit; drop it, or drop "
                               "--in-device/--out-device")
    if hardware and not (in_device and out_device):
        raise click.UsageError("the unit needs both --in-device and --out-device (see "
                               "auto_match_hil --list-devices)")
    if not hardware and virtual_variant is None:
        raise click.UsageError("say which unit to profile: --in-device/--out-device (and "
                               "--port) for the Magicstomp, or --virtual-variant SEED for a "
                               "stand-in")
    types = _types(types_text)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if hardware:
            opts = dict(in_device=in_device, out_device=out_device, midi_port=midi_port,
                        in_ch=parse_channels(in_ch), out_ch=out_ch, calibrate=calibrate,
                        out_dir=out_path.parent, pacing_ms=pacing_ms, on_dropout=on_dropout)
            from cli.pipeline import HARDWARE_RATE_HZ, _open_hardware
            rate = int(sample_rate or HARDWARE_RATE_HZ)
            rig = _open_hardware(opts, stack, rate)[0]
        else:
            from hil.rig import VirtualRig
            rig = stack.enter_context(VirtualRig(int(sample_rate or 44100),
                                                 variant=virtual_variant))
        from magicstomp.effects import effect_type
        log.info("profiling %s with the probes of %s", "the unit" if hardware else
                 rig.variant.describe(), ", ".join(effect_type(t).name for t in types))
        profile = fit_unit_profile(rig, types=types, scale=probe_scale,
                                   on_take=lambda i, p: log.info("take %d: %s", i + 1, p.name))
    path = profile.save(out_path)
    seconds = time.monotonic() - started
    m = profile.measurement
    click.echo(f"Unit profile {path}: {m['takes']} takes, {m['audio_seconds']:.1f} s of audio "
               f"({m['take_wall_seconds']:.1f} s of takes), fit {profile.fit['seconds']:.1f} s "
               f"({profile.fit['model_evaluations']} model evaluations), {seconds:.1f} s in all")
    click.echo("model-vs-unit distance per section, nominal model -> fitted:")
    for line in profile.summary_lines():
        click.echo(f"  {line}")
    if profile.unseen:
        click.echo(f"not seen by these probes (left nominal): {', '.join(profile.unseen)}")
    where = "" if hardware and path == DEFAULT_PROFILE else f" --unit-profile {path}"
    rig = "--in-device D --out-device D" if hardware else f"--virtual-variant {virtual_variant}"
    click.echo(f"Next step: auto_match_hil TARGET --di-signal DI {rig}{where}")
