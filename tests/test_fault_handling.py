"""Hardware-path safety without a sound card or a JACK server: slot-write verification
against a scripted unit, the dry run of a store, the virtual unit's fault injection,
damaged calibration files and the silencing of library chatter on stderr.

The same behaviour through real ports is drilled in tests/test_hardware_faults.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.magicstomp_cli import main as magicstomp
from hil.calibration_record import CalibrationRecord
from hil.unit_state import UnitState, default_slots
from magicstomp.errors import CalibrationError, MidiTimeoutError
from magicstomp.files import read_syx, write_bank_syx
from magicstomp.midi_store import (SlotWriteError, bank_with_slot, empty_bank, store_to_slot,
                                   verify_bank)
from magicstomp.patch import Patch
from magicstomp.quiet import quiet_stderr
from magicstomp.sysex import (PatchAssembler, bank_messages, dump_request, edit_dump_request,
                              patch_messages)

REPO = Path(__file__).resolve().parents[1]


class ScriptedUnit:
    """A MagicstompMidi stand-in over UnitState: what it is sent, it applies; it answers
    dump requests from its slots, and goes silent after ``answers`` answers."""

    def __init__(self, state: UnitState, *, answers: int | None = None):
        self.state, self.answers, self.sent = state, answers, []

    def send_raw(self, messages, *, pacing_ms=0, progress=None):
        messages = list(messages)
        for i, msg in enumerate(messages):
            self.sent.append(msg)
            self.state.handle_sysex(msg)
            if progress is not None:
                progress(i + 1, len(messages))

    def request_slot_payload(self, slot, *, timeout_s=2.0, retries=1):
        if self.answers is not None:
            if self.answers == 0:
                raise MidiTimeoutError(f"the unit did not answer the dump request for slot {slot} "
                                       f"within {timeout_s:g} s; check the MIDI cable")
            self.answers -= 1
        self.sent.append(dump_request(slot))
        assembler = PatchAssembler()
        [item] = [i for msg in self.state.handle_sysex(dump_request(slot))
                  for i in assembler.feed(msg)]
        return item.payload

    def request_all_payloads(self, *, timeout_s=2.0, progress=None):
        out = []
        for slot in range(1, 100):
            out.append(self.request_slot_payload(slot, timeout_s=timeout_s))
            if progress is not None:
                progress(slot)
        return out


@pytest.fixture
def patch():
    p = Patch.init("Compressor")
    p.name = "Stored"
    return p


def test_store_backs_up_writes_and_reads_every_slot_back(patch, tmp_path, monkeypatch):
    monkeypatch.setattr("magicstomp.midi_store.VERIFY_WAIT_S", 0.0)
    unit = ScriptedUnit(UnitState(48000))
    seen, backups = [], []
    backup = store_to_slot(unit, patch, 9, backup_dir=tmp_path, progress=lambda *a: seen.append(a),
                           on_backup=backups.append)
    assert backups == [backup]
    assert [item.payload for item in read_syx(backup)] == default_slots()
    assert unit.state.slots[8] == patch.to_payload()
    requests = [m for m in unit.sent if m[3] == 0x50]
    assert len(requests) == 2 * 99                       # the backup and the read-back
    stages = [(stage, done) for stage, done, _ in seen if done in (1, 99)]
    assert stages == [("read", 1), ("read", 99), ("write", 1), ("write", 99), ("verify", 1),
                      ("verify", 99)]


def test_a_slot_stored_wrongly_is_an_error_naming_the_backup(patch, tmp_path, monkeypatch):
    monkeypatch.setattr("magicstomp.midi_store.VERIFY_WAIT_S", 0.0)
    unit = ScriptedUnit(UnitState(48000, corrupt_slot_writes=True))
    with pytest.raises(SlotWriteError) as caught:
        store_to_slot(unit, patch, 9, backup_dir=tmp_path)
    backup = caught.value.backup
    assert caught.value.slots == list(range(1, 100))     # the bank write rewrites every slot
    assert str(caught.value) == (
        "storing to user slot 9 FAILED: 99 user slot(s) read back different from what was sent "
        "(slot 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ...); the bank as it was is in "
        f"{backup}: put it back with `magicstomp restore {backup} --yes`")
    assert [item.payload for item in read_syx(backup)] == default_slots()


def test_a_unit_gone_silent_during_the_read_back_is_not_reported_stored(patch, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr("magicstomp.midi_store.VERIFY_WAIT_S", 0.0)
    unit = ScriptedUnit(UnitState(48000), answers=99 + 20)
    with pytest.raises(SlotWriteError, match=r"^storing to user slot 9 is NOT verified: reading "
                                             r"user slot 21 back failed \(the unit did not answer "
                                             r"the dump request for slot 21 within 2 s\); the MIDI "
                                             r"link or the unit went away; the bank as it was is "
                                             r"in .*magicstomp_backup_.*\.syx: put it back"):
        store_to_slot(unit, patch, 9, backup_dir=tmp_path)


def test_verify_bank_passes_an_identical_bank():
    unit = ScriptedUnit(UnitState(48000))
    verify_bank(unit, default_slots())
    with pytest.raises(SlotWriteError, match=r"1 user slot\(s\) read back different .*slot 4\)"):
        changed = default_slots()
        changed[3] = Patch.init("Chorus").to_payload()
        verify_bank(unit, changed)


# -- the virtual unit's fault injection ---------------------------------------------------------
def test_unit_state_answers_the_edit_buffer_request():
    state = UnitState(48000)
    assert state.handle_sysex(edit_dump_request()) == []          # nothing loaded yet
    patch = Patch.init("Mono Delay").with_values(mix_pct=33)
    for msg in patch_messages(patch):
        state.handle_sysex(msg)
    assert state.handle_sysex(edit_dump_request()) == patch_messages(patch)
    quiet = UnitState(48000, ignore_edit_requests=True)
    for msg in patch_messages(patch):
        quiet.handle_sysex(msg)
    assert quiet.handle_sysex(edit_dump_request()) == []


def test_unit_state_cut_midi_after_n_messages():
    state = UnitState(48000, cut_midi_after=5)
    a, b = Patch.init("Mono Delay"), Patch.init("Chorus")
    for msg in patch_messages(a):
        state.handle_sysex(msg)
    assert state.handle_sysex(dump_request(1)) == patch_messages(state.slots[0], slot=1)
    for msg in patch_messages(b):                 # after the 5th message: ignored
        state.handle_sysex(msg)
    assert state.edit_patch == a and state.midi_cut
    assert state.handle_sysex(dump_request(1)) == []


# -- dry run of a store: no unit, no MIDI library -------------------------------------------------
def _send(*args, env=None):
    return CliRunner().invoke(magicstomp, ["send", *map(str, args)], env=env)


def test_store_dry_run_needs_no_unit_and_writes_the_bank_it_would_send(patch, tmp_path):
    (tmp_path / "p.json").write_text(patch.to_json())
    broken_midi = {"MIDO_BACKEND": "no.such.backend"}      # any MIDI use would fail
    result = _send(tmp_path / "p.json", "--slot", 5, "--dry-run", tmp_path / "store.syx",
                   env=broken_midi)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "store.syx").read_bytes() == b"".join(bank_with_slot(empty_bank(), patch, 5))
    assert result.stderr.strip() == (
        "dry run: wrote the 398 messages (21711 bytes) that would put 'Stored' in user slot 5 of "
        f"an empty bank (99 flat init patches) to {tmp_path / 'store.syx'}; nothing was sent")
    assert not (tmp_path / "out").exists()               # no backup: there is no unit

    bank = [Patch.init("Chorus").to_payload()] * 99
    write_bank_syx(tmp_path / "mine.syx", bank)
    result = _send(tmp_path / "p.json", "--slot", 99, "--dry-run", tmp_path / "store2.syx",
                   "--bank", tmp_path / "mine.syx", env=broken_midi)
    assert result.exit_code == 0, result.output
    expected = list(bank)
    expected[98] = patch.to_payload()
    assert (tmp_path / "store2.syx").read_bytes() == b"".join(bank_messages(expected))
    assert f"user slot 99 of {tmp_path / 'mine.syx'}" in result.stderr


def test_bank_without_dry_run_is_a_usage_error(patch, tmp_path):
    (tmp_path / "p.json").write_text(patch.to_json())
    write_bank_syx(tmp_path / "mine.syx", default_slots())
    result = _send(tmp_path / "p.json", "--slot", 5, "--bank", tmp_path / "mine.syx")
    assert result.exit_code == 2
    assert "--bank is only for --slot N --dry-run FILE" in result.stderr


def test_store_without_yes_and_stdin_at_its_end_is_not_confirmed(patch, tmp_path):
    (tmp_path / "p.json").write_text(patch.to_json())
    result = CliRunner().invoke(magicstomp, ["send", str(tmp_path / "p.json"), "--slot", "4"],
                                input="")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: not confirmed; nothing was sent (answer y, or pass --yes)"


# -- damaged calibration files ---------------------------------------------------------------------
GOOD = CalibrationRecord(sample_rate=48000, latency_samples=256, latency_estimates=[256],
                         polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0, threshold=1e-5)


@pytest.mark.parametrize("content, message", [
    (b"[1, 2]", "not a calibration record (a JSON list, expected an object)"),
    (json.dumps(dict(GOOD.to_dict(), in_ch=5)).encode(),
     "field 'in_ch' is 5; expected a list of channel numbers counted from 1"),
    (json.dumps(dict(GOOD.to_dict(), polarity=0)).encode(), "field 'polarity' is 0; expected 1 or -1"),
    (json.dumps(dict(GOOD.to_dict(), sample_rate="48k")).encode(), "field 'sample_rate' is \"48k\""),
    (b"\xff\xfe{\x00", "is not UTF-8 text"),
    (b"{", "is not valid JSON"),
], ids=["list", "in_ch-int", "polarity", "rate-text", "not-utf8", "truncated"])
def test_a_damaged_calibration_file_is_one_calibration_error(tmp_path, content, message):
    path = tmp_path / "calibration.json"
    path.write_bytes(content)
    with pytest.raises(CalibrationError, match=str(path).replace(".", r"\.")) as caught:
        CalibrationRecord.load(path)
    assert message in str(caught.value)
    GOOD.save(path)
    assert CalibrationRecord.load(path) == GOOD


# -- library chatter on stderr ----------------------------------------------------------------------
def test_quiet_stderr_hides_fd2_output_unless_debug(capfd):
    logging.getLogger("magicstomp").setLevel(logging.INFO)
    with quiet_stderr("test"):
        os.write(2, b"ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed\n")
    assert capfd.readouterr().err == ""
    logging.getLogger("magicstomp").setLevel(logging.DEBUG)
    try:
        with quiet_stderr("test"):
            os.write(2, b"shown with --verbose\n")
    finally:
        logging.getLogger("magicstomp").setLevel(logging.NOTSET)
    assert "shown with --verbose" in capfd.readouterr().err


def test_midi_error_without_a_sequencer_is_one_line():
    """rtmidi's ALSA API with no /dev/snd/seq (this machine, CI): the ALSA library's own
    line used to come before ours."""
    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has an ALSA sequencer; the failure cannot be provoked")
    env = {k: v for k, v in os.environ.items() if k != "MIDO_BACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "cli.magicstomp_cli", "ports"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: could not list MIDI"), lines


def test_bank_progress_redraws_one_line_on_a_terminal_and_closes_it():
    import io

    from cli.magicstomp_device import BankProgress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    progress = BankProgress(tty)
    for done in (1, 50, 99):
        progress("read", done, 99)
    progress("write", 10, 99)
    progress.close()
    assert tty.getvalue() == ("\rreading the 99 user patches for the backup: 1/99"
                              "\rreading the 99 user patches for the backup: 50/99"
                              "\rreading the 99 user patches for the backup: 99/99\n"
                              "\rwriting the bank to the unit: 10/99\n")
    plain = io.StringIO()
    progress = BankProgress(plain)
    for done in range(1, 100):
        progress("verify", done, 99)
    assert plain.getvalue().splitlines() == [f"reading the bank back to verify it: {n}/99"
                                             for n in (1, 33, 66, 99)]


def test_restore_stderr_puts_fd2_back_inside_a_block(capfd):
    from magicstomp.quiet import restore_stderr
    logging.getLogger("magicstomp").setLevel(logging.INFO)
    try:
        with quiet_stderr("a call that hangs"):
            os.write(2, b"chatter\n")
            restore_stderr()
            os.write(2, b"Error: the line that must be seen\n")
    finally:
        logging.getLogger("magicstomp").setLevel(logging.NOTSET)
    assert capfd.readouterr().err == "Error: the line that must be seen\n"
