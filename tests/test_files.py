"""Patch files: every derived .syx fixture decodes to its manifest and re-encodes byte for byte;
.ub9 layout; atomic writes; one test per malformed file."""

from __future__ import annotations

import json
import os

import pytest

from magicstomp.errors import ChecksumError, ParameterError, PatchFormatError, SysexError
from magicstomp.files import (UB9_BYTES, atomic_write_bytes, atomic_write_text, read_patches,
                              read_syx, read_ub9, ub9_bytes, write_bank_syx, write_syx, write_ub9)
from magicstomp.patch import Patch
from magicstomp.sysex import bank_messages, patch_messages
from reference import FACTORY_PRESETS

DERIVED = "derived_patches"


@pytest.fixture(scope="module")
def manifest(data_dir):
    return json.loads((data_dir / DERIVED / "manifest.json").read_text())


@pytest.fixture(scope="module")
def bass_bank(data_dir):
    doc = json.loads(FACTORY_PRESETS.read_text())
    return [bytes.fromhex(item["payload_hex"]) for item in doc["banks"]["bass"]]


def test_every_derived_single_patch_file_matches_its_manifest(data_dir, manifest, tmp_path):
    assert len(manifest["files"]) == 28
    for entry in manifest["files"]:
        path = data_dir / DERIVED / entry["file"]
        [item] = read_syx(path)
        assert item.payload.hex() == entry["payload_hex"], entry["file"]
        patch = item.patch()
        assert patch.name == entry["name"].rstrip(" ")
        assert patch.effect_type.id == entry["effect_type"]
        assert patch.effect_type.name == entry["effect_type_name"]
        assert list(patch.knobs) == entry["knobs_param_index"]
        if entry["file"].endswith("_editbuf.syx"):
            assert item.target == "edit" and item.slot is None
        else:
            assert item.target == "slot" and f"(= patch {item.slot})" in entry["framing"]
        out = write_syx(tmp_path / entry["file"], patch, slot=item.slot)
        assert out.read_bytes() == path.read_bytes(), entry["file"]


def test_the_99_patch_bank_decodes_and_re_encodes(data_dir, manifest, bass_bank, tmp_path):
    path = data_dir / DERIVED / manifest["bank_file"]["file"]
    items = read_syx(path)
    assert [i.slot for i in items] == list(range(1, 100))
    assert [i.payload for i in items] == bass_bank
    patches = read_patches(path)
    assert len(path.read_bytes()) == manifest["bank_file"]["bytes"] == 21711
    assert write_bank_syx(tmp_path / "bank.syx", patches).read_bytes() == path.read_bytes()


def test_ub9_layout_and_round_trip(bass_bank, tmp_path):
    patches = [Patch.from_payload(p) for p in bass_bank]
    path = write_ub9(tmp_path / "lib.ub9", patches)
    data = path.read_bytes()
    assert len(data) == UB9_BYTES == 17408
    assert data[:10] == b"UB99 V1.00" and data[0x40:0x4A] == b"UB99 V1.00"
    assert data[0x80:0x80 + 12] == bass_bank[0][16:28]                  # name table
    assert data[0x80 + 12 * 98:0x80 + 12 * 99] == bass_bank[98][16:28]
    assert data[0x600:0x600 + 159] == bass_bank[0]
    assert data[0x600 + 98 * 159:0x600 + 99 * 159] == bass_bank[98]
    assert set(data[0x600 + 99 * 159:]) == {0}
    assert [p.to_payload() for p in read_ub9(path)] == bass_bank
    assert [p.to_payload() for p in read_patches(path)] == bass_bank


def test_ub9_with_fewer_patches_is_filled_with_blank_amp_simulators():
    data = ub9_bytes([Patch.init("Mono Delay")])
    filler = Patch.from_payload(data[0x600 + 159:0x600 + 2 * 159])
    assert filler.effect_type.id == 0x08 and filler.name == ""


def test_read_patches_json_single_and_list(tmp_path):
    one = Patch.init("Mono Delay").with_values(delay_time_ms=410.0)
    (tmp_path / "one.json").write_text(one.to_json())
    (tmp_path / "two.json").write_text(json.dumps([one.to_dict(), Patch.init(0x37).to_dict()]))
    assert read_patches(tmp_path / "one.json") == [one]
    assert [p.effect_type.id for p in read_patches(tmp_path / "two.json")] == [0x0D, 0x37]
    assert Patch.load(tmp_path / "one.json") == one


def test_content_sniffing_for_unknown_suffix(data_dir, tmp_path):
    src = data_dir / DERIVED / "derived_guitar_53_ShadowDly_editbuf.syx"
    other = tmp_path / "patch.bin"
    other.write_bytes(src.read_bytes())
    assert read_patches(other)[0].name == "ShadowDly"


def test_standard_midi_file_with_the_bank(bass_bank, tmp_path):
    import mido

    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="Send All"))
    for msg in bank_messages(bass_bank):
        track.append(mido.Message("sysex", data=msg[1:-1], time=10))
    midi_file = mido.MidiFile()
    midi_file.tracks.append(track)
    midi_file.save(str(tmp_path / "bank.mid"))
    assert [p.to_payload() for p in read_patches(tmp_path / "bank.mid")] == bass_bank
    (tmp_path / "bank.mid").rename(tmp_path / "bank.bin")                 # found by content
    assert len(read_patches(tmp_path / "bank.bin")) == 99


# -- bad files ----------------------------------------------------------------------------------
def _syx(tmp_path, data: bytes):
    path = tmp_path / "bad.syx"
    path.write_bytes(data)
    return path


def test_truncated_file(tmp_path):
    data = b"".join(patch_messages(Patch.init("Mono Delay")))
    with pytest.raises(SysexError, match=r"bad.syx: the message starting at offset 62 has no F7 "
                                         r"end byte; the data is truncated"):
        read_syx(_syx(tmp_path, data[:100]))
    with pytest.raises(SysexError, match=r"bad.syx: edit-buffer start message has no end message"):
        read_syx(_syx(tmp_path, data[:-15]))


def test_odd_bytes_between_messages(tmp_path):
    msgs = patch_messages(Patch.init("Mono Delay"))
    with pytest.raises(SysexError, match=r"found 1 byte\(s\) outside a SysEx message at offset 15"):
        read_syx(_syx(tmp_path, msgs[0] + b"\x0a" + b"".join(msgs[1:])))


def test_bad_checksum_in_file(tmp_path):
    data = bytearray(b"".join(patch_messages(Patch.init("Mono Delay"))))
    data[15 + 47 + 20] ^= 0x02
    with pytest.raises(ChecksumError, match=r"bad.syx: bad checksum .* for address 20 01 00"):
        read_syx(_syx(tmp_path, bytes(data)))


def test_empty_missing_and_patchless_files(tmp_path):
    with pytest.raises(SysexError, match=r"bad.syx: the file is empty"):
        read_syx(_syx(tmp_path, b""))
    with pytest.raises(PatchFormatError, match=r"nothing.syx: no such file"):
        read_patches(tmp_path / "nothing.syx")
    with pytest.raises(SysexError, match=r"holds no complete patch"):
        read_syx(_syx(tmp_path, b"".join(bank_messages([Patch.init(8)] * 99)[:1]
                                        + bank_messages([Patch.init(8)] * 99)[-1:])))


def test_ub9_of_the_wrong_size_or_header(tmp_path):
    path = tmp_path / "lib.ub9"
    path.write_bytes(ub9_bytes([Patch.init("Mono Delay")])[:-1])
    with pytest.raises(SysexError, match=r"lib.ub9: a .ub9 library is exactly 17408 bytes; "
                                         r"this file is 17407"):
        read_ub9(path)
    path.write_bytes(b"XB99 V1.00" + ub9_bytes([Patch.init("Mono Delay")])[10:])
    with pytest.raises(SysexError, match=r"no 'UB99 V1.00' header at offset 0x000"):
        read_ub9(path)


def test_ub9_with_a_broken_slot_names_the_slot(tmp_path):
    data = bytearray(ub9_bytes([Patch.init("Mono Delay")] * 3))
    data[0x600 + 2 * 159 + 1] = 0x45                       # slot 3: type id 0x45
    path = tmp_path / "lib.ub9"
    path.write_bytes(bytes(data))
    with pytest.raises(PatchFormatError, match=r"lib.ub9: slot 3: unknown effect type id 69"):
        read_ub9(path)


def test_unknown_format_and_bad_json(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(PatchFormatError, match=r"notes.txt: unknown patch file format; expected "
                                               r".syx, .ub9, .mid or .json"):
        read_patches(path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"effect_type": 13, "params": {"mix_pct": 400}}')
    with pytest.raises(ParameterError, match=r"bad.json: mix_pct=400 % is out of range"):
        read_patches(bad)


# -- atomic writes --------------------------------------------------------------------------------
def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    atomic_write_text(target, "first")
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.stat(target).st_mode & 0o777 == 0o640              # the old mode is kept
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
