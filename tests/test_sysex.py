"""SysEx framing pinned to the literal messages of SYSEX.md 3.3, 3.4 and 4.4, plus bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magicstomp.errors import ChecksumError, SysexError
from magicstomp.patch import Patch
from magicstomp.sysex import (AssembledPatch, PatchAssembler, bank_messages, bulk_message,
                              checksum, dump_request, message_kind, name_changes,
                              parameter_change, parameter_change_for, parse_bulk,
                              parse_dump_request, parse_parameter_change, patch_messages,
                              split_messages)
from reference import FACTORY_PRESETS


def h(text: str) -> bytes:
    return bytes.fromhex(text)


HEAD = "F0 43 7D 30 55 42 39 39 "


@pytest.fixture(scope="module")
def heavy_payload(data_dir) -> bytes:
    doc = json.loads(FACTORY_PRESETS.read_text())
    return bytes.fromhex(doc["banks"]["guitar"][0]["payload_hex"])


# -- SYSEX.md 3.3: checksum on the three literal real messages -------------------------
@pytest.mark.parametrize("message", [
    HEAD + "00 00 30 01 00 4F F7",      # JSynthLib's bank-dump recogniser
    HEAD + "00 00 30 03 00 4D F7",      # Midi2MagicStomp edit-buffer start
    HEAD + "00 00 30 13 00 3D F7",      # Midi2MagicStomp edit-buffer end
])
def test_literal_real_messages(message):
    msg = h(message)
    assert checksum(msg[8:-2]) == msg[-2]
    assert bulk_message(tuple(msg[10:13])) == msg
    assert parse_bulk(msg).address == tuple(msg[10:13]) and parse_bulk(msg).data == b""


@pytest.mark.parametrize("address, message", [
    ((0x30, 0x01, 0x05), HEAD + "00 00 30 01 05 4A F7"),    # user patch 06 start
    ((0x30, 0x11, 0x05), HEAD + "00 00 30 11 05 3A F7"),    # user patch 06 end
    ((0x30, 0x00, 0x00), HEAD + "00 00 30 00 00 50 F7"),    # bulk-all start
    ((0x30, 0x10, 0x00), HEAD + "00 00 30 10 00 40 F7"),    # bulk-all end
])
def test_ready_made_control_messages(address, message):
    assert bulk_message(address) == h(message)


# -- SYSEX.md 3.4: the HeavyHiGain worked example ------------------------------------------
def test_heavy_hi_gain_edit_buffer_messages(heavy_payload):
    start, common, effect, end = patch_messages(heavy_payload)
    assert start == h(HEAD + "00 00 30 03 00 4D F7")
    assert common == h(HEAD + "00 20 20 00 00  00 37 00 13 00 14 00 17"
                       " 00 00 00 00 00 00 00 00 48 65 61 76 79 48 69 47 61 69 6E 20"
                       " 00 00 00 00  7E F7")
    assert effect[:13] == h(HEAD + "00 7F 20 01 00") and effect[-2:] == h("14 F7")
    assert effect[13:-2] == heavy_payload[32:]
    assert end == h(HEAD + "00 00 30 13 00 3D F7")
    assert [len(m) for m in (start, common, effect, end)] == [15, 47, 142, 15]


def test_user_slot_framing_uses_slot_minus_one(heavy_payload):
    msgs = patch_messages(Patch.from_payload(heavy_payload), slot=6)
    assert msgs[0] == h(HEAD + "00 00 30 01 05 4A F7")
    assert msgs[-1] == h(HEAD + "00 00 30 11 05 3A F7")
    assert patch_messages(heavy_payload, slot=99)[0][10:13] == h("30 01 62")


def test_bank_is_bracketed_and_99_groups_long(heavy_payload):
    msgs = bank_messages([heavy_payload] * 99)
    assert len(msgs) == 1 + 99 * 4 + 1 and len(b"".join(msgs)) == 21711
    assert msgs[0] == h(HEAD + "00 00 30 00 00 50 F7")
    assert msgs[-1] == h(HEAD + "00 00 30 10 00 40 F7")
    with pytest.raises(SysexError, match=r"a bank holds 99 patches; got 98"):
        bank_messages([heavy_payload] * 98)


# -- SYSEX.md 4.4 and 4.3: parameter change and dump request -----------------------------
def test_parameter_change_examples_from_sysex_md():
    amp = Patch.init(0x37).set("preamp_gain", 7.5)
    assert parameter_change_for(amp, "preamp_gain") == h("F0 43 7D 40 55 42 20 01 1E 4B F7")
    delay = Patch.init("Mono Delay").set("delay_time_ms", 350.0)
    assert parameter_change_for(delay, "delay_time_ms") == h("F0 43 7D 40 55 42 20 01 10 0D 56 F7")
    assert parameter_change_for(delay, "effect_type") == h("F0 43 7D 40 55 42 20 00 00 00 0D F7")
    named = Patch("Mono Delay", name="A")
    assert name_changes(named)[0] == h("F0 43 7D 40 55 42 20 00 10 41 F7")
    assert name_changes(named)[1] == h("F0 43 7D 40 55 42 20 00 11 20 F7")
    assert parse_parameter_change(h("F0 43 7D 40 55 42 20 01 10 0D 56 F7")) == (1, 0x10, h("0D 56"))


def test_parse_parameter_change_takes_1_or_2_value_bytes():
    assert parse_parameter_change(h("F0 43 7D 40 55 42 20 01 1E 4B F7")) == (1, 0x1E, h("4B"))
    assert parse_parameter_change(parameter_change(0, 0x10, 0x41, 1)) == (0, 0x10, h("41"))
    assert message_kind(h("F0 43 7D 40 55 42 20 01 1E 4B F7")) == "parameter"
    with pytest.raises(SysexError, match=r"a parameter change is 11 or 12 bytes; got 13"):
        parse_parameter_change(h("F0 43 7D 40 55 42 20 01 10 0D 56 00 F7"))
    with pytest.raises(SysexError, match=r"parameter address 20 00 20 is outside the patch"):
        parse_parameter_change(h("F0 43 7D 40 55 42 20 00 20 01 F7"))


def test_parameter_change_rejects_values_that_do_not_fit():
    with pytest.raises(SysexError, match=r"value=128 does not fit 1 byte\(s\); expected 0 to 127"):
        parameter_change(1, 0x28, 128, 1)
    with pytest.raises(SysexError, match=r"offset=127 is outside block 1; expected 0 to 126"):
        parameter_change(1, 127, 0, 1)


def test_dump_request():
    assert dump_request(1) == h("F0 43 7D 50 55 42 30 01 00 F7")
    assert dump_request(99) == h("F0 43 7D 50 55 42 30 01 62 F7")
    assert parse_dump_request(dump_request(42)) == 42
    assert message_kind(dump_request(3)) == "request"
    with pytest.raises(SysexError, match=r"slot=0 is not a user slot; expected 1 to 99"):
        dump_request(0)


# -- splitting and parsing bad input ---------------------------------------------------------
def test_split_messages_is_strict():
    a, b = bulk_message((0x30, 0x03, 0)), bulk_message((0x30, 0x13, 0))
    assert split_messages(a + b) == [a, b]
    with pytest.raises(SysexError, match=r"found 2 byte\(s\) outside a SysEx message at offset "
                                         r"15 \(first 0x00\)"):
        split_messages(a + b"\x00\x01" + b)
    with pytest.raises(SysexError, match=r"the message starting at offset 15 has no F7 end byte"):
        split_messages(a + b[:-1])
    with pytest.raises(SysexError, match=r"the message starting at offset 0 has no F7"):
        split_messages(a[:-1] + b)


def test_wrong_manufacturer_or_model():
    msg = bytearray(bulk_message((0x30, 0x03, 0)))
    msg[1] = 0x41                                            # Roland
    with pytest.raises(SysexError, match=r"wrong manufacturer bytes 41 7D; expected 43 7D"):
        parse_bulk(bytes(msg))
    msg = bytearray(bulk_message((0x30, 0x03, 0)))
    msg[6] = 0x31                                            # "UB19"
    with pytest.raises(SysexError, match=r"wrong model id 55 42 31 39; expected 55 42 39 39"):
        parse_bulk(bytes(msg))


def test_bad_checksum(heavy_payload):
    msg = bytearray(patch_messages(heavy_payload)[1])
    msg[20] ^= 0x01
    with pytest.raises(ChecksumError, match=r"bad checksum 0x7E for address 20 00 00; expected "
                                            r"0x7F") as info:
        parse_bulk(bytes(msg))
    assert (info.value.expected, info.value.actual) == (0x7F, 0x7E)   # byte 0x17 became 0x16


def test_count_mismatch(heavy_payload):
    msg = patch_messages(heavy_payload)[1]
    short = msg[:20] + msg[21:]
    with pytest.raises(SysexError, match=r"byte count says 32 data bytes but the message holds 31"):
        parse_bulk(short)


def test_byte_above_7f():
    msg = bytearray(bulk_message((0x20, 0x00, 0x00), bytes(32)))
    msg[15] = 0x90
    with pytest.raises(SysexError, match=r"message byte 14 is 0x90; SysEx data bytes must be "
                                         r"0x00-0x7F"):
        parse_bulk(bytes(msg))
    with pytest.raises(SysexError, match=r"bulk data byte 3 is 0x80"):
        bulk_message((0x20, 0x00, 0x00), b"\x00\x00\x00\x80")


# -- assembling patches --------------------------------------------------------------------------
def _feed_all(msgs) -> list:
    assembler, out = PatchAssembler(), []
    for msg in msgs:
        out.extend(assembler.feed(msg))
    assembler.finish()
    return out


def test_assembler_collects_edit_buffer_slot_and_bank(heavy_payload):
    assert _feed_all(patch_messages(heavy_payload)) == [
        AssembledPatch(target="edit", slot=None, payload=heavy_payload)]
    assert _feed_all(patch_messages(heavy_payload, slot=12)) == [
        AssembledPatch(target="slot", slot=12, payload=heavy_payload)]
    bank = _feed_all(bank_messages([heavy_payload] * 99))
    assert [p.slot for p in bank] == list(range(1, 100)) and all(p.in_bank for p in bank)


def test_assembler_start_without_end(heavy_payload):
    with pytest.raises(SysexError, match=r"user patch 3 start message has no end message; "
                                         r"the data is truncated"):
        _feed_all(patch_messages(heavy_payload, slot=3)[:3])
    with pytest.raises(SysexError, match=r"bulk-all start \(30 00 00\) has no end message"):
        _feed_all(bank_messages([heavy_payload] * 99)[:-1])


def test_assembler_rejects_blocks_outside_a_group_and_mismatched_ends(heavy_payload):
    start, common, effect, end = patch_messages(heavy_payload, slot=2)
    with pytest.raises(SysexError, match=r"common block \(20 00 00\) outside a patch start/end"):
        _feed_all([common])
    with pytest.raises(SysexError, match=r"end message 30 11 01 without its start message"):
        _feed_all([end])
    with pytest.raises(SysexError, match=r"group has no effect block"):
        _feed_all([start, common, end])
    other_end = patch_messages(heavy_payload, slot=3)[3]
    with pytest.raises(SysexError, match=r"end message 30 11 02 does not match the open user "
                                         r"patch 2 start"):
        _feed_all([start, common, effect, other_end])
    with pytest.raises(SysexError, match=r"has two common blocks"):
        _feed_all([start, common, common, effect, end])
    with pytest.raises(SysexError, match=r"unknown bulk address 10 00 00"):
        _feed_all([bulk_message((0x10, 0, 0))])


# -- any payload survives framing, splitting and assembling ---------------------------------------
@settings(max_examples=200, deadline=None)
@given(payload=st.binary(min_size=159, max_size=159).map(lambda b: bytes(x & 0x7F for x in b)),
       slot=st.one_of(st.none(), st.integers(1, 99)))
def test_framing_round_trip_property(payload, slot):
    data = b"".join(patch_messages(payload, slot=slot))
    assert len(data) == 219
    msgs = split_messages(data)
    for msg in msgs:
        body = msg[8:-1]
        assert sum(body) % 128 == 0             # count + address + data + checksum
    [item] = _feed_all(msgs)
    assert (item.payload, item.slot, item.target) == (payload, slot,
                                                      "edit" if slot is None else "slot")
