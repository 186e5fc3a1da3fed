"""``magicstomp ports``, ``send``, ``dump`` and ``restore``: the subcommands that talk to the
unit over MIDI.

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
              help="Store to user slot N (1-99) instead of the edit buffer; backs up the bank "
                   "first and reads every slot back.")
@click.option("--yes", is_flag=True, help="Store to --slot without asking.")
@click.option("--dry-run", "dry_run_path", type=FILE, default=None, metavar="FILE.syx",
              help="Write the bytes that would be sent to this .syx file; needs no unit and "
                   "sends nothing.")
@click.option("--bank", "bank_path", type=EXISTING_FILE, default=None, metavar="BANK.syx",
              help="With --slot --dry-run: the bank to store into (e.g. a backup); default an "
                   "empty bank of 99 flat init patches.")
@click.option("--pacing-ms", type=FiniteFloatRange(0.0, MAX_PACING_MS), default=70.0,
              show_default=True,
              help="Pause between SysEx messages.")
@click.option("--backup-dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_BACKUP_DIR, show_default=True,
              help="Where the bank backup goes before a --slot store.")
@timeout_option
@handle_errors
def send_cmd(patch_file, port, in_port, slot, yes, dry_run_path, bank_path, pacing_ms,
             backup_dir, timeout_s):
    """Send PATCH (.json/.syx/.ub9, first patch) to the unit's edit buffer, or store it to --slot.

    Storing reads all 99 user patches, writes them to a timestamped backup
    .syx in --backup-dir, sends the whole bank with slot N replaced (the only
    store sequence known to work on the unit), then reads all 99 back and
    compares them byte for byte: a difference or a silent unit is an error
    that names the backup to restore.

    Examples: magicstomp send heavy.json --port UB99;
    magicstomp send heavy.json --slot 5 --yes --port UB99;
    magicstomp send heavy.json --slot 5 --dry-run store5.syx (no unit needed)
    """
    from magicstomp.files import load_patch
    from magicstomp.midi import MagicstompMidi

    patch = load_patch(patch_file)
    if bank_path is not None and (slot is None or dry_run_path is None):
        raise click.UsageError("--bank is only for --slot N --dry-run FILE (a real store reads "
                               "the unit's own bank)")
    if dry_run_path is not None:
        _dry_run(patch, slot, dry_run_path, bank_path)
        return
    if slot is None:
        with MagicstompMidi(port, in_port=in_port) as midi:
            midi.send_patch(patch, pacing_ms=pacing_ms)
        click.echo(f"sent {patch.name or 'the patch'!r} ({patch.effect_type}) to the edit buffer",
                   err=True)
        return
    if not yes:
        _confirm(f"Overwrite user slot {slot} on the unit (the bank is backed up first)?")
    progress = BankProgress()
    try:
        with MagicstompMidi(port, in_port=in_port) as midi:
            midi.store_to_slot(patch, slot, backup_dir=backup_dir, timeout_s=timeout_s,
                               pacing_ms=pacing_ms, progress=progress,
                               on_backup=progress.announce_backup)
    finally:
        progress.close()
    click.echo(f"stored {patch.name or 'the patch'!r} to user slot {slot}; all 99 slots read "
               "back identical to what was sent", err=True)


def _dry_run(patch, slot, dry_run_path: Path, bank_path) -> None:
    """Write what `send` would send, with no unit: the 4 edit-buffer messages, or the
    whole bank (from --bank, else an empty one) with slot N replaced."""
    from magicstomp.files import atomic_write_bytes
    from magicstomp.midi_store import bank_with_slot, empty_bank
    from magicstomp.sysex import patch_messages

    if slot is None:
        messages, where = patch_messages(patch), "the edit buffer"
    else:
        payloads = _read_bank(bank_path) if bank_path is not None else empty_bank()
        messages = bank_with_slot(payloads, patch, slot)
        source = bank_path if bank_path is not None else "an empty bank (99 flat init patches)"
        where = f"user slot {slot} of {source}"
    data = b"".join(messages)
    atomic_write_bytes(dry_run_path, data)
    click.echo(f"dry run: wrote the {len(messages)} messages ({len(data)} bytes) that would "
               f"put {patch.name or 'the patch'!r} in {where} to {dry_run_path}; nothing was "
               "sent", err=True)


def _read_bank(bank_file: Path) -> list:
    """The 99 payloads of a bank .syx, or a SysexError naming what the file holds."""
    from magicstomp.errors import SysexError
    from magicstomp.files import read_syx

    items = read_syx(bank_file)
    if [item.slot for item in items] != list(range(1, 100)):
        raise SysexError(f"{bank_file} is not a 99-patch bank (it holds {len(items)} patch(es)); "
                         "give a bank such as a backup or `magicstomp dump --all --out FILE`")
    return [item.payload for item in items]


class BankProgress:
    """``progress(stage, done, total)`` for bank reads, writes and read-backs, on stderr:
    one redrawn line on a terminal, a line every third of the bank otherwise."""

    LABELS = {"read": "reading the 99 user patches for the backup",
              "write": "writing the bank to the unit",
              "verify": "reading the bank back to verify it"}

    def __init__(self, stream=None):
        import sys
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.line_open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = self.LABELS.get(stage, stage)
        if self.tty:
            self.line_open = done < total
            click.echo(f"\r{label}: {done}/{total}", file=self.stream, nl=not self.line_open)
        elif done in (1, total // 3, 2 * total // 3, total):
            click.echo(f"{label}: {done}/{total}", file=self.stream)

    def close(self) -> None:
        """End a redrawn line left open (an error comes next)."""
        if self.line_open:
            click.echo("", file=self.stream)
            self.line_open = False

    def announce_backup(self, path) -> None:
        click.echo(f"backed up the 99 user patches to {path}", file=self.stream)


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
@timeout_option
@handle_errors
def restore_cmd(bank_file, port, in_port, yes, pacing_ms, timeout_s):
    """Write a 99-patch bank .syx (e.g. a backup made by send --slot) back to the unit,
    then read all 99 slots back and compare them byte for byte.

    Example: magicstomp restore out/backups/magicstomp_backup_20260101-120000.syx --port UB99
    """
    from magicstomp.midi import MagicstompMidi

    payloads = _read_bank(bank_file)
    if not yes:
        _confirm("Overwrite all 99 user slots on the unit?")
    progress = BankProgress()
    try:
        with MagicstompMidi(port, in_port=in_port) as midi:
            midi.restore_bank(payloads, source=bank_file, timeout_s=timeout_s,
                              pacing_ms=pacing_ms, progress=progress)
    finally:
        progress.close()
    click.echo(f"wrote the 99 user patches of {bank_file} to the unit; all 99 read back "
               "identical", err=True)
