"""Collect patches from a stream of bulk messages: ``PatchAssembler`` (re-exported by ``sysex``).

A patch travels as a start message (``30 01 nn`` user slot or ``30 03 00`` edit
buffer), the 32-byte common block (``20 00 00``), the 127-byte effect block
(``20 01 00``) and the matching end message (``30 11 nn`` / ``30 13 00``). A bank
wraps 99 such groups in the bulk-all bracket ``30 00 00`` ... ``30 10 00``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SysexError
from .patch import COMMON_BYTES, EFFECT_BYTES, Patch
from .sysex_wire import (_EDIT_END, _EDIT_START, _SLOT_END, _SLOT_START, ADDR_BULK_ALL_END,
                         ADDR_BULK_ALL_START, ADDR_COMMON, ADDR_EFFECT, SLOT_COUNT, BulkMessage,
                         parse_bulk)


@dataclass(frozen=True)
class AssembledPatch:
    """One patch collected from a start/common/effect/end group.

    ``target`` is ``"edit"`` (edit buffer, ``slot`` None) or ``"slot"`` (``slot`` 1..99);
    ``in_bank`` is True when the group arrived inside a bulk-all bracket.
    """

    target: str
    slot: int | None
    payload: bytes
    in_bank: bool = False

    def patch(self) -> Patch:
        """Decode the payload (raises PatchFormatError for bytes outside the table)."""
        return Patch.from_payload(self.payload)



class PatchAssembler:
    """Collect patches from a stream of bulk messages (a file, a dump, a bulk-all write).

    ``feed(msg)`` returns the patches completed by that message (usually none,
    one at each end message). ``finish()`` checks that nothing is left open.

    Raises
    ------
    SysexError
        for a start without its end, an end without its start, a block outside
        a start/end group, a missing or repeated block, or an unknown address.
    """

    def __init__(self):
        self.in_bank = False
        self._frame = None          # (target, slot) of the open start message
        self._blocks: dict = {}

    @property
    def busy(self) -> bool:
        """True while a bulk-all bracket or a patch group is open."""
        return self.in_bank or self._frame is not None

    def feed(self, msg) -> list:
        """Process one message (bytes or a BulkMessage); return the patches it completes."""
        bulk = msg if isinstance(msg, BulkMessage) else parse_bulk(msg)
        a1, a2, a3 = bulk.address
        where = " ".join(f"{a:02X}" for a in bulk.address)
        if bulk.address[:2] == ADDR_COMMON[:2] or bulk.address[:2] == ADDR_EFFECT[:2]:
            self._block(bulk, where)
            return []
        if bulk.data:
            raise SysexError(f"control message {where} carries {len(bulk.data)} data bytes; "
                             "expected none")
        if bulk.address == ADDR_BULK_ALL_START:
            self._expect_closed(where)
            if self.in_bank:
                raise SysexError("bulk-all start (30 00 00) inside another bulk-all; "
                                 "the earlier one has no end message (30 10 00)")
            self.in_bank = True
        elif bulk.address == ADDR_BULK_ALL_END:
            self._expect_closed(where)
            if not self.in_bank:
                raise SysexError("bulk-all end (30 10 00) without its start (30 00 00)")
            self.in_bank = False
        elif a1 == 0x30 and a2 in (_SLOT_START, _EDIT_START):
            self._start(a2, a3, where)
        elif a1 == 0x30 and a2 in (_SLOT_END, _EDIT_END):
            return [self._end(a2, a3, where)]
        else:
            raise SysexError(f"unknown bulk address {where}; expected a patch start/end "
                             "(30 0x nn), a block (20 00 00 / 20 01 00) or bulk-all (30 00/10 00)")
        return []

    def finish(self) -> None:
        """Raise SysexError if a patch group or bulk-all bracket is still open."""
        if self._frame is not None:
            raise SysexError(f"{self._describe(self._frame)} start message has no end message; "
                             "the data is truncated")
        if self.in_bank:
            raise SysexError("bulk-all start (30 00 00) has no end message (30 10 00); "
                             "the data is truncated")

    # -- internals -------------------------------------------------------------
    @staticmethod
    def _describe(frame) -> str:
        target, slot = frame
        return "edit-buffer" if target == "edit" else f"user patch {slot}"

    def _expect_closed(self, where: str) -> None:
        if self._frame is not None:
            raise SysexError(f"{where} arrived while the {self._describe(self._frame)} group "
                             "was open; its end message is missing")

    def _start(self, a2: int, a3: int, where: str) -> None:
        self._expect_closed(where)
        if a2 == _SLOT_START:
            if a3 >= SLOT_COUNT:
                raise SysexError(f"user patch index 0x{a3:02X} in {where}; expected 00-62")
            self._frame = ("slot", a3 + 1)
        else:
            if self.in_bank:
                raise SysexError("an edit-buffer patch (30 03) inside a bulk-all bracket; "
                                 "a bank holds user patches (30 01 nn) only")
            self._frame = ("edit", None)
        self._blocks = {}

    def _end(self, a2: int, a3: int, where: str) -> AssembledPatch:
        frame = ("slot", a3 + 1) if a2 == _SLOT_END else ("edit", None)
        if self._frame is None:
            raise SysexError(f"end message {where} without its start message")
        if frame != self._frame:
            raise SysexError(f"end message {where} does not match the open "
                             f"{self._describe(self._frame)} start")
        missing = [name for name in ("common", "effect") if name not in self._blocks]
        if missing:
            raise SysexError(f"the {self._describe(frame)} group has no {' or '.join(missing)} "
                             "block; expected a 32-byte common and a 127-byte effect block")
        payload = self._blocks["common"] + self._blocks["effect"]
        self._frame, self._blocks = None, {}
        return AssembledPatch(target=frame[0], slot=frame[1], payload=payload,
                              in_bank=self.in_bank)

    def _block(self, bulk: BulkMessage, where: str) -> None:
        name, size = (("common", COMMON_BYTES) if bulk.address == ADDR_COMMON
                      else ("effect", EFFECT_BYTES) if bulk.address == ADDR_EFFECT
                      else (None, 0))
        if name is None:
            raise SysexError(f"unknown block address {where}; expected 20 00 00 or 20 01 00")
        if self._frame is None:
            raise SysexError(f"{name} block ({where}) outside a patch start/end group")
        if len(bulk.data) != size:
            raise SysexError(f"{name} block is {len(bulk.data)} bytes; expected {size}")
        if name in self._blocks:
            raise SysexError(f"the {self._describe(self._frame)} group has two {name} blocks")
        self._blocks[name] = bulk.data
