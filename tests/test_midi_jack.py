"""MIDI through real ports: mido + rtmidi (JACK API) against tests/midi_responder.py.

The responder is a separate process on the session's JACK dummy server. It
records every SysEx message it receives, so the tests compare exact bytes.
"""

from __future__ import annotations

import itertools
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from magicstomp.errors import ChecksumError, MidiError, MidiTimeoutError
from magicstomp.files import read_syx
from magicstomp.midi import MagicstompMidi, resolve_port
from magicstomp.patch import Patch
from magicstomp.sysex import bank_messages, dump_request, parameter_change, patch_messages

REPO_DIR = Path(__file__).resolve().parents[1]
BANK = "derived_patches/derived_bass_factory_bank_all99.syx"
PACING_MS = 2
RESET_CONTROL = 127          # the control change that resets tests/midi_responder.py
_names = itertools.count(1)


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class RunningResponder:
    """A responder process plus a control port used to reset it between tests."""

    def __init__(self, proc, client: str, record: Path, state: Path, bank: Path, control,
                 err: Path):
        self.proc, self.client, self.record, self.state, self.bank = proc, client, record, state, bank
        self.control, self.err = control, err

    def _all_lines(self) -> list:
        return self.record.read_text().split() if self.record.exists() else []

    def lines(self) -> list:
        """Messages received since the last reset, as hex strings."""
        lines = self._all_lines()
        marks = [i for i, line in enumerate(lines) if line == "reset"]
        return lines[marks[-1] + 1:] if marks else lines

    def wait_lines(self, count: int, timeout_s: float = 10.0) -> list:
        _wait_for(lambda: len(self.lines()) >= count, timeout_s, f"{count} recorded messages")
        time.sleep(0.05)    # nothing more should arrive; let a stray message show up
        return self.lines()

    def reset(self) -> "RunningResponder":
        """Back to the bank's state, with an empty record; the state file is removed.

        The control change is sent again if no acknowledgement comes within 2 s
        (a JACK MIDI event can be lost while a new connection settles)."""
        import mido

        self.state.unlink(missing_ok=True)
        before = self._all_lines().count("reset")
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            self.control.send(mido.Message("control_change", control=RESET_CONTROL, value=0))
            try:
                _wait_for(lambda: self._all_lines().count("reset") > before, 2.0, "reset")
                return self
            except AssertionError:
                continue
        alive = "running" if self.proc.poll() is None else f"exited {self.proc.returncode}"
        raise AssertionError(f"the responder ({alive}) did not acknowledge a reset: "
                             f"{self.err.read_text()[-2000:]}")


def _start(jack_server, bank: Path, folder: Path, *, silent: bool = False,
           corrupt_first: int = 0) -> RunningResponder:
    """Start a responder process and wait for its "ready" line (no port polling:
    every port listing opens JACK clients, and client churn upsets a loaded server)."""
    client = f"MsResponder{next(_names)}"
    record, state = folder / f"{client}.hex", folder / f"{client}_state.syx"
    cmd = [sys.executable, "-m", "tests.midi_responder", "--bank", str(bank), "--record",
           str(record), "--state", str(state), "--client", client,
           "--corrupt-first", str(corrupt_first)] + (["--silent"] if silent else [])
    err = folder / f"{client}.err"
    proc = subprocess.Popen(cmd, cwd=REPO_DIR, stdout=subprocess.PIPE, text=True,
                            stderr=err.open("w"))
    jack_server.clients.append(proc)
    ready, _, _ = select.select([proc.stdout], [], [], 30.0)
    if not ready or proc.stdout.readline().strip() != "ready":
        proc.terminate()
        raise AssertionError(f"the MIDI responder did not start: {err.read_text()[-2000:]}")
    from magicstomp.midi import _backend
    control = _backend().open_output(f"{client}:midi_in")
    return RunningResponder(proc, client, record, state, bank, control, err)


def _stop(unit: RunningResponder) -> None:
    unit.control.close()
    unit.proc.terminate()
    unit.proc.wait(10)


@pytest.fixture(scope="module")
def _unit(jack_server, data_dir, tmp_path_factory):
    unit = _start(jack_server, data_dir / BANK, tmp_path_factory.mktemp("midi"), silent=False)
    yield unit
    _stop(unit)


@pytest.fixture
def unit(_unit):
    """The answering responder, reset to the bank state."""
    return _unit.reset()


@pytest.fixture
def silent_unit(jack_server, data_dir, tmp_path):
    unit = _start(jack_server, data_dir / BANK, tmp_path, silent=True)
    yield unit
    _stop(unit)


@pytest.fixture
def bank_payloads(data_dir):
    return [item.payload for item in read_syx(data_dir / BANK)]


@pytest.mark.jack
def test_send_patch_reaches_the_edit_buffer_byte_for_byte(unit):
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=350.0, mix_pct=40)
    with MagicstompMidi(unit.client) as midi:
        midi.send_patch(patch, pacing_ms=PACING_MS)
        midi.send_parameter(patch, "delay_time_ms")
    lines = unit.wait_lines(5)
    expected = [m.hex() for m in patch_messages(patch)]
    expected.append(parameter_change(1, 0x10, 1750, 2).hex())     # SYSEX.md 4.4 example
    assert lines == expected


@pytest.mark.jack
def test_request_slot_returns_the_stored_patch(unit, bank_payloads):
    with MagicstompMidi(f"{unit.client}:midi_in", in_port=f"{unit.client}-out") as midi:
        patch = midi.request_slot(42, timeout_s=2.0)
    with MagicstompMidi(f"{unit.client}:midi_in") as midi:      # input found by client name
        assert midi.request_slot(41, timeout_s=2.0).to_payload() == bank_payloads[40]
    assert patch.to_payload() == bank_payloads[41]
    assert unit.wait_lines(2) == [dump_request(42).hex(), dump_request(41).hex()]


@pytest.mark.jack
def test_request_all_reads_99_patches_in_order(unit, bank_payloads):
    seen = []
    with MagicstompMidi(unit.client) as midi:
        patches = midi.request_all(timeout_s=2.0, progress=seen.append)
    assert [p.to_payload() for p in patches] == bank_payloads
    assert seen == list(range(1, 100))
    assert unit.wait_lines(99) == [dump_request(s).hex() for s in range(1, 100)]


@pytest.mark.jack
def test_store_to_slot_backs_up_sends_the_whole_bank_and_reads_it_back(unit, bank_payloads, tmp_path):
    patch = Patch.init("Compressor")
    patch.name = "Stored7"
    with MagicstompMidi(unit.client) as midi:
        backup = midi.store_to_slot(patch, 7, backup_dir=tmp_path / "backups",
                                    pacing_ms=PACING_MS)
    assert backup.parent == tmp_path / "backups" and backup.suffix == ".syx"
    assert backup.read_bytes() == unit.bank.read_bytes()       # the bank as it was
    new_bank = list(bank_payloads)
    new_bank[6] = patch.to_payload()
    expected = [dump_request(s).hex() for s in range(1, 100)]
    expected += [m.hex() for m in bank_messages(new_bank)]
    expected += [dump_request(s).hex() for s in range(1, 100)]       # the read-back
    assert unit.wait_lines(len(expected)) == expected
    _wait_for(unit.state.exists, 5.0, "the responder's state file")
    stored = [item.payload for item in read_syx(unit.state)]
    assert stored == new_bank


@pytest.mark.jack
def test_store_dry_run_writes_the_bytes_and_sends_nothing(unit, bank_payloads, tmp_path):
    patch = Patch.init("Mono Delay")
    dry = tmp_path / "would_send.syx"
    with MagicstompMidi(unit.client) as midi:
        backup = midi.store_to_slot(patch, 99, backup_dir=tmp_path, dry_run_path=dry)
    new_bank = list(bank_payloads)
    new_bank[98] = patch.to_payload()
    assert dry.read_bytes() == b"".join(bank_messages(new_bank))
    assert backup.read_bytes() == unit.bank.read_bytes()
    assert unit.wait_lines(99) == [dump_request(s).hex() for s in range(1, 100)]
    assert not unit.state.exists()


@pytest.mark.jack
def test_silent_unit_times_out_instead_of_hanging(silent_unit):
    unit = silent_unit
    with MagicstompMidi(unit.client) as midi:
        started = time.monotonic()
        with pytest.raises(MidiTimeoutError, match=r"did not answer the dump request for slot 3 "
                                                   r"within 0.3 s"):
            midi.request_slot(3, timeout_s=0.3)
        assert time.monotonic() - started < 3.0
    assert unit.wait_lines(1) == [dump_request(3).hex()]


@pytest.fixture
def flaky_unit(jack_server, data_dir, tmp_path):
    unit = _start(jack_server, data_dir / BANK, tmp_path, corrupt_first=2)
    yield unit
    _stop(unit)


@pytest.mark.jack
def test_a_corrupt_answer_is_requested_again_then_reported(flaky_unit, bank_payloads):
    with MagicstompMidi(flaky_unit.client) as midi:
        with pytest.raises(ChecksumError, match=r"dump of slot 5: bad checksum 0x.. for address "
                                                r"20 00 00; expected 0x.."):
            midi.request_slot(5, timeout_s=1.0, retries=0)
        assert midi.request_slot(6, timeout_s=1.0).to_payload() == bank_payloads[5]
    assert flaky_unit.wait_lines(3) == [dump_request(s).hex() for s in (5, 6, 6)]


@pytest.mark.jack
def test_open_names_the_ports_that_exist(unit):
    with pytest.raises(MidiError, match=rf"no MIDI output port matches 'NoSuchUnit'; "
                                        rf"available: .*{unit.client}:midi_in"):
        MagicstompMidi("NoSuchUnit").open()


def test_resolve_port_exact_substring_and_default():
    ports = ["Magicstomp:midi_in", "Synth:midi_in"]
    assert resolve_port("Synth:midi_in", ports, "output") == "Synth:midi_in"
    assert resolve_port("magicSTOMP", ports, "output") == "Magicstomp:midi_in"
    assert resolve_port(None, ports, "output") == "Magicstomp:midi_in"
    assert resolve_port(None, ["UB99 MIDI 1", "Midi Through"], "input") == "UB99 MIDI 1"


def test_resolve_port_ambiguous_lists_the_candidates():
    with pytest.raises(MidiError, match=r"'midi_in' is ambiguous; it matches "
                                        r"Magicstomp:midi_in, Synth:midi_in; give more"):
        resolve_port("midi_in", ["Magicstomp:midi_in", "Synth:midi_in"], "output")


def test_resolve_port_unknown_lists_what_exists():
    with pytest.raises(MidiError, match=r"no MIDI input port matches 'UB99'; available: "
                                        r"Synth:out, Midi Through"):
        resolve_port("UB99", ["Synth:out", "Midi Through"], "input")
    with pytest.raises(MidiError, match=r"no MIDI output ports at all; connect the Magicstomp"):
        resolve_port(None, [], "output")
    with pytest.raises(MidiError, match=r"no MIDI input port looks like a Magicstomp; "
                                        r"available: Synth:out; choose one with --port"):
        resolve_port(None, ["Synth:out"], "input")


def test_unopened_connection_refuses_to_send():
    with pytest.raises(MidiError, match="the MIDI connection is not open"):
        MagicstompMidi("x").send_patch(Patch.init("Mono Delay"))


# -- the `magicstomp` command through the same ports --------------------------------------
def _cli(*args):
    from click.testing import CliRunner

    from cli.magicstomp_cli import main
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.jack
def test_cli_dump_send_store_and_restore(unit, bank_payloads, tmp_path):
    result = _cli("dump", "--slot", 9, "--out", tmp_path / "s9.syx", "--port", unit.client)
    assert result.exit_code == 0, result.output
    [item] = read_syx(tmp_path / "s9.syx")
    assert (item.slot, item.payload) == (9, bank_payloads[8])

    patch = Patch.init("Mono Delay").with_values(mix_pct=25)
    (tmp_path / "p.json").write_text(patch.to_json())
    result = _cli("send", tmp_path / "p.json", "--port", unit.client, "--pacing-ms", PACING_MS)
    assert result.exit_code == 0, result.output
    sent = [dump_request(9).hex()] + [m.hex() for m in patch_messages(patch)]
    assert unit.wait_lines(len(sent)) == sent

    result = _cli("send", tmp_path / "p.json", "--port", unit.client, "--slot", 4, "--yes",
                  "--pacing-ms", PACING_MS, "--backup-dir", tmp_path / "backups")
    assert result.exit_code == 0, result.output
    [backup] = (tmp_path / "backups").iterdir()
    assert backup.read_bytes() == unit.bank.read_bytes()
    _wait_for(unit.state.exists, 10.0, "the stored bank")
    stored = [i.payload for i in read_syx(unit.state)]
    assert stored[3] == patch.to_payload() and stored[:3] + stored[4:] == \
        bank_payloads[:3] + bank_payloads[4:]

    unit.state.unlink()
    result = _cli("restore", backup, "--port", unit.client, "--yes", "--pacing-ms", PACING_MS)
    assert result.exit_code == 0, result.output
    _wait_for(unit.state.exists, 10.0, "the restored bank")
    assert [i.payload for i in read_syx(unit.state)] == bank_payloads


@pytest.mark.jack
def test_cli_store_without_yes_asks_and_a_no_sends_nothing(unit, tmp_path):
    from click.testing import CliRunner

    from cli.magicstomp_cli import main
    (tmp_path / "p.json").write_text(Patch.init("Mono Delay").to_json())
    result = CliRunner().invoke(main, ["send", str(tmp_path / "p.json"), "--port", unit.client,
                                       "--slot", "4"], input="n\n")
    assert result.exit_code == 1 and "Overwrite user slot 4" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: not confirmed; nothing was sent (answer y, or pass --yes)"
    time.sleep(0.2)
    assert unit.lines() == []
