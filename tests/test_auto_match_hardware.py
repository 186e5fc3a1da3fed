"""auto_match_hil on the hardware path, end to end, against the JACK virtual Magicstomp.

``--calibrate --optimize --send-patch --patch-number 5`` through a real JACK
dummy server: sounddevice plays and records, mido/rtmidi sends the SysEx, and
the unit (hil.virtual_unit, a subprocess) runs the emulator. Audio: 2 s of the
CC0 jazz DI (../shared/audio/di-cc0-jazz/jazz.wav, freesound user Sub-d, sound
49658, CC0) and a target rendered from it through a known Mono Delay patch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from magicstomp.emulator import render, to_mono
from magicstomp.files import read_syx
from magicstomp.midi import MagicstompMidi
from magicstomp.patch import Patch

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def pair(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hw")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(2.2 * sr)]
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=180.0, feedback_gain_pct=25,
                                                 mix_pct=45)
    sf.write(str(folder / "di.wav"), di, sr, subtype="FLOAT")
    sf.write(str(folder / "target.wav"), to_mono(render(patch, di, sr)), sr, subtype="FLOAT")
    return folder / "target.wav", folder / "di.wav"


def test_calibrate_optimize_and_store_to_slot_5(pair, start_virtual_unit, freewheel, jack_server,
                                                tmp_path):
    unit = start_virtual_unit(bank_path=tmp_path / "bank.syx")
    with MagicstompMidi(unit.name) as midi:
        before = midi.request_slot(5, timeout_s=10.0)
    out = tmp_path / "out"
    args = [str(pair[0]), "--di-signal", str(pair[1]), "--calibrate", "--optimize",
            "--send-patch", "--patch-number", "5", "--in-device", unit.name,
            "--out-device", unit.name, "--in-ch", "1,2", "--out-ch", "1",
            "--midi-port", unit.name, "--effect-type", "Mono Delay", "--optimizer", "coordinate",
            "--budget", "5", "--out", str(out), "--session-name", "hw", "--on-dropout", "warn",
            "--pacing-ms", "5"]
    with freewheel():
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    session = out / "hw"
    optimized = Patch.load(session / "hw_optimized.json")
    with MagicstompMidi(unit.name) as midi:
        stored = midi.request_slot(5, timeout_s=10.0)
    assert stored.to_payload()[32:] == optimized.to_payload()[32:]
    assert stored.effect_type.name == "Mono Delay" and stored != before
    backups = sorted(session.glob("magicstomp_backup_*.syx"))
    assert len(backups) == 1
    bank = read_syx(backups[0])
    assert len(bank) == 99 and Patch.from_payload(bank[4].payload) == before
    calibration = json.loads((session / "calibration.json").read_text())
    assert calibration["latency_samples"] == jack_server.period     # the unit adds none
    assert calibration["polarity"] == 1
    assert calibration["replicate_floor"] is not None
    history = (session / "hw_history.csv").read_text().splitlines()
    assert len(history) == 1 + 5
    take, rate = sf.read(str(session / "hw_take_optimized.wav"))
    assert rate == 48000 and np.max(np.abs(take)) > 1e-3


def test_list_devices_shows_the_unit(virtual_unit):
    unit = virtual_unit
    result = CliRunner().invoke(main, ["--list-devices"])
    assert result.exit_code == 0, result.stderr
    assert unit.name in result.stdout
    assert f"{unit.name}:midi_in" in result.stdout
