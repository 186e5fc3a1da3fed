"""Calibration maths on synthetic returns with known latency, gain, polarity and noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from hil.calibration import (CalibrationRecord, CalibrationStimulus, measure, replicate_floor)
from hil.imperfections import Imperfections
from hil.rig import VirtualRig
from magicstomp.errors import CalibrationError
from magicstomp.patch import Patch

RATE = 48000


def chain(x, *, latency=0, gain_db=0.0, invert=False, noise_rms=0.0, rng=None, lowpass_hz=None):
    """What a re-amp chain returns for ``x``: filtered, scaled, delayed, noisy."""
    y = signal.sosfilt(signal.butter(2, lowpass_hz, fs=RATE, output="sos"), x) if lowpass_hz else x
    y = y * 10 ** (gain_db / 20) * (-1 if invert else 1)
    out = np.zeros(len(x))
    out[latency:] = y[:len(x) - latency]
    if noise_rms:
        out += noise_rms * rng.standard_normal(len(x))
    return out


@pytest.fixture(scope="module")
def stim():
    return CalibrationStimulus(sample_rate=RATE)


@pytest.mark.parametrize("latency", [0, 1, 37, 356, 1124, 5000])
def test_latency_is_found_to_the_sample(stim, latency):
    record = measure(stim, chain(stim.render(), latency=latency))
    assert record.latency_samples == latency
    assert record.latency_estimates == [latency] * stim.blip_count
    assert record.polarity == 1
    assert record.warnings == []


@pytest.mark.parametrize("gain_db", [-20.0, -6.0, 0.0, 4.5])
def test_return_gain_at_fixed_send_level(stim, gain_db, rng):
    y = chain(stim.render(), latency=300, gain_db=gain_db, noise_rms=1e-4, rng=rng)
    record = measure(stim, y)
    assert record.latency_samples == 300
    assert record.return_gain_db == pytest.approx(gain_db, abs=0.05)
    assert record.noise_floor_dbfs == pytest.approx(-80.0, abs=0.5)


def test_inverted_chain_is_detected(stim):
    record = measure(stim, chain(stim.render(), latency=120, gain_db=-3, invert=True))
    assert record.polarity == -1
    assert record.latency_samples == 120
    assert record.return_gain_db == pytest.approx(-3.0, abs=0.01)   # gain is a level, not signed
    assert any("inverts polarity" in w for w in record.warnings)


def test_band_limited_chain_keeps_latency_and_measures_gain_at_the_tone(stim):
    y = chain(stim.render(), latency=200, lowpass_hz=6000.0)
    record = measure(stim, y)
    assert record.latency_samples == 200
    assert record.return_gain_db == pytest.approx(0.0, abs=0.1)   # 1 kHz is in the passband


def test_threshold_follows_the_noise_floor(stim, rng):
    quiet = measure(stim, chain(stim.render(), latency=10, noise_rms=1e-5, rng=rng))
    noisy = measure(stim, chain(stim.render(), latency=10, noise_rms=1e-3, rng=rng))
    assert noisy.threshold > 50 * quiet.threshold
    assert noisy.latency_samples == quiet.latency_samples == 10


def test_noise_only_is_refused(stim, rng):
    with pytest.raises(CalibrationError, match="no blip found above the threshold"):
        measure(stim, 0.01 * rng.standard_normal(stim.length))


def test_blips_drowned_in_noise_are_refused(stim, rng):
    y = chain(stim.render(), latency=50, noise_rms=0.3, rng=rng)
    with pytest.raises(CalibrationError, match="noise peak"):
        measure(stim, y)


def test_silence_is_refused(stim):
    with pytest.raises(CalibrationError, match="check the wiring"):
        measure(stim, np.zeros(stim.length))


def test_disagreeing_estimates_warn_and_use_the_median(stim):
    x = stim.render()
    y = chain(x, latency=100)
    late = stim.blip_positions[2]               # this blip arrives 7 samples later
    y[late + 100] = 0.0
    y[late + 107] = stim.blip_amplitude
    record = measure(stim, y)
    assert sorted(record.latency_estimates) == [100, 100, 100, 100, 107]
    assert record.latency_samples == 100
    assert record.latency_spread_samples == 7
    assert any("disagree by 7 samples" in w for w in record.warnings)


def test_several_runs_pool_their_estimates(stim):
    runs = [chain(stim.render(), latency=64), chain(stim.render(), latency=64)]
    record = measure(stim, runs)
    assert record.latency_estimates == [64] * (2 * stim.blip_count)


def test_short_recording_is_refused(stim):
    with pytest.raises(CalibrationError, match="expected"):
        measure(stim, np.zeros(stim.length // 2))


def test_stimulus_layout_and_send_level(stim):
    x = stim.render()
    assert len(x) == stim.length
    assert np.max(np.abs(x)) <= 10 ** (-1 / 20)
    assert np.all(x[:stim.quiet_samples] == 0)
    assert [int(i) for i in np.flatnonzero(x[:stim.tone_start])] == list(stim.blip_positions)
    with pytest.raises(CalibrationError, match="at most -1 dBFS"):
        CalibrationStimulus(sample_rate=RATE, blip_amplitude=1.0)


def test_record_round_trips_through_json_and_matches_its_devices(stim, tmp_path):
    record = measure(stim, chain(stim.render(), latency=356, gain_db=-2)).with_values(
        in_device="stomp", out_device="stomp", in_ch=[1, 2], out_ch=[1])
    path = record.save(tmp_path / "calibration.json")
    loaded = CalibrationRecord.load(path)
    assert loaded == record
    assert json.loads(path.read_text())["latency_ms"] == pytest.approx(356 / 48, abs=1e-4)
    assert loaded.matches(("stomp", "stomp"), 48000, in_ch=[1, 2], out_ch=1)
    assert not loaded.matches(("stomp", "stomp"), 44100)
    assert not loaded.matches(("other", "stomp"), 48000)
    assert not loaded.matches(("stomp", "stomp"), 48000, in_ch=1)


def test_loading_bad_records_says_what_to_do(tmp_path):
    with pytest.raises(CalibrationError, match="run auto_match_hil --calibrate"):
        CalibrationRecord.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="not valid JSON"):
        CalibrationRecord.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(CalibrationError, match="not a calibration record"):
        CalibrationRecord.load(tmp_path / "other.json")


def _mse(take, reference):
    return float(np.mean((take - reference) ** 2))


def test_replicate_floor_is_zero_for_an_exact_rig_and_the_noise_for_a_noisy_one(rng):
    di = 0.3 * np.sin(2 * np.pi * 196 * np.arange(RATE // 4) / RATE)
    patch = Patch.init("Mono Delay")
    assert replicate_floor(VirtualRig(RATE), patch, di, _mse) == 0.0
    noisy = VirtualRig(RATE, imperfections=Imperfections(noise_dbfs=-40.0), seed=3)
    floor = replicate_floor(noisy, patch, di, _mse)
    assert floor == pytest.approx(2 * 1e-4, rel=0.1)     # two independent noise draws


@settings(max_examples=25, deadline=None)
@given(latency=st.integers(0, 5000), gain_db=st.floats(-24.0, 6.0), noise_dbfs=st.floats(-110.0, -70.0),
       invert=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_any_plausible_chain_is_measured_exactly(latency, gain_db, noise_dbfs, invert, seed):
    """Blips at least 24 dB above the noise peak: latency to the sample, polarity, gain."""
    stim = CalibrationStimulus(sample_rate=RATE, blip_count=3)
    y = chain(stim.render(), latency=latency, gain_db=gain_db, invert=invert,
              noise_rms=10 ** (noise_dbfs / 20), rng=np.random.default_rng(seed))
    record = measure(stim, y)
    assert record.latency_samples == latency
    assert record.latency_estimates == [latency] * 3
    assert record.polarity == (-1 if invert else 1)
    assert record.return_gain_db == pytest.approx(gain_db, abs=0.1)
