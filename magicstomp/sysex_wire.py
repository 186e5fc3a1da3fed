"""The SysEx wire format both ``sysex`` and ``sysex_assembler`` read: constants, checksum,
framing checks and the bulk-message parser (imported by both, so that neither imports the other).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ChecksumError, SysexError

SYSEX_START = 0xF0
SYSEX_END = 0xF7
YAMAHA_ID = bytes([0x43, 0x7D])
FAMILY_BULK = 0x30
FAMILY_PARAMETER = 0x40
FAMILY_REQUEST = 0x50
MODEL_BULK = b"UB99"
MODEL_SHORT = b"UB"
BULK_HEADER = bytes([SYSEX_START, *YAMAHA_ID, FAMILY_BULK]) + MODEL_BULK
BULK_OVERHEAD_BYTES = len(BULK_HEADER) + 2 + 3 + 2   # count, address, checksum + F7
SLOT_COUNT = 99

ADDR_BULK_ALL_START = (0x30, 0x00, 0x00)
ADDR_BULK_ALL_END = (0x30, 0x10, 0x00)
ADDR_COMMON = (0x20, 0x00, 0x00)
ADDR_EFFECT = (0x20, 0x01, 0x00)
_SLOT_START, _SLOT_END = 0x01, 0x11
_EDIT_START, _EDIT_END = 0x03, 0x13


@dataclass(frozen=True)
class BulkMessage:
    """A parsed bulk message: 3-byte ``address`` and its 7-bit ``data``."""

    address: tuple
    data: bytes


def checksum(body: bytes) -> int:
    """Yamaha checksum over count + address + data: ``(-sum) mod 128``.

    Examples
    --------
    >>> hex(checksum(bytes([0x00, 0x00, 0x30, 0x01, 0x00])))
    '0x4f'
    """
    return (-sum(body)) & 0x7F


def _check_7bit(data: bytes, what: str) -> None:
    for i, b in enumerate(data):
        if b > 0x7F:
            raise SysexError(f"{what} byte {i} is 0x{b:02X}; SysEx data bytes must be 0x00-0x7F")


def _check_frame(msg: bytes, *, minimum: int) -> None:
    if len(msg) < 2 or msg[0] != SYSEX_START or msg[-1] != SYSEX_END:
        raise SysexError(f"a SysEx message must start with F0 and end with F7; got "
                         f"{msg[:4].hex(' ').upper()} ... ({len(msg)} bytes)")
    if len(msg) < minimum:
        raise SysexError(f"the message is {len(msg)} bytes; a Magicstomp message of this kind "
                         f"has at least {minimum}")
    _check_7bit(msg[1:-1], "message")


def _check_manufacturer(msg: bytes) -> None:
    if msg[1:3] != YAMAHA_ID:
        raise SysexError(f"wrong manufacturer bytes {msg[1:3].hex(' ').upper()}; expected 43 7D "
                         "(Yamaha, Magicstomp): is this file for another device?")


def parse_bulk(msg: bytes) -> BulkMessage:
    """Validate one bulk message and return its address and data.

    Raises
    ------
    SysexError
        wrong framing, manufacturer, family or model, a byte above 0x7F, or a
        count that does not match the message length.
    ChecksumError
        when the checksum does not match count + address + data.
    """
    msg = bytes(msg)
    _check_frame(msg, minimum=BULK_OVERHEAD_BYTES)
    _check_manufacturer(msg)
    if msg[3] != FAMILY_BULK:
        raise SysexError(f"message type byte 0x{msg[3]:02X} is not a bulk message (expected 30)")
    if msg[4:8] != MODEL_BULK:
        raise SysexError(f"wrong model id {msg[4:8].hex(' ').upper()}; expected 55 42 39 39 "
                         "('UB99', Magicstomp)")
    count = (msg[8] << 7) | msg[9]
    if len(msg) != BULK_OVERHEAD_BYTES + count:
        raise SysexError(f"byte count says {count} data bytes but the message holds "
                         f"{len(msg) - BULK_OVERHEAD_BYTES}; the message is truncated or corrupt")
    expected = checksum(msg[8:-2])
    if msg[-2] != expected:
        raise ChecksumError(f"bad checksum 0x{msg[-2]:02X} for address "
                            f"{msg[10:13].hex(' ').upper()}; expected 0x{expected:02X} "
                            "(the data was corrupted in transfer)",
                            expected=expected, actual=msg[-2])
    return BulkMessage(address=tuple(msg[10:13]), data=msg[13:-2])
