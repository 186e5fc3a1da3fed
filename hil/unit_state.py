"""The virtual unit's brain, without JACK: SysEx in, replies out, audio blocks through.

:class:`UnitState` behaves like the Magicstomp as the toolkit talks to it
(``SYSEX.md``): an edit buffer that plays (bulk ``30 03`` groups and live
parameter changes), 99 user slots (bulk ``30 01 nn`` groups, inside a bulk-all
bracket or not), and dump requests answered with the slot's 4 messages (the
edit-buffer request ``30 03 00`` with the edit buffer's). Optionally the slots
are persisted to a bank ``.syx`` file.

Fault injection (for the fault drills in the tests): ``cut_midi_after`` makes the
unit deaf and mute on MIDI after that many SysEx messages (a cable pulled out;
:meth:`UnitState.cut_midi` does it at once), ``corrupt_slot_writes`` stores every
written slot with one byte changed, ``ignore_edit_requests`` leaves the
edit-buffer request unanswered (as a unit that does not implement it).

Audio: until a patch arrives the unit is in bypass (output = input on both
outputs). A patch change (or a parameter change) builds a fresh processor;
the fresh processor stays idle (outputs silence without advancing, so LFOs
keep phase 0) until the first non-zero input sample, so a take whose DI starts
at once renders exactly as ``magicstomp.emulator.render``. Whenever nothing is
connected to the unit's input (between takes) :meth:`UnitState.idle` returns
the processor to that fresh state, so repeated takes of one patch (not sent
again) and re-takes after a dropout are identical too. On real hardware delay
and reverb tails and LFOs run on between takes; ``HardwareRig.settle_ms``
covers the tails after a patch change. The interface
imitation follows: fixed gain, polarity, latency (a delay line) and noise.

:mod:`hil.virtual_unit` runs this inside a JACK client.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from magicstomp.errors import MagicstompError
from magicstomp.midi_store import user_bank
from magicstomp.patch import NAME_CHARS, NAME_OFFSET, Patch
from magicstomp.sysex import (FAMILY_BULK, FAMILY_PARAMETER, FAMILY_REQUEST,
                              PatchAssembler, is_edit_dump_request, message_kind,
                              parse_dump_request, parse_parameter_change, patch_messages)

log = logging.getLogger(__name__)

_FAMILIES = {FAMILY_BULK, FAMILY_PARAMETER, FAMILY_REQUEST}


def default_slots() -> list:
    """The user memory of a fresh virtual unit: Mono Delay init patches named ``User 01..99``."""
    return user_bank(Patch.init(0x0D))


class UnitState:
    """Edit buffer, user slots, SysEx handling and the audio path of a virtual unit.

    Parameters
    ----------
    sample_rate : int
        Audio rate (the emulator's rates: 44100, 48000, 96000).
    latency_samples : int
        Extra output delay imitating an interface.
    gain_db : float
        Output gain imitating the return level.
    invert : bool
        Invert the output polarity.
    noise_dbfs : float or None
        RMS level of white noise added to the outputs.
    bank_path : path, optional
        Bank .syx holding the 99 slots: read at start when it exists, rewritten after writes.
    seed : int
        Seed of the noise.
    variant : UnitVariant, optional
        The unit variant the emulator plays (None = the nominal model).
    cut_midi_after : int, optional
        Ignore all MIDI (no answers) after this many SysEx messages.
    corrupt_slot_writes : bool
        Store every written slot with its last name byte changed.
    ignore_edit_requests : bool
        Do not answer the edit-buffer dump request.
    """

    def __init__(self, sample_rate: int, *, latency_samples: int = 0, gain_db: float = 0.0,
                 invert: bool = False, noise_dbfs: float | None = None, bank_path=None,
                 seed: int = 0, variant=None, cut_midi_after: int | None = None,
                 corrupt_slot_writes: bool = False, ignore_edit_requests: bool = False):
        self.sample_rate = int(sample_rate)
        self.variant = variant
        self.gain = (10 ** (gain_db / 20)) * (-1.0 if invert else 1.0)
        self.noise_rms = None if noise_dbfs is None else 10 ** (noise_dbfs / 20)
        self._rng = np.random.default_rng(seed)
        self._delay = np.zeros((int(latency_samples), 2))
        self.bank_path = Path(bank_path) if bank_path else None
        self.slots = self._load_bank() if self.bank_path and self.bank_path.exists() \
            else default_slots()
        self.edit_payload: bytes | None = None
        self.processor = None
        self._fresh = False
        self._assembler = PatchAssembler()
        self.bank_dirty = False
        self.patch_changes = 0
        self.sysex_received = 0
        self.cut_midi_after = cut_midi_after
        self.corrupt_slot_writes = bool(corrupt_slot_writes)
        self.ignore_edit_requests = bool(ignore_edit_requests)

    def cut_midi(self) -> None:
        """From now on, ignore all MIDI (a pulled cable)."""
        self.cut_midi_after = 0

    @property
    def midi_cut(self) -> bool:
        return self.cut_midi_after is not None and self.sysex_received >= self.cut_midi_after

    # -- memory ------------------------------------------------------------------------
    def _load_bank(self) -> list:
        from magicstomp.files import read_syx
        slots = default_slots()
        for item in read_syx(self.bank_path):
            if item.target == "slot":
                slots[item.slot - 1] = item.payload
        return slots

    def save_bank(self) -> None:
        """Write the slots to ``bank_path`` (if any) and clear ``bank_dirty``."""
        if self.bank_path is not None:
            from magicstomp.files import write_bank_syx
            write_bank_syx(self.bank_path, self.slots)
        self.bank_dirty = False

    @property
    def edit_patch(self) -> Patch | None:
        return None if self.edit_payload is None else Patch.from_payload(self.edit_payload)

    # -- SysEx ---------------------------------------------------------------------------
    def handle_sysex(self, msg: bytes) -> list:
        """Apply one SysEx message (``F0 .. F7``); return the reply messages (dumps).

        Messages the unit does not understand are logged and ignored, as the
        hardware ignores them (it never answers with an error).
        """
        msg = bytes(msg)
        if self.midi_cut:
            return []
        self.sysex_received += 1
        if len(msg) < 5 or msg[1:3] != bytes([0x43, 0x7D]) or msg[3] not in _FAMILIES:
            log.info("ignoring a SysEx message that is not for the Magicstomp: %s",
                     msg[:8].hex(" "))
            return []
        try:
            kind = message_kind(msg)
            if kind == "bulk":
                for item in self._assembler.feed(msg):
                    self._store(item)
                return []
            if kind == "parameter":
                self._parameter(*parse_parameter_change(msg))
                return []
            if is_edit_dump_request(msg):
                if self.ignore_edit_requests or self.edit_payload is None:
                    return []
                return patch_messages(self.edit_payload)
            slot = parse_dump_request(msg)
            return patch_messages(self.slots[slot - 1], slot=slot)
        except MagicstompError as exc:
            log.warning("ignoring a bad SysEx message (%s)", exc)
            self._assembler = PatchAssembler()     # resynchronise at the next start message
            return []

    def _store(self, item) -> None:
        Patch.from_payload(item.payload)          # refuse bytes outside the table
        if item.target == "edit":
            self.load_edit(item.payload)
        else:
            payload = item.payload
            if self.corrupt_slot_writes:      # the last name character: still a valid patch
                k = NAME_OFFSET + NAME_CHARS - 1
                payload = payload[:k] + bytes([(payload[k] - 0x1F) % 0x5F + 0x20]) + payload[k + 1:]
            self.slots[item.slot - 1] = payload
            self.bank_dirty = True

    def _parameter(self, block: int, offset: int, value: bytes) -> None:
        if self.edit_payload is None:
            log.warning("parameter change with no patch in the edit buffer; ignored")
            return
        payload = bytearray(self.edit_payload)
        start = offset + (0 if block == 0 else 32)
        payload[start:start + len(value)] = value
        self.load_edit(bytes(payload))

    def load_edit(self, payload: bytes) -> None:
        """Put ``payload`` in the edit buffer and start a fresh processor for it."""
        from magicstomp.emulator import StreamProcessor
        patch = Patch.from_payload(payload)
        self.edit_payload = bytes(payload)
        self.patch_changes += 1
        try:
            self.processor = StreamProcessor(patch, self.sample_rate, variant=self.variant)
        except (MagicstompError, ImportError) as exc:
            log.warning("cannot emulate %s (%s); passing the input through", patch, exc)
            self.processor = None
        self._fresh = self.processor is not None

    def idle(self) -> None:
        """Nothing feeds the unit: reset the processor to its fresh, waiting state (once)."""
        if self.processor is not None and not self._fresh:
            self.processor.reset()
            self._fresh = True

    # -- audio -----------------------------------------------------------------------------
    def process(self, block) -> np.ndarray:
        """Mono input block -> stereo output block (float64, (n, 2))."""
        x = np.asarray(block, dtype=np.float64)
        n = len(x)
        if self.processor is None:
            y = np.repeat(x[:, None], 2, axis=1)
        else:
            y = np.zeros((n, 2))
            start = 0
            if self._fresh:
                nonzero = np.flatnonzero(x)
                start = int(nonzero[0]) if nonzero.size else n
                self._fresh = start == n
            if start < n:
                y[start:] = self.processor.process(x[start:])
        y *= self.gain
        if len(self._delay):
            joined = np.concatenate([self._delay, y])
            y, self._delay = joined[:n], joined[n:]
        if self.noise_rms is not None:
            y += self._rng.standard_normal((n, 2)) * self.noise_rms
        return y
