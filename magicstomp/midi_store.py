"""Writing the unit's user memory safely: back up, write, read back, compare.

    store_to_slot(midi, patch, slot, backup_dir=...) -> backup .syx path
    restore_bank(midi, payloads, source=...)          write a whole bank, verified
    verify_bank(midi, payloads, ...)                  read all 99 back, compare byte for byte
    bank_with_slot(payloads, patch, slot)   -> the 398 messages a store sends
    empty_bank()                            -> 99 init payloads (for a dry run without a unit)
    backup_path(backup_dir)                 -> a new timestamped backup file name

The unit stores patches only through a whole-bank bulk-all write (SYSEX.md 4.2),
so storing one slot rewrites all 99. Every write is therefore followed by a dump
of all 99 slots, compared byte for byte with what was sent: a slot that differs,
or a unit that stops answering, raises :class:`SlotWriteError`, whose message
names the backup to restore. Nothing is reported as stored that was not read back.

``progress(stage, done, total)`` is called with stage ``"read"`` (the backup),
``"write"`` (patches sent) and ``"verify"`` (patches read back).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from .errors import MagicstompError, MidiError
from .files import write_bank_syx
from .patch import Patch
from .sysex import SLOT_COUNT, bank_messages, check_slot

log = logging.getLogger(__name__)

#: Pause between the end of a bank write and its read-back (the unit commits to flash).
VERIFY_WAIT_S = 0.5
#: Messages per patch in a bank write (start, common, effect, end).
_PER_PATCH = 4


class SlotWriteError(MidiError):
    """A slot write that could not be confirmed by reading it back.

    Attributes: ``backup`` (the bank .syx to restore, or None), ``slots`` (the
    slots that differ; empty when the unit did not answer).
    """

    def __init__(self, message, *, backup=None, slots=()):
        super().__init__(message)
        self.backup = backup
        self.slots = list(slots)


def user_bank(base: Patch) -> list:
    """99 payloads of ``base``, named ``User 01`` .. ``User 99`` (a bank of fresh user slots)."""
    out = []
    for k in range(1, SLOT_COUNT + 1):
        patch = base.copy()
        patch.name = f"User {k:02d}"
        out.append(patch.to_payload())
    return out


def empty_bank() -> list:
    """99 user slots holding the init patch (3 Band Parametric EQ, flat), named ``User NN``."""
    base = Patch.init("3 Band Parametric EQ")
    for key in ("eq_gain_1_db", "eq_gain_2_db", "eq_gain_3_db"):
        base.set(key, 0.0)
    return user_bank(base)


def bank_with_slot(payloads, patch: Patch, slot: int) -> list:
    """The bank write that stores ``patch`` in ``slot`` over ``payloads`` (398 messages)."""
    check_slot(slot)
    new = list(payloads)
    new[slot - 1] = patch.to_payload()
    return bank_messages(new)


def backup_path(backup_dir) -> Path:
    """A new file name ``magicstomp_backup_YYYYmmdd-HHMMSS[-n].syx`` (UTC) in ``backup_dir``."""
    folder = Path(backup_dir)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    candidate = folder / f"magicstomp_backup_{stamp}.syx"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"magicstomp_backup_{stamp}-{n}.syx"
    return candidate


def _report(progress, stage: str):
    if progress is None:
        return None
    return lambda done: progress(stage, done, SLOT_COUNT)


def store_to_slot(midi, patch: Patch, slot: int, *, backup_dir, timeout_s: float = 2.0,
                  pacing_ms: float = 70.0, progress=None, on_backup=None) -> Path:
    """Store ``patch`` in user ``slot``: back up all 99, write the bank, read all 99 back.

    Parameters
    ----------
    midi : magicstomp.midi.MagicstompMidi
        An open connection.
    on_backup : callable, optional
        ``on_backup(path)`` once the backup is written, before the first byte is sent
        (default: one INFO log line).

    Returns
    -------
    Path
        The backup of the bank as it was.

    Raises
    ------
    SlotWriteError
        when the write could not be verified; its message names the backup.
    """
    check_slot(slot)
    before = midi.request_all_payloads(timeout_s=timeout_s, progress=_report(progress, "read"))
    backup = backup_path(backup_dir)
    write_bank_syx(backup, before)
    if on_backup is None:
        log.info("backed up the %d user patches to %s", SLOT_COUNT, backup)
    else:
        on_backup(backup)
    after = list(before)
    after[slot - 1] = patch.to_payload()
    restore_hint = (f"the bank as it was is in {backup}: put it back with "
                    f"`magicstomp restore {backup} --yes`")
    _write_and_verify(midi, after, what=f"storing to user slot {slot}", hint=restore_hint,
                      backup=backup, timeout_s=timeout_s, pacing_ms=pacing_ms, progress=progress)
    return backup


def restore_bank(midi, payloads, *, source, timeout_s: float = 2.0, pacing_ms: float = 70.0,
                 progress=None) -> None:
    """Write the 99 ``payloads`` (read from the file ``source``) and read them all back."""
    hint = f"write it again with `magicstomp restore {source} --yes`"
    _write_and_verify(midi, list(payloads), what=f"restoring {source}", hint=hint,
                      backup=Path(source), timeout_s=timeout_s, pacing_ms=pacing_ms,
                      progress=progress)


def _write_and_verify(midi, payloads, *, what, hint, backup, timeout_s, pacing_ms, progress):
    def sent(done, _total):         # message 1 opens the bracket, then 4 per patch
        patches, rest = divmod(done - 1, _PER_PATCH)
        if progress is not None and rest == 0 and 0 < patches < SLOT_COUNT:
            progress("write", patches, SLOT_COUNT)

    try:
        midi.send_raw(bank_messages(payloads), pacing_ms=pacing_ms, progress=sent)
    except MidiError as exc:
        raise SlotWriteError(f"{what} failed while sending ({exc}); the unit's memory may be "
                             f"half-written: {hint}", backup=backup) from None
    if progress is not None:
        progress("write", SLOT_COUNT, SLOT_COUNT)
    time.sleep(VERIFY_WAIT_S)
    verify_bank(midi, payloads, what=what, hint=hint, backup=backup, timeout_s=timeout_s,
                progress=progress)


def verify_bank(midi, payloads, *, what: str = "the bank write", hint: str = "",
                backup=None, timeout_s: float = 2.0, progress=None) -> None:
    """Read all 99 slots back and compare them byte for byte with ``payloads``.

    Raises
    ------
    SlotWriteError
        for silence, a corrupt answer or any slot that differs (all of them are listed).
    """
    differ = []
    for slot, expected in enumerate(payloads, start=1):
        try:
            got = midi.request_slot_payload(slot, timeout_s=timeout_s)
        except MagicstompError as exc:
            raise SlotWriteError(
                f"{what} is NOT verified: reading user slot {slot} back failed ({_short(exc)}); "
                f"the MIDI link or the unit went away; {hint}", backup=backup) from None
        if got != bytes(expected):
            differ.append(slot)
            log.debug("slot %d differs: %s", slot, _first_difference(got, expected))
        if progress is not None:
            progress("verify", slot, SLOT_COUNT)
    if differ:
        listing = ", ".join(map(str, differ[:10])) + (" ..." if len(differ) > 10 else "")
        raise SlotWriteError(
            f"{what} FAILED: {len(differ)} user slot(s) read back different from what was sent "
            f"(slot {listing}); {hint}", backup=backup, slots=differ)
    log.debug("%s: all %d slots read back identical", what, SLOT_COUNT)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text.split(";")[0]


def _first_difference(got: bytes, expected: bytes) -> str:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return f"byte {i}: read 0x{a:02X}, sent 0x{b:02X}"
    return f"lengths {len(got)} and {len(expected)}"
