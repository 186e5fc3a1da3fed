"""SysEx framing for the Magicstomp (UB99): bulk data, parameter changes, dump requests.

Every message starts ``F0 43 7D`` (Yamaha, fixed 7D) and the family byte:

=======  ===========================================================  ==========
family   layout after ``F0 43 7D xx``                                 checksum
=======  ===========================================================  ==========
``30``   ``55 42 39 39`` count(2) address(3) data(count) cks ``F7``   yes
``40``   ``55 42`` address(3) value(1 or 2) ``F7``                    no
``50``   ``55 42 30 01 nn F7`` (dump request of user patch nn)        no
``50``   ``55 42 30 03 00 F7`` (dump request of the edit buffer)      no
=======  ===========================================================  ==========

Build
    checksum, bulk_message, patch_messages, bank_messages,
    parameter_change, parameter_change_for, name_changes, dump_request,
    edit_dump_request
Parse
    split_messages, message_kind, parse_bulk, parse_parameter_change,
    parse_dump_request, is_edit_dump_request,
    PatchAssembler (start/common/effect/end groups -> payloads)

Slots are numbered 1..99 as on the unit; on the wire they are 0-based
(``nn = slot - 1``). Protocol reference: the project's ``SYSEX.md``.
"""

from __future__ import annotations

from .errors import SysexError
from .patch import COMMON_BYTES, EFFECT_BYTES, PAYLOAD_BYTES, Patch
from .sysex_assembler import AssembledPatch, PatchAssembler  # noqa: F401  (this module's API)
from .sysex_wire import (_EDIT_END, _EDIT_START, _SLOT_END, _SLOT_START,  # noqa: F401
                         ADDR_BULK_ALL_END, ADDR_BULK_ALL_START, ADDR_COMMON, ADDR_EFFECT,
                         BULK_HEADER, BULK_OVERHEAD_BYTES, FAMILY_BULK, FAMILY_PARAMETER,
                         FAMILY_REQUEST, MODEL_BULK, MODEL_SHORT, SLOT_COUNT, SYSEX_END,
                         SYSEX_START, YAMAHA_ID, BulkMessage, _check_7bit, _check_frame,
                         _check_manufacturer, checksum, parse_bulk)

_BLOCK_SIZES = {0: COMMON_BYTES, 1: EFFECT_BYTES}   # parameter-change block -> bytes
_KINDS = {FAMILY_BULK: "bulk", FAMILY_PARAMETER: "parameter", FAMILY_REQUEST: "request"}


# -- building ---------------------------------------------------------------
def _check_address(address) -> tuple:
    address = tuple(address)
    if len(address) != 3 or any(not isinstance(a, int) or not 0 <= a <= 0x7F for a in address):
        raise SysexError(f"address {address!r} must be three integers 0x00-0x7F")
    return address


def bulk_message(address: tuple, data: bytes = b"") -> bytes:
    """One bulk message ``F0 43 7D 30 'UB99' count address data cks F7``.

    Parameters
    ----------
    address : tuple of 3 int
        e.g. ``(0x20, 0x00, 0x00)`` for the common block.
    data : bytes
        0..16383 bytes, each 0x00-0x7F (empty for start/end control messages).
    """
    address = _check_address(address)
    data = bytes(data)
    if len(data) > 0x3FFF:
        raise SysexError(f"bulk data is {len(data)} bytes; at most 16383 fit the 14-bit count")
    _check_7bit(data, "bulk data")
    body = bytes([len(data) >> 7, len(data) & 0x7F, *address]) + data
    return BULK_HEADER + body + bytes([checksum(body), SYSEX_END])


def _payload_of(patch_or_payload) -> bytes:
    """The 159 payload bytes of a Patch or of raw bytes (length and 7-bit checked)."""
    if isinstance(patch_or_payload, Patch):
        return patch_or_payload.to_payload()
    if not isinstance(patch_or_payload, (bytes, bytearray, memoryview)):
        raise SysexError(f"expected a Patch or {PAYLOAD_BYTES} payload bytes; "
                         f"got {type(patch_or_payload).__name__}")
    payload = bytes(patch_or_payload)
    if len(payload) != PAYLOAD_BYTES:
        raise SysexError(f"patch payload is {len(payload)} bytes; expected {PAYLOAD_BYTES} "
                         "(32-byte common block + 127-byte effect block)")
    _check_7bit(payload, "patch payload")
    return payload


def check_slot(slot) -> int:
    """Return ``slot`` if it is a user slot number 1..99, else raise SysexError."""
    if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= SLOT_COUNT:
        raise SysexError(f"slot={slot!r} is not a user slot; expected 1 to {SLOT_COUNT}")
    return slot


def patch_messages(patch_or_payload, *, slot: int | None = None) -> list:
    """The 4 messages that carry one patch: start, common block, effect block, end.

    Parameters
    ----------
    patch_or_payload : Patch or bytes
        the patch, or its 159-byte payload.
    slot : int, optional
        None for the edit buffer (``30 03 00`` / ``30 13 00``), else user slot
        1..99 (``30 01 nn`` / ``30 11 nn`` with nn = slot - 1).
    """
    payload = _payload_of(patch_or_payload)
    if slot is None:
        start, end = (0x30, _EDIT_START, 0), (0x30, _EDIT_END, 0)
    else:
        nn = check_slot(slot) - 1
        start, end = (0x30, _SLOT_START, nn), (0x30, _SLOT_END, nn)
    return [bulk_message(start), bulk_message(ADDR_COMMON, payload[:COMMON_BYTES]),
            bulk_message(ADDR_EFFECT, payload[COMMON_BYTES:]), bulk_message(end)]


def bank_messages(payloads_or_patches) -> list:
    """All 99 user patches in the bulk-all bracket: 1 + 99 x 4 + 1 = 398 messages."""
    items = list(payloads_or_patches)
    if len(items) != SLOT_COUNT:
        raise SysexError(f"a bank holds {SLOT_COUNT} patches; got {len(items)}")
    out = [bulk_message(ADDR_BULK_ALL_START)]
    for slot, item in enumerate(items, start=1):
        out.extend(patch_messages(item, slot=slot))
    out.append(bulk_message(ADDR_BULK_ALL_END))
    return out


def parameter_change(block: int, offset: int, value: int, size: int) -> bytes:
    """A live parameter change ``F0 43 7D 40 55 42 20 bb oo v.. F7`` (no checksum).

    Parameters
    ----------
    block : int
        0 = common block (32 bytes), 1 = effect block (127 bytes).
    offset : int
        byte offset inside the block.
    value : int
        raw value: 0..127 for ``size`` 1, 0..16383 for ``size`` 2 (sent hi7, lo7).
    size : int
        1 or 2 value bytes, the parameter's size in the block.
    """
    if block not in _BLOCK_SIZES:
        raise SysexError(f"block={block!r} must be 0 (common) or 1 (effect)")
    if not isinstance(offset, int) or not 0 <= offset < _BLOCK_SIZES[block]:
        raise SysexError(f"offset={offset!r} is outside block {block}; "
                         f"expected 0 to {_BLOCK_SIZES[block] - 1}")
    if size not in (1, 2):
        raise SysexError(f"size={size!r} must be 1 or 2 value bytes")
    limit = 0x7F if size == 1 else 0x3FFF
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise SysexError(f"value={value!r} does not fit {size} byte(s); expected 0 to {limit}")
    value_bytes = [value] if size == 1 else [value >> 7, value & 0x7F]
    return bytes([SYSEX_START, *YAMAHA_ID, FAMILY_PARAMETER, *MODEL_SHORT, 0x20, block, offset,
                  *value_bytes, SYSEX_END])


_COMMON_FIELDS = {"effect_type": 0, "knob_1": 2, "knob_2": 4, "knob_3": 6}


def parameter_change_for(patch: Patch, key: str) -> bytes:
    """The parameter-change message that sets ``key`` to its value in ``patch``.

    ``key`` is an effect parameter key (e.g. ``"delay_time_ms"``), or one of the
    common fields ``"effect_type"``, ``"knob_1"``, ``"knob_2"``, ``"knob_3"``.
    For the name use :func:`name_changes`.
    """
    if key in _COMMON_FIELDS:
        offset = _COMMON_FIELDS[key]
        payload = patch.to_payload()
        return parameter_change(0, offset, (payload[offset] << 7) | payload[offset + 1], 2)
    p = patch.effect_type.param(key)
    return parameter_change(1, p.offset, patch.get_raw(p.key), p.size)


def name_changes(patch: Patch) -> list:
    """Twelve 1-byte parameter changes, one per name character (as MagicstompFrenzy sends)."""
    payload = patch.to_payload()
    return [parameter_change(0, 0x10 + i, payload[0x10 + i], 1) for i in range(12)]


def dump_request(slot: int) -> bytes:
    """Request user patch ``slot`` (1..99): ``F0 43 7D 50 55 42 30 01 nn F7``."""
    nn = check_slot(slot) - 1
    return bytes([SYSEX_START, *YAMAHA_ID, FAMILY_REQUEST, *MODEL_SHORT, 0x30, _SLOT_START, nn,
                  SYSEX_END])


def edit_dump_request() -> bytes:
    """Request the edit buffer: ``F0 43 7D 50 55 42 30 03 00 F7``.

    No editor source sends it (SYSEX.md 4.3, [OPEN]); the JACK virtual unit answers
    it. A unit that ignores it is confirmed by a slot round trip instead
    (``hil.rig.HardwareRig``).
    """
    return bytes([SYSEX_START, *YAMAHA_ID, FAMILY_REQUEST, *MODEL_SHORT, 0x30, _EDIT_START, 0,
                  SYSEX_END])


def is_edit_dump_request(msg: bytes) -> bool:
    """True for the edit-buffer dump request (see :func:`edit_dump_request`)."""
    return bytes(msg) == edit_dump_request()


# -- parsing (parse_bulk: sysex_wire) --------------------------------------
def split_messages(data: bytes) -> list:
    """Split concatenated SysEx messages (a .syx file) into a list of ``F0 ... F7`` messages.

    Raises
    ------
    SysexError
        for bytes outside an F0..F7 message, or a message that never ends.
    """
    data = bytes(data)
    out, i = [], 0
    while i < len(data):
        if data[i] != SYSEX_START:
            end = data.find(bytes([SYSEX_START]), i)
            stray = (end if end >= 0 else len(data)) - i
            raise SysexError(f"found {stray} byte(s) outside a SysEx message at offset {i} "
                             f"(first 0x{data[i]:02X}); expected F0 to start the next message")
        end = data.find(bytes([SYSEX_END]), i + 1)
        restart = data.find(bytes([SYSEX_START]), i + 1)
        if end < 0 or 0 <= restart < end:
            raise SysexError(f"the message starting at offset {i} has no F7 end byte; "
                             "the data is truncated or corrupt")
        out.append(data[i:end + 1])
        i = end + 1
    return out


def message_kind(msg: bytes) -> str:
    """``"bulk"``, ``"parameter"`` or ``"request"`` for a Magicstomp message, else SysexError."""
    msg = bytes(msg)
    _check_frame(msg, minimum=5)
    _check_manufacturer(msg)
    kind = _KINDS.get(msg[3])
    if kind is None:
        raise SysexError(f"message type byte 0x{msg[3]:02X} is not a Magicstomp message; "
                         "expected 30 (bulk), 40 (parameter change) or 50 (dump request)")
    return kind


def parse_parameter_change(msg: bytes) -> tuple:
    """``(block, offset, value_bytes)`` of a parameter-change message."""
    msg = bytes(msg)
    _check_frame(msg, minimum=11)
    _check_manufacturer(msg)
    if msg[3] != FAMILY_PARAMETER or msg[4:6] != MODEL_SHORT or msg[6] != 0x20:
        raise SysexError(f"not a parameter change: {msg[3:7].hex(' ').upper()}; "
                         "expected 40 55 42 20")
    if len(msg) not in (11, 12):   # F0 43 7D 40 55 42 20 bb oo + 1 or 2 value bytes + F7
        raise SysexError(f"a parameter change is 11 or 12 bytes; got {len(msg)}")
    block, offset = msg[7], msg[8]
    if block not in _BLOCK_SIZES or offset >= _BLOCK_SIZES[block]:
        raise SysexError(f"parameter address 20 {block:02X} {offset:02X} is outside the patch")
    return block, offset, msg[9:-1]


def parse_dump_request(msg: bytes) -> int:
    """The slot (1..99) asked for by a dump request ``F0 43 7D 50 55 42 30 01 nn F7``."""
    msg = bytes(msg)
    _check_frame(msg, minimum=10)
    _check_manufacturer(msg)
    if len(msg) != 10 or msg[3] != FAMILY_REQUEST or msg[4:8] != bytes([*MODEL_SHORT, 0x30,
                                                                         _SLOT_START]):
        raise SysexError(f"not a user-patch dump request: {msg.hex(' ').upper()}; "
                         "expected F0 43 7D 50 55 42 30 01 nn F7")
    if msg[8] >= SLOT_COUNT:
        raise SysexError(f"dump request for patch index 0x{msg[8]:02X}; expected 00-62 (1-99)")
    return msg[8] + 1

