"""``magicstomp ports``, ``send`` and ``dump``: the subcommands that talk to the unit over MIDI.

They are attached to the ``magicstomp`` group in ``cli/magicstomp_cli.py``.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import FiniteFloatRange, handle_errors

FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
DEFAULT_BACKUP_DIR = Path("out/backups")
DEFAULT_TIMEOUT_S = 2.0
MAX_TIMEOUT_S = 600.0
MAX_PACING_MS = 5000.0


def port_options(func):
    """--port and --in-port, shared by send and dump."""
    func = click.option("--in-port", default=None, metavar="NAME",
                        help="The unit's output port, when its name differs from --port.")(func)
    return click.option("--port", "-p", default=None, metavar="NAME",
                        help="The unit's MIDI port: exact name or a unique part of it "
                             "(default: the port that looks like a Magicstomp).")(func)


def timeout_option(func):
    return click.option("--timeout-s", type=FiniteFloatRange(0.05, MAX_TIMEOUT_S),
                        default=DEFAULT_TIMEOUT_S,
                        show_default=True, help="Give up after this much silence from the unit.")(func)


def _confirm(question: str) -> None:
    """Ask; anything but yes, or no answer at all (stdin at its end, as in a script), stops
    with exit 1 before anything is sent. Ctrl-C at the question is an interrupt (130)."""
    try:
        confirmed = click.confirm(question, err=True)
    except click.Abort as exc:
        if not isinstance(exc.__context__, EOFError):
            raise
        click.echo("", err=True)      # end the question's line
        confirmed = False
    if not confirmed:
        raise click.ClickException("not confirmed; nothing was sent (answer y, or pass --yes)")


@click.command("ports")
@handle_errors
def ports_cmd():
    """List the MIDI input and output ports (the names --port accepts).

    Example: magicstomp ports
    """
    from magicstomp.midi import list_ports

    ports = list_ports()
    for kind, role in (("outputs", "--port: we send to these"),
                       ("inputs", "--in-port: we listen to these")):
        click.echo(f"MIDI {kind} ({role}):")
        for name in ports[kind] or ["(none)"]:
            click.echo(f"  {name}")


@click.command("send")
@click.argument("patch_file", metavar="PATCH", type=EXISTING_FILE)
@port_options
@click.option("--slot", type=click.IntRange(1, 99),
              help="Store to user slot N (1-99) instead of the edit buffer; backs up the bank first.")
@click.option("--yes", is_flag=True, help="Store to --slot without asking.")
@click.option("--dry-run", "dry_run_path", type=FILE, default=None,
              help="Write the bytes that would be sent to this .syx file and send nothing.")
@click.option("--pacing-ms", type=FiniteFloatRange(0.0, MAX_PACING_MS), default=70.0,
              show_default=True,
              help="Pause between SysEx messages.")
@click.option("--backup-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_BACKUP_DIR, show_default=True,
              help="Where the bank backup goes before a --slot store.")
@timeout_option
@handle_errors
def send_cmd(patch_file, port, in_port, slot, yes, dry_run_path, pacing_ms, backup_dir, timeout_s):
    """Send PATCH (.json/.syx/.ub9, first patch) to the unit's edit buffer, or store it to --slot.

    Storing reads all 99 user patches, writes them to a timestamped backup
    .syx in --backup-dir, then sends the whole bank with slot N replaced
    (the only store sequence known to work on the unit).

    Examples: magicstomp send heavy.json --port UB99;
    magicstomp send heavy.json --slot 5 --yes --port UB99
    """
    from magicstomp.files import atomic_write_bytes, load_patch
    from magicstomp.midi import MagicstompMidi
    from magicstomp.sysex import patch_messages

    patch = load_patch(patch_file)
    if slot is None:
        if dry_run_path is not None:
            atomic_write_bytes(dry_run_path, b"".join(patch_messages(patch)))
            click.echo(f"dry run: wrote the 4 edit-buffer messages to {dry_run_path}", err=True)
            return
        with MagicstompMidi(port, in_port=in_port) as midi:
            midi.send_patch(patch, pacing_ms=pacing_ms)
        click.echo(f"sent {patch.name or 'the patch'!r} ({patch.effect_type}) to the edit buffer",
                   err=True)
        return
    if not yes and dry_run_path is None:
        _confirm(f"Overwrite user slot {slot} on the unit (the bank is backed up first)?")
    with MagicstompMidi(port, in_port=in_port) as midi:
        backup = midi.store_to_slot(patch, slot, backup_dir=backup_dir,
                                    dry_run_path=dry_run_path, timeout_s=timeout_s,
                                    pacing_ms=pacing_ms)
    click.echo(f"backed up the 99 user patches to {backup}", err=True)
    if dry_run_path is not None:
        click.echo(f"dry run: wrote the bank that would be sent to {dry_run_path}", err=True)
    else:
        click.echo(f"stored {patch.name or 'the patch'!r} to user slot {slot}", err=True)


@click.command("dump")
@click.option("--slot", type=click.IntRange(1, 99), help="Dump user slot N (1-99).")
@click.option("--all", "dump_all", is_flag=True, help="Dump all 99 user patches as a bank.")
@click.option("--out", "out_path", required=True, type=FILE, help="The .syx file to write.")
@port_options
@timeout_option
@handle_errors
def dump_cmd(slot, dump_all, out_path, port, in_port, timeout_s):
    """Read user patches from the unit into a .syx file (checksums verified).

    Examples: magicstomp dump --slot 5 --out slot5.syx --port UB99;
    magicstomp dump --all --out bank.syx
    """
    from magicstomp.files import write_bank_syx, write_syx
    from magicstomp.midi import MagicstompMidi

    if (slot is None) == (not dump_all):
        raise click.UsageError("give exactly one of --slot N and --all")
    with MagicstompMidi(port, in_port=in_port) as midi:
        if dump_all:
            payloads = midi.request_all_payloads(timeout_s=timeout_s)
            write_bank_syx(out_path, payloads)
            click.echo(f"wrote the 99 user patches to {out_path}", err=True)
        else:
            write_syx(out_path, midi.request_slot_payload(slot, timeout_s=timeout_s), slot=slot)
            click.echo(f"wrote user slot {slot} to {out_path}", err=True)


@click.command("restore")
@click.argument("bank_file", metavar="BANK.syx", type=EXISTING_FILE)
@port_options
@click.option("--yes", is_flag=True, help="Overwrite all 99 user slots without asking.")
@click.option("--pacing-ms", type=FiniteFloatRange(0.0, MAX_PACING_MS), default=70.0,
              show_default=True,
              help="Pause between SysEx messages.")
@handle_errors
def restore_cmd(bank_file, port, in_port, yes, pacing_ms):
    """Write a 99-patch bank .syx (e.g. a backup made by send --slot) back to the unit.

    Example: magicstomp restore out/backups/magicstomp_backup_20260101-120000.syx --port UB99
    """
    from magicstomp.errors import SysexError
    from magicstomp.files import read_syx
    from magicstomp.midi import MagicstompMidi

    items = read_syx(bank_file)
    if [item.slot for item in items] != list(range(1, 100)):
        raise SysexError(f"{bank_file} is not a 99-patch bank (it holds {len(items)} patch(es)); "
                         "use `magicstomp send` for a single patch")
    if not yes:
        _confirm("Overwrite all 99 user slots on the unit?")
    with MagicstompMidi(port, in_port=in_port) as midi:
        midi.send_bank([item.payload for item in items], pacing_ms=pacing_ms)
    click.echo(f"wrote the 99 user patches of {bank_file} to the unit", err=True)
