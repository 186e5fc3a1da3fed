"""Patch: lossless payload and JSON round trips on real factory data, one field per set."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magicstomp.effects import EFFECT_TYPES, KNOB_NONE, effect_type
from magicstomp.errors import ParameterError, PatchFormatError
from magicstomp.patch import PAYLOAD_BYTES, Patch
from reference import FACTORY_PRESETS


@pytest.fixture(scope="module")
def factory_payloads(data_dir):
    doc = json.loads(FACTORY_PRESETS.read_text())
    return [(f"{bank} {item['index']} {item['name'].strip()}", item["effect_type"],
             bytes.fromhex(item["payload_hex"]))
            for bank, items in doc["banks"].items() for item in items]


def _assert_in_range(patch: Patch) -> None:
    for p in patch.effect_type.params:
        raw = patch.get_raw(p.key)
        assert p.min_raw <= raw <= p.max_raw, (patch.name, p.key, raw)


def test_all_292_factory_payloads_round_trip_byte_for_byte(factory_payloads):
    assert len(factory_payloads) == 292
    for label, type_id, payload in factory_payloads:
        patch = Patch.from_payload(payload)
        assert patch.effect_type.id == type_id, label
        assert patch.to_payload() == payload, label
        assert Patch.from_json(patch.to_json()).to_payload() == payload, label
        assert patch.unmapped_bytes == {} or patch.effect_type.id == 0x2C, label
        _assert_in_range(patch)


def test_every_init_patch_round_trips(data_dir):
    for t in EFFECT_TYPES:
        patch = Patch.init(t.id)
        payload = patch.to_payload()
        assert len(payload) == PAYLOAD_BYTES and payload[1] == t.id
        assert Patch.from_payload(payload).to_payload() == payload, t.name
        assert Patch.from_json(patch.to_json()).to_payload() == payload, t.name
        _assert_in_range(patch)


def test_heavy_hi_gain_decodes_to_the_hand_decoded_values(factory_payloads):
    payload = next(p for label, _, p in factory_payloads if label == "guitar 1 HeavyHiGain")
    patch = Patch.from_payload(payload)
    assert patch.name == "HeavyHiGain"
    assert patch.knob_keys() == ["preamp_gain", "master_volume", "master_tone"]
    values = patch.values()
    assert values["amplifier_type"] == "Heavy 1" and values["speaker_type"] == "Off"
    assert (values["preamp_gain"], values["master_volume"], values["master_tone"]) == (9.6, 5.0, 7.8)
    assert values["compressor_threshold_db"] == pytest.approx(-8.0)
    assert values["feedback_delay_time_ms"] == pytest.approx(300.0)


def test_json_missing_params_take_init_values_and_enums_are_labels():
    doc = {"format": "magicstomp-patch", "version": 1, "effect_type": "Mono Delay",
           "name": "Short", "params": {"delay_time_ms": 120.0, "hi_pass_frequency_hz": "Thru"}}
    patch = Patch.from_dict(doc)
    init = Patch.init("Mono Delay")
    assert patch.get("delay_time_ms") == 120.0 and patch.get_raw("delay_time_ms") == 600
    assert patch.get("mix_pct") == init.get("mix_pct")
    assert patch.get_raw("hi_pass_frequency_hz") == 0
    assert patch.knobs == init.knobs


# -- one parameter moves exactly its own bytes ---------------------------------------
@st.composite
def type_param_raw(draw):
    t = draw(st.sampled_from(EFFECT_TYPES))
    p = draw(st.sampled_from(t.params))
    raw = draw(st.integers(p.min_raw, p.max_raw))
    return t, p, raw


@settings(max_examples=400, deadline=None)
@given(type_param_raw())
def test_setting_one_parameter_changes_only_its_bytes(case):
    t, p, raw = case
    patch = Patch.init(t.id)
    before = patch.to_payload()
    patch.set(p.key, p.to_physical(raw))
    after = patch.to_payload()
    changed = {i for i in range(PAYLOAD_BYTES) if before[i] != after[i]}
    assert changed <= set(range(p.payload_offset, p.payload_offset + p.size))
    assert patch.get_raw(p.key) == raw
    value = after[p.payload_offset] if p.size == 1 else \
        (after[p.payload_offset] << 7) | after[p.payload_offset + 1]
    assert value == raw


def test_no_two_parameters_share_a_byte():
    for t in EFFECT_TYPES:
        seen = {}
        for p in t.params:
            for i in range(p.payload_offset, p.payload_offset + p.size):
                assert i not in seen, f"{t.name}: {p.key} and {seen[i]} share byte {i}"
                seen[i] = p.key
            assert 32 <= p.payload_offset and p.payload_offset + p.size <= PAYLOAD_BYTES


# -- bad input ------------------------------------------------------------------------------
def test_name_too_long_or_not_ascii():
    with pytest.raises(ParameterError, match=r"name='ThirteenChars' is 13 characters long; "
                                             r"allowed at most 12"):
        Patch("Mono Delay", name="ThirteenChars")
    with pytest.raises(ParameterError, match=r"name='Café' contains 'é', which is not "
                                             r"printable ASCII"):
        Patch("Mono Delay", name="Café")


def test_payload_with_unknown_type_id():
    payload = bytearray(Patch.init("Mono Delay").to_payload())
    payload[1] = 0x40
    with pytest.raises(PatchFormatError, match=r"unknown effect type id 64 \(0x40\) in the "
                                               r"patch; expected 0x00-0x3F"):
        Patch.from_payload(bytes(payload))


def test_payload_with_value_out_of_range():
    patch = Patch.init("Mono Delay")
    payload = bytearray(patch.to_payload())
    payload[32 + 0x28] = 101           # mix, raw 0-100
    with pytest.raises(PatchFormatError, match=r"Mono Delay: mix_pct has raw value 101 at "
                                               r"payload byte 72; allowed raw 0 to 100"):
        Patch.from_payload(bytes(payload))


def test_payload_wrong_length_or_high_byte():
    payload = Patch.init("Mono Delay").to_payload()
    with pytest.raises(PatchFormatError, match=r"patch payload is 158 bytes; expected 159"):
        Patch.from_payload(payload[:-1])
    with pytest.raises(PatchFormatError, match=r"patch byte 40 is 0x80; SysEx data bytes must "
                                               r"be 0x00-0x7F"):
        Patch.from_payload(payload[:40] + b"\x80" + payload[41:])


def test_value_out_of_range_on_set():
    with pytest.raises(ParameterError, match=r"mix_pct=150 % is out of range; allowed 0 to 100 %"):
        Patch.init("Mono Delay").set("mix_pct", 150)


def test_bad_json_documents():
    with pytest.raises(PatchFormatError, match=r"the patch is not valid JSON"):
        Patch.from_json("{not json")
    with pytest.raises(PatchFormatError, match=r"the patch JSON has no 'effect_type'"):
        Patch.from_dict({"params": {}})
    with pytest.raises(ParameterError, match=r"knobs=\['mix_pct'\] must list exactly 3"):
        Patch.from_dict({"effect_type": 13, "knobs": ["mix_pct"]})


def test_unassigned_knob_is_null_in_json():
    patch = Patch("Mono Delay", knobs=["delay_time_ms", None, "mix_pct"])
    assert patch.knobs[1] == KNOB_NONE
    assert patch.to_dict()["knobs"] == ["delay_time_ms", None, "mix_pct"]
    assert effect_type(13).param("mix_pct").param_index == patch.knobs[2]


def test_unmapped_bytes_survive_json_and_bad_ones_are_refused():
    payload = bytearray(Patch.init("Mono Delay").to_payload())
    payload[33] = 0x15                           # effect byte 1: no Mono Delay parameter there
    patch = Patch.from_payload(bytes(payload))
    assert patch.unmapped_bytes == {33: 0x15}
    assert patch.to_dict()["unmapped_bytes"] == {"33": 0x15}
    assert Patch.from_json(patch.to_json()).to_payload() == bytes(payload)
    with pytest.raises(PatchFormatError, match=r"unmapped_bytes entry '500': 3 is not a payload "
                                               r"offset 0-158 with a byte 0-127"):
        Patch.from_dict({"effect_type": 13, "unmapped_bytes": {"500": 3}})
