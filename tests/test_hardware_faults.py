"""Hardware fault drills on the JACK virtual unit (README "Bad input and faults" > "Hardware faults").

Each drill runs the real command (``auto_match_hil`` or ``magicstomp``) as a
subprocess against a virtual unit with a fault injected (hil/virtual_unit.py
drill options), on a private JACK dummy server so a killed client cannot stall
the session's server. Every drill asserts: exit 1 (never a signal such as
SIGABRT), exactly one ``Error:`` line naming what failed and no library chatter,
and either a valid session holding the best patch so far (a match) or the
slot reported as not written, with the backup named and intact (a slot write).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from magicstomp.emulator import render, to_mono
from magicstomp.files import read_syx
from magicstomp.patch import Patch

pytestmark = pytest.mark.jack
REPO = Path(__file__).resolve().parents[1]
RATE = 48000
#: SysEx messages a hardware match sends before its first search take: the calibration
#: patch (4), the first replicate-floor take (4 + 1 read-back), the second (1), take 0 (1)
BEFORE_SEARCH = 4 + 5 + 1 + 1
PER_NEW_PATCH = 5         # 4 messages + 1 edit-buffer read-back
DRILL_SERVER = "msdrill"


@pytest.fixture
def private_jack(tmp_path):
    """A JACK dummy server of its own (a killed client stalls a server for ~20 s)."""
    import shutil

    from hil.jack_tools import DummyServer
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2; `make test` does this)")
    # One fixed name: a jackd stopped with clients attached leaves its entry in JACK's shared
    # registry (8 servers at most), and only a server of the same name reclaims it.
    server = DummyServer(DRILL_SERVER, log_path=tmp_path / "jackd.log").start()
    units = []
    server.units = units
    yield server
    for unit in units:
        unit.stop(timeout_s=2.0)
    # A server that lost a client stalls for up to ~20 s; wait for it to stop by itself:
    # a SIGKILLed jackd leaves its entry in JACK's shared registry (8 servers at most).
    server.proc.terminate()
    try:
        server.proc.wait(40)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


def _unit(server, tmp_path, **drill):
    from hil.virtual_unit import VirtualUnitProcess
    unit = VirtualUnitProcess("dstomp", server=server.name, log_path=tmp_path / "unit.log",
                              bank_path=tmp_path / "unit_bank.syx", **drill)
    server.units.append(unit)
    return unit.start()


def _run(server, *args, timeout_s=120):
    """Run a command as a subprocess on ``server``; returns (code, stdout, stderr lines)."""
    done = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO,
                          env=dict(server.env(), PYTHONPATH=str(REPO)), capture_output=True,
                          text=True, timeout=timeout_s)
    return done.returncode, done.stdout, [line for line in done.stderr.splitlines() if line]


def _one_error_line(lines) -> str:
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, lines
    noise = [line for line in lines if "jack" in line.lower() and "Error:" not in line
             or line.startswith(("ALSA lib", "Expression", "Cannot ", "Jack"))]
    assert not noise, lines
    return errors[0]


@pytest.fixture(scope="module")
def pair(data_dir, tmp_path_factory):
    """1 s of the CC0 jazz DI and a target through a known Mono Delay patch."""
    folder = tmp_path_factory.mktemp("drill_pair")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(1.2 * sr)]
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=180.0, feedback_gain_pct=25,
                                                 mix_pct=45)
    sf.write(str(folder / "di.wav"), di, sr, subtype="FLOAT")
    sf.write(str(folder / "target.wav"), to_mono(render(patch, di, sr)), sr, subtype="FLOAT")
    return folder / "target.wav", folder / "di.wav"


def _match(server, unit, pair, out: Path, *extra, budget=12):
    return _run(server, "cli.auto_match_hil", pair[0], "--di-signal", pair[1], "--optimize",
                "--in-device", unit.name, "--out-device", unit.name, "--in-ch", "1,2",
                "--midi-port", unit.name, "--effect-type", "Mono Delay", "--optimizer",
                "coordinate", "--budget", budget, "--out", out, "--session-name", "hw",
                "--on-dropout", "warn", "--pacing-ms", "2", *extra)


def _valid_session(out: Path, *, stopped: str) -> dict:
    """The published session: its files, the best patch so far, no partial folder left."""
    session = out / "hw"
    doc = json.loads((session / "hw_session.json").read_text())
    assert doc["stopped"] == stopped
    assert doc["takes"] >= 1 and doc["final_loss"] is not None
    best = Patch.load(session / "hw_optimized.json")
    assert best.effect_type.name == "Mono Delay"
    history = (session / "hw_history.csv").read_text().splitlines()
    assert len(history) == 1 + doc["takes"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]   # no partial folder
    return doc


# -- matches -------------------------------------------------------------------------------
def test_midi_cut_during_a_match_stops_with_the_best_so_far(private_jack, pair, tmp_path):
    unit = _unit(private_jack, tmp_path, cut_midi_after=BEFORE_SEARCH + 3 * PER_NEW_PATCH)
    out = tmp_path / "out"
    code, stdout, lines = _match(private_jack, unit, pair, out, "--calibrate")
    assert code == 1, lines
    error = _one_error_line(lines)
    assert "the unit did not confirm the patch for the next take twice in a row" in error
    assert "MIDI link to the unit is lost" in error and f"session {out / 'hw'}" in error
    doc = _valid_session(out, stopped="device fault")
    assert doc["takes"] == 4          # take 0 and the 3 takes whose patches were confirmed
    assert doc["rig"]["patch_confirmation"] == "readback" and doc["rig"]["patch_resends"] == 1
    assert any("MIDI link to the unit is lost" in note for note in doc["notes"])


def test_unit_killed_during_a_take_stops_with_the_best_so_far(private_jack, pair, tmp_path):
    unit = _unit(private_jack, tmp_path, die_after=BEFORE_SEARCH + 2 * PER_NEW_PATCH)
    out = tmp_path / "out"
    code, stdout, lines = _match(private_jack, unit, pair, out, "--calibrate")
    assert unit.proc.wait(5) == -9                       # the drill did kill the unit
    assert code == 1, lines                              # not -6 (SIGABRT)
    error = _one_error_line(lines)
    assert (f"the audio device '{unit.name}' stopped in the middle of a take" in error
            or "vanished" in error), error
    assert f"session {out / 'hw'} holds the best patch so far" in error
    doc = _valid_session(out, stopped="device fault")
    assert doc["takes"] == 2          # take 0 and take 1; take 2 was cut off


def test_audio_device_vanished_mid_take_is_named(private_jack, pair, tmp_path):
    unit = _unit(private_jack, tmp_path, vanish_after=BEFORE_SEARCH + 2 * PER_NEW_PATCH)
    out = tmp_path / "out"
    code, stdout, lines = _match(private_jack, unit, pair, out, "--calibrate")
    assert code == 1, lines
    error = _one_error_line(lines)
    assert f"the audio device '{unit.name}' vanished: its JACK client has no audio ports" in error
    assert "Insufficient memory" not in error and "PaErrorCode" not in error
    doc = _valid_session(out, stopped="device fault")
    assert doc["takes"] == 2          # take 0 and take 1; take 2 was cut off


def test_jack_server_stopped_mid_match_no_abort(private_jack, pair, tmp_path):
    """The whole audio server goes away during the search (PortAudio's pa_jack.c used to
    abort the process with SIGABRT when the stream was closed afterwards)."""
    unit = _unit(private_jack, tmp_path)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cli.auto_match_hil", str(pair[0]), "--di-signal", str(pair[1]),
           "--optimize", "--in-device", unit.name, "--out-device", unit.name, "--in-ch", "1,2",
           "--midi-port", unit.name, "--effect-type", "Mono Delay", "--optimizer", "coordinate",
           "--budget", "30", "--out", str(out), "--session-name", "hw", "--on-dropout", "warn",
           "--pacing-ms", "2", "--calibrate"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=dict(private_jack.env(), PYTHONPATH=str(REPO)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:                   # stop the server once a search take is scored
        lines.append(line.rstrip("\n"))
        if re.match(r"take [1-9][0-9]*[: ]", line):
            private_jack.proc.terminate()
            break
    rest = proc.communicate(timeout=120)[1]
    lines += [line for line in rest.splitlines() if line]
    assert proc.returncode == 1, "\n".join(lines)  # not -6 (SIGABRT) nor -11 (SIGSEGV)
    error = _one_error_line(lines)
    assert "the JACK server stopped" in error or "vanished" in error or \
        "stopped in the middle of a take" in error or "did not confirm" in error, error
    doc = _valid_session(out, stopped="device fault")
    assert doc["takes"] >= 1


def test_round_trip_confirmation_damaged_calibration_and_a_failed_store(private_jack, pair,
                                                                         tmp_path):
    """A unit that ignores the edit-buffer request (the real unit may): takes are confirmed
    by a slot-dump round trip. A damaged calibration.json is replaced by a new calibration
    with one warning. The unit stores slots wrongly: --patch-number fails after the session
    is written, naming the backup inside it."""
    unit = _unit(private_jack, tmp_path, ignore_edit_requests=True, corrupt_slot_writes=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "calibration.json").write_bytes(b'["not", "a", "record"]')
    code, stdout, lines = _match(private_jack, unit, pair, out, "--send-patch",
                                 "--patch-number", 7, budget=3)
    assert code == 1, lines
    warnings = [line for line in lines if "calibration" in line and "ignoring" in line]
    assert warnings == [f"ignoring the damaged calibration file ({out / 'calibration.json'}: not "
                        "a calibration record (a JSON list, expected an object)); measuring a "
                        "new one"]
    assert json.loads((out / "calibration.json").read_text())["format"] == "magicstomp-calibration"
    doc = _valid_session(out, stopped="budget")
    assert doc["rig"]["patch_confirmation"] == "round trip" and doc["rig"]["patch_resends"] == 0
    [backup] = (out / "hw").glob("magicstomp_backup_*.syx")
    error = _one_error_line(lines)
    assert error.startswith("Error: storing to user slot 7 FAILED: 99 user slot(s) read back "
                            "different from what was sent")
    assert f"`magicstomp restore {backup} --yes`" in error
    from hil.unit_state import default_slots
    assert [item.payload for item in read_syx(backup)] == default_slots()


# -- slot writes ------------------------------------------------------------------------------
def _patch_file(tmp_path) -> tuple:
    patch = Patch.init("Compressor")
    patch.name = "Drill"
    path = tmp_path / "drill.json"
    path.write_text(patch.to_json())
    return patch, path


def _unit_bank(unit, tmp_path) -> list:
    """The unit's 99 slots, as its bank file holds them (written within 0.1 s of a write)."""
    time.sleep(0.5)
    path = tmp_path / "unit_bank.syx"
    return [item.payload for item in read_syx(path)] if path.exists() else None


def test_midi_cut_during_a_slot_write_is_reported_not_stored(private_jack, tmp_path):
    unit = _unit(private_jack, tmp_path, cut_midi_after=99 + 40)     # 10 patches into the write
    patch, path = _patch_file(tmp_path)
    code, stdout, lines = _run(private_jack, "cli.magicstomp_cli", "send", path, "--slot", 30,
                               "--yes", "--port", unit.name, "--pacing-ms", 0, "--backup-dir",
                               tmp_path / "backups", "--timeout-s", 0.5)
    assert code == 1, lines
    error = _one_error_line(lines)
    [backup] = (tmp_path / "backups").iterdir()
    assert "storing to user slot 30 is NOT verified: reading user slot 1 back failed" in error
    assert f"`magicstomp restore {backup} --yes`" in error
    assert not any(line.startswith("stored") for line in lines)
    assert [line for line in lines if "backed up" in line] == [
        f"backed up the 99 user patches to {backup}"]
    from hil.unit_state import default_slots
    assert [item.payload for item in read_syx(backup)] == default_slots()
    stored = _unit_bank(unit, tmp_path)
    assert stored is None or stored[29] != patch.to_payload()       # slot 30 was not written


def test_a_slot_that_reads_back_different_is_an_error_naming_the_backup(private_jack, tmp_path):
    unit = _unit(private_jack, tmp_path, corrupt_slot_writes=True)
    patch, path = _patch_file(tmp_path)
    code, stdout, lines = _run(private_jack, "cli.magicstomp_cli", "send", path, "--slot", 5,
                               "--yes", "--port", unit.name, "--pacing-ms", 0, "--backup-dir",
                               tmp_path / "backups")
    assert code == 1, lines
    error = _one_error_line(lines)
    [backup] = (tmp_path / "backups").iterdir()
    assert ("storing to user slot 5 FAILED: 99 user slot(s) read back different from what was "
            "sent (slot 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ...)") in error
    assert f"`magicstomp restore {backup} --yes`" in error
    progress = [line for line in lines if line.startswith(("reading", "writing"))]
    assert "reading the 99 user patches for the backup: 99/99" in progress
    assert "writing the bank to the unit: 99/99" in progress
    assert "reading the bank back to verify it: 99/99" in progress

    code, stdout, lines = _run(private_jack, "cli.magicstomp_cli", "restore", backup, "--yes",
                               "--port", unit.name, "--pacing-ms", 0)
    assert code == 1, lines
    assert f"restoring {backup} FAILED: 99 user slot(s) read back different" in \
        _one_error_line(lines)


def test_a_verified_store_and_restore_say_so(private_jack, tmp_path):
    unit = _unit(private_jack, tmp_path)
    patch, path = _patch_file(tmp_path)
    code, stdout, lines = _run(private_jack, "cli.magicstomp_cli", "send", path, "--slot", 12,
                               "--yes", "--port", unit.name, "--pacing-ms", 0, "--backup-dir",
                               tmp_path / "backups")
    assert code == 0, lines
    assert lines[-1] == ("stored 'Drill' to user slot 12; all 99 slots read back identical to "
                         "what was sent")
    assert sum("backed up" in line for line in lines) == 1
    assert _unit_bank(unit, tmp_path)[11] == patch.to_payload()
    [backup] = (tmp_path / "backups").iterdir()
    code, stdout, lines = _run(private_jack, "cli.magicstomp_cli", "restore", backup, "--yes",
                               "--port", unit.name, "--pacing-ms", 0)
    assert code == 0, lines
    assert lines[-1].endswith("all 99 read back identical")
    from hil.unit_state import default_slots
    assert _unit_bank(unit, tmp_path) == default_slots()


def test_dump_from_a_frozen_unit_is_one_line(private_jack, tmp_path):
    """A frozen JACK client stalls the server: libjack and rtmidi print several lines when
    a client cannot open; the command prints one (the chatter shows with --verbose)."""
    import signal
    unit = _unit(private_jack, tmp_path)
    args = ["cli.magicstomp_cli", "dump", "--slot", 3, "--out", tmp_path / "s3.syx",
            "--port", unit.name, "--timeout-s", 0.5]
    unit.proc.send_signal(signal.SIGSTOP)
    try:
        code, stdout, lines = _run(private_jack, *args)
        verbose_code, _, verbose_lines = _run(private_jack, "cli.magicstomp_cli", "--verbose",
                                              *args[1:])
    finally:
        unit.proc.send_signal(signal.SIGCONT)
    assert code == 1 and verbose_code == 1
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert "MIDI" in lines[0] or "dump request" in lines[0]
    assert not (tmp_path / "s3.syx").exists()
    assert len(verbose_lines) > 1          # the libraries' own lines are kept for --verbose


def test_take_confirmation_reads_the_edit_buffer_back(private_jack, tmp_path):
    """The rig's confirmation, directly: each sent patch is read back; once MIDI is cut the
    patch is sent once more, then PatchNotConfirmedError stops the take."""
    unit = _unit(private_jack, tmp_path, cut_midi_after=2 * PER_NEW_PATCH + 1)
    script = tmp_path / "confirm.py"
    script.write_text(_CONFIRM_SCRIPT)
    done = subprocess.run([sys.executable, str(script), unit.name], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=dict(private_jack.env(),
                                                         PYTHONPATH=str(REPO)))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["confirmed"] == [True, True, True]      # the second of a was not re-sent
    assert result["after_cut"].startswith("the unit did not confirm the patch for the next take "
                                          "twice in a row (it did not answer the read-back)")
    assert result["sends"] == 2 + 2 and result["resends"] == 1
    assert result["confirmation"] == "readback"


_CONFIRM_SCRIPT = """
import json, sys
from hil.calibration import CalibrationRecord
from hil.rig import HardwareRig, PatchNotConfirmedError
from magicstomp.patch import Patch
name = sys.argv[1]
record = CalibrationRecord(sample_rate=48000, latency_samples=256, latency_estimates=[256],
                           polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0, threshold=1e-5)
rig = HardwareRig(in_device=name, out_device=name, in_ch=(1, 2), out_ch=1, sample_rate=48000,
                  midi=name, calibration=record, settle_ms=0, pacing_ms=1, on_dropout="warn",
                  confirm_timeout_s=0.3)
a = Patch.init("Mono Delay")
b = a.with_values(mix_pct=10)
confirmed = []
for p in (a, a, b):
    rig._send_confirmed(p)
    confirmed.append(True)
try:
    rig._send_confirmed(a)
    after = "confirmed"
except PatchNotConfirmedError as exc:
    after = str(exc)
print(json.dumps({"confirmed": confirmed, "after_cut": after, "sends": rig.patch_sends,
                  "resends": rig.resends, "confirmation": rig.confirmation}))
rig.close()
"""
