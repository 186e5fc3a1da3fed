"""The virtual unit's behaviour without JACK: SysEx handling, slots, bank file, audio path."""

from __future__ import annotations

import numpy as np
import pytest

from hil.unit_state import UnitState
from magicstomp.emulator import render
from magicstomp.files import read_syx
from magicstomp.patch import Patch
from magicstomp.sysex import (bank_messages, dump_request, parameter_change_for, patch_messages,
                              split_messages)

RATE = 48000


def feed(state, messages):
    replies = []
    for msg in messages:
        replies.extend(state.handle_sysex(msg))
    return replies


def blocks(state, x, size=256):
    return np.concatenate([state.process(x[i:i + size]) for i in range(0, len(x), size)])


@pytest.fixture(scope="module")
def di():
    t = np.arange(RATE // 4) / RATE
    return 0.3 * np.sin(2 * np.pi * 330 * t + 0.5)      # non-zero from the first sample


def test_bypass_until_a_patch_arrives(di):
    out = UnitState(RATE).process(di)
    np.testing.assert_array_equal(out, np.stack([di, di], axis=1))


def test_edit_buffer_patch_is_applied_and_renders_like_the_emulator(di):
    state = UnitState(RATE)
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=30.0, mix_pct=60)
    assert feed(state, patch_messages(patch)) == []
    assert state.edit_patch == patch
    silence = blocks(state, np.zeros(1000))          # a fresh processor waits for signal
    assert not silence.any()
    np.testing.assert_allclose(blocks(state, di), render(patch, di, RATE), atol=1e-12)


def test_idle_resets_so_repeated_takes_are_identical(di):
    state = UnitState(RATE)
    feed(state, patch_messages(Patch.init("Chorus")))
    first = blocks(state, di)
    blocks(state, np.zeros(5000))
    state.idle()                                      # nothing connected between takes
    np.testing.assert_array_equal(blocks(state, di), first)


def test_parameter_change_updates_the_edit_buffer(di):
    state = UnitState(RATE)
    patch = Patch.init("Mono Delay")
    feed(state, patch_messages(patch))
    changed = patch.with_values(delay_time_ms=350.0)
    feed(state, [parameter_change_for(changed, "delay_time_ms")])
    assert state.edit_patch.get("delay_time_ms") == 350.0
    assert state.patch_changes == 2


def test_dump_request_answers_with_the_slot():
    state = UnitState(RATE)
    replies = feed(state, [dump_request(7)])
    assert replies == patch_messages(state.slots[6], slot=7)
    assert Patch.from_payload(state.slots[6]).name == "User 07"


def test_single_slot_write_and_bank_write_persist(tmp_path):
    bank = tmp_path / "bank.syx"
    state = UnitState(RATE, bank_path=bank)
    stored = Patch.init("Tremolo")
    stored.name = "Stored"
    feed(state, patch_messages(stored, slot=12))
    assert state.slots[11] == stored.to_payload() and state.bank_dirty
    state.save_bank()
    assert read_syx(bank)[11].payload == stored.to_payload()
    # a whole bank (bulk-all bracket) replaces every slot; a new unit reads the file back
    payloads = [Patch.init("Echo").to_payload()] * 99
    feed(state, bank_messages(payloads))
    state.save_bank()
    reborn = UnitState(RATE, bank_path=bank)
    assert reborn.slots == payloads
    assert feed(reborn, [dump_request(99)])[2] == patch_messages(payloads[98], slot=99)[2]


def test_bad_or_foreign_sysex_is_ignored_like_the_hardware():
    state = UnitState(RATE)
    good = patch_messages(Patch.init("Mono Delay"))
    corrupt = bytearray(good[1])
    corrupt[-2] ^= 0x01                              # wrong checksum
    assert feed(state, [good[0], bytes(corrupt), good[2], good[3]]) == []
    assert state.edit_payload is None
    assert feed(state, [bytes([0xF0, 0x41, 0x10, 0x42, 0xF7])]) == []
    feed(state, good)                                 # resynchronised at the next start
    assert state.edit_patch == Patch.init("Mono Delay")


def test_interface_imitation_latency_gain_polarity_noise(di):
    plain = blocks(UnitState(RATE), di)
    imitated = blocks(UnitState(RATE, latency_samples=100, gain_db=-6.0, invert=True), di)
    np.testing.assert_allclose(imitated[100:], -10 ** (-6 / 20) * plain[:-100], atol=1e-12)
    assert not imitated[:100].any()
    noisy = blocks(UnitState(RATE, noise_dbfs=-50.0, seed=4), di) - plain
    assert 20 * np.log10(np.std(noisy)) == pytest.approx(-50.0, abs=0.2)


def test_bank_file_messages_are_well_formed(tmp_path):
    state = UnitState(RATE, bank_path=tmp_path / "b.syx")
    state.save_bank()
    assert len(split_messages((tmp_path / "b.syx").read_bytes())) == 1 + 99 * 4 + 1
