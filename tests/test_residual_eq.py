"""Residual EQ: fit of a known EQ offset onto the patch's EQ controls, CSV and IR export."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from magicstomp.emulator import render, to_mono
from magicstomp.errors import AudioInputError, ParameterError
from magicstomp.patch import Patch
from optimize.residual_eq import (correction_ir, eq_keys, fit_eq_controls, residual_curve,
                                  write_correction_ir, write_curve_csv)

SR = 44100
DIST_MULTI = 0x3B


@pytest.fixture(scope="module")
def di(data_dir):
    x, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == SR
    x = x[2 * SR:4 * SR]
    return 0.5 * x / np.max(np.abs(x))


def test_eq_keys_by_type():
    assert eq_keys(DIST_MULTI) == ("post_gain_1_db", "post_gain_2_db", "post_gain_3_db",
                                   "post_gain_4_db")
    assert set(eq_keys(0x37)) == {"treble", "hi_mid", "lo_mid", "bass", "presence"}
    assert eq_keys(0x0D) == ()


def test_fit_recovers_a_known_post_eq_offset(di):
    base = Patch.init(DIST_MULTI).with_values(preamp_gain=3.0, chorus_level=0.0,
                                              delay_level=0.0, reverb_level=0.0)
    hidden = base.with_values(post_gain_3_db=7.0, post_gain_1_db=-5.0)
    target = to_mono(render(hidden, di, SR))

    def take(patch):
        return to_mono(render(patch, di, SR))
    result = fit_eq_controls(base, target, take, SR)
    assert result.after_rms_db < 0.4 * result.before_rms_db
    assert result.patch.get("post_gain_3_db") > 3.0
    assert result.patch.get("post_gain_1_db") < -1.5
    assert "post_gain_3_db" in result.changes and result.takes == 1 + 2 * 5 or result.takes >= 6


def test_type_without_eq_keeps_the_patch(di):
    patch = Patch.init(0x0D)
    target = to_mono(render(patch.with_values(mix_pct=20), di, SR))
    result = fit_eq_controls(patch, target, lambda p: to_mono(render(p, di, SR)), SR)
    assert result.patch == patch and result.takes == 1 and result.changes == {}
    np.testing.assert_allclose(result.after_db, result.before_db)


def test_residual_curve_of_a_known_filter(rng):
    from scipy.signal import butter, sosfilt
    noise = rng.standard_normal(2 * SR) * 0.1
    sos = butter(2, 2000, "highpass", fs=SR, output="sos")
    freqs, diff = residual_curve(sosfilt(sos, noise), noise, SR)
    low = diff[(freqs >= 100) & (freqs <= 300)].mean()
    high = diff[(freqs >= 6000) & (freqs <= 10000)].mean()
    assert low - high < -30.0       # the target lacks lows: the correction cuts them


def test_correction_ir_follows_the_curve_and_is_minimum_phase():
    freqs = 1000.0 * 2.0 ** (np.arange(-15, 14) / 3.0)
    gain = np.where(freqs < 500, 6.0, np.where(freqs > 4000, -6.0, 0.0))
    ir = correction_ir(freqs, gain, SR, length=4096)
    spectrum = 20 * np.log10(np.abs(np.fft.rfft(ir, 1 << 16)))
    grid = np.fft.rfftfreq(1 << 16, 1 / SR)
    for f, want in ((150.0, 6.0), (1200.0, 0.0), (8000.0, -6.0)):
        assert spectrum[np.argmin(np.abs(grid - f))] == pytest.approx(want, abs=1.0)
    energy = np.cumsum(ir ** 2) / np.sum(ir ** 2)
    assert energy[len(ir) // 20] > 0.95          # energy up front: no pre-ringing


def test_exports_round_trip(tmp_path):
    freqs = np.array([100.0, 1000.0, 10000.0])
    gain = np.array([3.0, 0.0, 30.0])
    path = write_curve_csv(tmp_path / "curve.csv", freqs, gain)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["frequency_hz", "gain_db"] and len(rows) == 4
    assert float(rows[2][1]) == 0.0 and abs(float(rows[3][1])) <= 12.0   # clipped to +/-12 dB
    ir = correction_ir(freqs, gain, SR, length=1024)
    wav = write_correction_ir(tmp_path / "correction.wav", ir, SR)
    data, sr = sf.read(str(wav))
    assert sr == SR and len(data) == 1024 and np.max(np.abs(data)) <= 0.999 + 1e-6


def test_bad_arguments_are_refused():
    with pytest.raises(ParameterError, match="power of two"):
        correction_ir([100.0, 1000.0], [0.0, 0.0], SR, length=1000)
    with pytest.raises(AudioInputError, match="increasing"):
        correction_ir([1000.0, 100.0], [0.0, 0.0], SR)
    with pytest.raises(ParameterError, match="delta_unit"):
        fit_eq_controls(Patch.init(DIST_MULTI), np.ones(SR), lambda p: np.ones(SR), SR,
                        delta_unit=0.0)
