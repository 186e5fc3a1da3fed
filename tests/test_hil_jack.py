"""The hardware path for real: sounddevice (PortAudio/JACK), mido (rtmidi/JACK) and calibration
against the JACK virtual unit on the session's dummy server (48 kHz, period 256).

Calibrations and takes run under JACK freewheel (faster than real time, still
sample-exact) except where the real-time clock matters (a unit killed mid-take).
The dummy server runs in synchronous mode, whose "xruns" are a late timer and lose
no data (AUDIO_MIDI_TEST_RIG.md), so the rigs here keep such takes
(``on_dropout="warn"``); the exact comparisons below would fail if data were lost.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hil import io
from hil.calibration import CalibrationRecord, calibrate
from hil.rig import HardwareRig, VirtualRig
from magicstomp.errors import CalibrationError, DeviceError, MidiError
from magicstomp.midi import MagicstompMidi
from magicstomp.patch import Patch
from magicstomp.sysex import patch_messages

pytestmark = pytest.mark.jack
RATE = 48000


def _di(seconds: float, seed: int = 5) -> np.ndarray:
    """A plucked-string-like DI that starts at once (peak well below -1 dBFS)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.35 * np.sin(2 * np.pi * 147 * t + 0.3) * np.exp(-2.5 * t) + 0.005 * rng.standard_normal(t.size)
    return x


def _calibrate(unit, **kw):
    return calibrate(in_device=unit.name, out_device=unit.name, in_ch=(1, 2), out_ch=1,
                     sample_rate=RATE, runs=1, on_dropout="warn", **kw)


def _rig(unit, calibration, **kw):
    opts = dict(in_device=unit.name, out_device=unit.name, in_ch=(1, 2), out_ch=1,
                sample_rate=RATE, midi=unit.name, calibration=calibration, settle_ms=30.0,
                pacing_ms=5.0, on_dropout="warn")
    opts.update(kw)
    return HardwareRig(**opts)


def test_virtual_unit_is_an_audio_device_and_a_midi_port(virtual_unit):
    devices = {d.name: d for d in io.list_devices(refresh=True)}
    unit = devices[virtual_unit.name]
    assert (unit.max_input_channels, unit.max_output_channels) == (2, 1)   # stereo return, mono in
    assert unit.default_samplerate_hz == RATE
    ports = io.list_midi_ports()
    assert f"{virtual_unit.name}:midi_in" in ports["outputs"]
    assert f"{virtual_unit.name}:midi_out" in ports["inputs"]


def test_calibration_measures_latency_plus_one_period_on_5_of_5_runs(start_virtual_unit, jack_server,
                                                                      freewheel):
    unit = start_virtual_unit(latency_samples=100, gain_db=-4.5)
    with freewheel():
        records = [_calibrate(unit) for _ in range(5)]
    assert [r.latency_samples for r in records] == [100 + jack_server.period] * 5
    assert all(r.latency_spread_samples == 0 for r in records)
    assert all(abs(r.return_gain_db + 4.5) <= 0.1 for r in records)
    assert all(r.polarity == 1 for r in records)
    assert records[0].matches((unit.name, unit.name), RATE, in_ch=[1, 2], out_ch=1)


@pytest.fixture(scope="module")
def imitating_unit(start_virtual_unit, freewheel):
    """A unit imitating an interface: 37 samples extra latency, -2 dB, inverted, -90 dBFS noise."""
    unit = start_virtual_unit(latency_samples=37, gain_db=-2.0, invert=True, noise_dbfs=-90.0)
    with freewheel():
        record = _calibrate(unit)
    return unit, record


def test_inverted_unit_is_detected(imitating_unit, jack_server):
    _, record = imitating_unit
    assert record.polarity == -1
    assert record.latency_samples == 37 + jack_server.period
    assert record.return_gain_db == pytest.approx(-2.0, abs=0.1)
    # two independent -90 dBFS noise outputs folded to mono (mean of L and R): -93 dBFS
    assert record.noise_floor_dbfs == pytest.approx(-90.0 - 3.01, abs=1.0)


@pytest.mark.parametrize("patch", [
    Patch.init("Mono Delay").with_values(delay_time_ms=90.0, feedback_gain_pct=45, mix_pct=50),
    Patch.init("Chorus"),
    Patch.init("Tremolo"),
    Patch.init("Spring Reverb"),
], ids=lambda p: p.effect_type.name)
def test_hardware_take_equals_the_virtual_render(imitating_unit, freewheel, patch):
    unit, record = imitating_unit
    di = _di(1.0)
    reference = VirtualRig(RATE).render(patch, di)
    with _rig(unit, record) as rig, freewheel():
        take = rig.render(patch, di)
    assert np.corrcoef(take, reference)[0, 1] >= 0.99
    gain_db = 20 * np.log10(np.dot(take, reference) / np.dot(reference, reference))
    assert gain_db == pytest.approx(-2.0, abs=0.05)        # the level as the unit returns it


def test_patch_changes_the_unit_and_identical_patches_are_not_resent(imitating_unit, freewheel):
    unit, record = imitating_unit
    di = _di(0.5)
    dry = Patch.init("Mono Delay").with_values(mix_pct=0)
    wet = dry.with_values(mix_pct=100, delay_time_ms=50.0)
    with _rig(unit, record) as rig, freewheel():
        takes = [rig.render(p, di) for p in (dry, dry, wet)]
        assert rig.patch_sends == 2 and rig.takes == 3
    np.testing.assert_allclose(takes[1], takes[0], atol=5e-4)       # noise only (-90 dBFS)
    assert np.std(takes[2] - takes[0]) > 0.05
    expected = 10 ** (-2 / 20) * VirtualRig(RATE).render(dry, di)   # compensated, at -2 dB
    np.testing.assert_allclose(takes[0], expected, atol=5e-4)


def test_dumps_and_slot_writes_over_midi_with_a_persisted_bank(virtual_unit):
    unit, bank = virtual_unit, virtual_unit.options["bank_path"]
    stored = Patch.init("Echo")
    stored.name = "Written"
    with MagicstompMidi(unit.name) as midi:
        assert midi.request_slot(5).name == "User 05"
        midi.send_raw(patch_messages(stored, slot=5), pacing_ms=5)
        time.sleep(0.2)
        assert midi.request_slot(5) == stored
    deadline = time.monotonic() + 5
    from magicstomp.files import read_syx
    while time.monotonic() < deadline and not bank.exists():
        time.sleep(0.05)
    assert read_syx(bank)[4].payload == stored.to_payload()


def _first_take_then(unit, stop, *, match):
    """A complete first take, then ``stop`` the unit 0.8 s into a 2.5 s take: a DeviceError
    matching ``match`` must come within the take plus the rig's 3 s timeout plus 1.5 s."""
    record = CalibrationRecord(sample_rate=RATE, latency_samples=256, latency_estimates=[256],
                               polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0,
                               threshold=1e-5)
    patch = Patch.init("Mono Delay")
    di = 0.1 * np.sin(np.arange(int(2.5 * RATE)) * 0.03)
    with _rig(unit, record, timeout_s=3.0) as rig:
        rig.render(patch, di[:RATE // 4])               # the unit works
        killer = threading.Timer(0.8, stop)
        killer.start()
        started = time.monotonic()
        with pytest.raises(DeviceError, match=match):
            rig.render(patch, di)
        elapsed = time.monotonic() - started
        killer.join()
    assert elapsed < 2.5 + 3.0 + 1.5


def test_unit_quitting_mid_take_is_a_clear_error(start_virtual_unit):
    unit = start_virtual_unit()
    _first_take_then(unit, unit.stop, match=rf"the audio device '{unit.name}' vanished: its "
                                            "JACK client is gone")


def test_unit_killed_mid_take_is_a_clear_error_not_a_hang(start_virtual_unit):
    unit = start_virtual_unit()
    _first_take_then(unit, unit.kill, match="did not finish within 3 s")
    # jackd stalls until it drops the dead client (about 20 s): wait, so that later JACK
    # tests find a working server
    from hil.jack_tools import wait_for_ports_gone
    wait_for_ports_gone([f"{unit.name}:in"], timeout_s=60.0)


def test_unknown_device_and_port_give_their_messages(virtual_unit):
    with pytest.raises(DeviceError, match=rf"no input audio device matches 'nosuchcard'.*{virtual_unit.name}"):
        io.resolve_device("nosuchcard", "input")
    with pytest.raises(MidiError, match="no MIDI output port matches 'nosuchport'"):
        MagicstompMidi("nosuchport").open()


def test_a_calibration_of_other_devices_is_refused(virtual_unit):
    record = CalibrationRecord(sample_rate=RATE, latency_samples=300, latency_estimates=[300],
                               polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0,
                               threshold=1e-5, in_device="Scarlett 2i2", out_device="Scarlett 2i2")
    with pytest.raises(CalibrationError, match="measured with 'Scarlett 2i2'"):
        _rig(virtual_unit, record)


def test_a_sample_rate_the_device_refuses_gives_its_message(virtual_unit):
    with pytest.raises(DeviceError, match="refuses 44100 Hz.*default rate is 48000 Hz"):
        calibrate(in_device=virtual_unit.name, out_device=virtual_unit.name, sample_rate=44100)
    record = CalibrationRecord(sample_rate=44100, latency_samples=0, latency_estimates=[0],
                               polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0,
                               threshold=1e-5)
    with pytest.raises(DeviceError, match="refuses 44100 Hz"):
        _rig(virtual_unit, record, sample_rate=44100)


def test_calibration_on_its_own_from_the_command_line(start_virtual_unit, jack_server, freewheel,
                                                      tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    unit = start_virtual_unit(latency_samples=12, gain_db=-1.5)
    cmd = [sys.executable, "-m", "cli.auto_match_hil", "--calibrate", "--in-device", unit.name,
           "--out-device", unit.name, "--in-ch", "1,2", "--midi-port", unit.name,
           "--pacing-ms", "5", "--on-dropout", "warn", "--out", str(tmp_path)]
    with freewheel():
        done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"latency {12 + jack_server.period} samples" in done.stdout
    record = CalibrationRecord.load(tmp_path / "calibration.json")
    assert record.latency_samples == 12 + jack_server.period
    assert record.return_gain_db == pytest.approx(-1.5, abs=0.1)
    assert record.matches((unit.name, unit.name), RATE, in_ch=[1, 2], out_ch=1)


def test_no_device_given_lists_the_choices(virtual_unit):
    with pytest.raises(DeviceError, match=rf"no output audio device given; choose one of: .*{virtual_unit.name}"):
        io.resolve_device(None, "output")


def test_a_unit_variant_plays_through_the_hardware_path(start_virtual_unit, freewheel):
    """``--variant 5``: the unit plays drawn assumptions, so its takes match the variant's
    render, not the nominal model's (the model a search would use)."""
    from magicstomp.emulator import UnitVariant
    unit = start_virtual_unit(variant=5)
    patch = Patch.init("Amp Multi (Tremolo)").with_values(tremolo_depth=8.0, tremolo_speed=6.0)
    di = _di(1.0)
    unit_ref = VirtualRig(RATE, variant=UnitVariant.draw(5)).render(patch, di)
    model_ref = VirtualRig(RATE).render(patch, di)
    with freewheel():
        record = _calibrate(unit)
        with _rig(unit, record) as rig:
            take = rig.render(patch, di)
    assert np.corrcoef(take, unit_ref)[0, 1] >= 0.99
    def rms(x):
        return np.sqrt(np.mean(x ** 2))
    assert rms(take - unit_ref) < 0.3 * rms(take - model_ref)
