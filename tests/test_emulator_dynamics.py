"""Compressor (0x36), CompressorStage and NoiseGateStage: known answers.

Compressor: the static curve measured with steady 1 kHz sines at several levels
(within +/- 1 dB of threshold/ratio theory), the soft knee, attack and release
time constants from level steps, make-up gain, and the standalone type equal to
the shared stage. Gate: closes below its threshold, opens above it, and its
attack, hold and decay times are met to the sample (linear ramps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from magicstomp.emulator import render
from magicstomp.emulator.dynamics import (DETECTOR_RMS_MS, GATE_HYSTERESIS_DB, GATE_RELEASE_MS,
                                          CompressorStage, NoiseGateStage)
from magicstomp.emulator.mappings import knob_value
from magicstomp.errors import EmulationError
from magicstomp.patch import Patch

FS = 48000


def comp_params(**kw) -> dict:
    base = dict(compressor_threshold_db=-20.0, compressor_ratio=4.0, compressor_attack_ms=2,
                compressor_release_ms=52.0, compressor_knee="Hard", compressor_gain_db=0.0)
    return {**base, **kw}


def sine(level_db, seconds=0.4, *, freq_hz=1000.0):
    t = np.arange(int(seconds * FS)) / FS
    return 10 ** (level_db / 20) * np.sin(2 * np.pi * freq_hz * t)


def level_db(y):
    """Level of a steady sine in dBFS (full-scale sine = 0 dB), from its RMS."""
    return 20 * np.log10(np.sqrt(2 * np.mean(y ** 2)))


def static_out_db(in_db, *, threshold_db, ratio, knee_db=0.0, makeup_db=0.0):
    slope = (0.0 if ratio == "inf" else 1.0 / ratio) - 1.0
    over = in_db - threshold_db
    if 2 * over <= -knee_db:
        gain = 0.0
    elif 2 * over < knee_db:
        gain = slope * (over + knee_db / 2) ** 2 / (2 * knee_db)
    else:
        gain = slope * over
    return in_db + gain + makeup_db


@pytest.mark.parametrize("threshold_db", [-40.0, -20.0, -6.0])
@pytest.mark.parametrize("ratio", [2.0, 4.0, 10.0, "inf"])
def test_static_curve_follows_threshold_and_ratio(threshold_db, ratio):
    params = comp_params(compressor_threshold_db=threshold_db, compressor_ratio=ratio)
    for in_db in (-50.0, -30.0, -15.0, -3.0):
        y = CompressorStage(params, FS).process(sine(in_db))
        measured = level_db(y[y.size // 2:])
        expected = static_out_db(in_db, threshold_db=threshold_db, ratio=ratio)
        assert measured == pytest.approx(expected, abs=1.0), in_db


@pytest.mark.parametrize("knee", ["1", "3", "5"])
def test_soft_knee_rounds_the_corner(knee):
    width_db = knob_value("compressor_knee", knee)
    params = comp_params(compressor_ratio=8.0, compressor_knee=knee)
    hard = comp_params(compressor_ratio=8.0)
    for in_db in (-20.0 - width_db / 2 - 1, -20.0, -20.0 + width_db / 4):
        y = CompressorStage(params, FS).process(sine(in_db))[FS // 5:]
        expected = static_out_db(in_db, threshold_db=-20.0, ratio=8.0, knee_db=width_db)
        assert level_db(y) == pytest.approx(expected, abs=0.5)
    at_threshold = [level_db(CompressorStage(p, FS).process(sine(-20.0))[FS // 5:])
                    for p in (params, hard)]
    assert at_threshold[0] < at_threshold[1] - 0.25      # the knee starts compressing earlier


def test_make_up_gain_and_one_to_one_ratio(rng):
    x = rng.standard_normal(2048) * 0.1
    y = CompressorStage(comp_params(compressor_ratio=1.0, compressor_gain_db=6.0), FS).process(x)
    np.testing.assert_allclose(y, x * 10 ** (6 / 20), rtol=1e-12)
    below = CompressorStage(comp_params(compressor_gain_db=9.5), FS).process(sine(-40.0))
    assert level_db(below[FS // 5:]) == pytest.approx(-40.0 + 9.5, abs=0.05)


def _gain_db_track(params, step_from_db, step_to_db, *, after_s=0.9):
    """Gain (dB) applied by the compressor per 1 ms frame around a level step at 0.3 s."""
    x = np.concatenate([sine(step_from_db, 0.3), sine(step_to_db, after_s)])
    y = CompressorStage(params, FS).process(x)
    frames = x.size // 48
    ratio = (np.sqrt(np.mean(y[:frames * 48].reshape(frames, 48) ** 2, axis=1))
             / np.sqrt(np.mean(x[:frames * 48].reshape(frames, 48) ** 2, axis=1)))
    return 20 * np.log10(ratio)


def _time_to_63pct_ms(track_db, start_ms=300):
    seg = track_db[start_ms:]
    final, first = np.median(seg[-50:]), track_db[start_ms - 5]
    target = first + (1 - math.exp(-1)) * (final - first)
    crossed = np.nonzero((seg - target) * np.sign(final - first) >= 0)[0][0]
    return crossed


@pytest.mark.parametrize("attack_ms", [10, 40, 120])
def test_attack_time_constant(attack_ms):
    track = _gain_db_track(comp_params(compressor_ratio="inf", compressor_attack_ms=attack_ms,
                                       compressor_threshold_db=-30.0), -40.0, -6.0)
    # detector (5 ms mean square) and gain smoother in series: time to 63 % is about
    # the attack time, a little more for short attacks
    measured = _time_to_63pct_ms(track)
    assert attack_ms * 0.8 <= measured <= attack_ms * 1.2 + 2 * DETECTOR_RMS_MS


@pytest.mark.parametrize("release_ms", [52.0, 250.0, 1020.0])
def test_release_time_constant(release_ms):
    params = comp_params(compressor_ratio="inf", compressor_attack_ms=0,
                         compressor_threshold_db=-30.0, compressor_release_ms=release_ms)
    release = params["compressor_release_ms"]
    track = _gain_db_track(params, -6.0, -29.0, after_s=max(0.9, 6e-3 * release))
    measured = _time_to_63pct_ms(track)
    assert release * 0.8 <= measured <= release * 1.2 + 2 * DETECTOR_RMS_MS


def test_standalone_compressor_equals_the_shared_stage(rng):
    patch = Patch.init(0x36).with_values(threshold_db=-25.0, ratio=5.0, attack_time_ms=12,
                                         release_time_ms=203.0, knee="2", gain_db=4.0)
    shared = comp_params(compressor_threshold_db=-25.0, compressor_ratio=5.0,
                         compressor_attack_ms=12, compressor_release_ms=203.0,
                         compressor_knee="2", compressor_gain_db=4.0)
    x = rng.standard_normal(FS // 4) * 0.3
    y = render(patch, x, FS)
    np.testing.assert_array_equal(y[:, 0], CompressorStage(shared, FS).process(x))
    np.testing.assert_array_equal(y[:, 0], y[:, 1])


# --- noise gate ---------------------------------------------------------------------------

def gate_params(**kw):
    base = dict(gate_threshold=4.0, gate_attack_ms=5, gate_hold_time_ms=58.0,
                gate_decay_time_ms=99.0)
    return {**base, **kw}


def test_threshold_mapping_and_off_at_zero(rng):
    assert NoiseGateStage(gate_params(), FS).threshold_db == pytest.approx(-60.0)
    off = NoiseGateStage(gate_params(gate_threshold=0.0), FS)
    x = rng.standard_normal(1000) * 1e-6
    np.testing.assert_array_equal(off.process(x), x)


def test_gate_opens_above_and_closes_below_threshold():
    params = gate_params()
    threshold = NoiseGateStage(params, FS).threshold_db
    loud = NoiseGateStage(params, FS).process(sine(threshold + 10, 0.5, freq_hz=200.0))
    assert level_db(loud[FS // 10:]) == pytest.approx(threshold + 10, abs=0.05)
    quiet = NoiseGateStage(params, FS).process(sine(threshold - 10, 0.5, freq_hz=200.0))
    assert np.max(np.abs(quiet)) < 1e-12          # never opens
    # open first, then the signal falls 10 dB below the threshold: shut within
    # detector fall + hold + decay
    x = np.concatenate([sine(threshold + 10, 0.3, freq_hz=200.0),
                        sine(threshold - 10, 0.7, freq_hz=200.0)])
    y = NoiseGateStage(params, FS).process(x)
    fall_ms = GATE_RELEASE_MS * math.log(10 ** ((20 + GATE_HYSTERESIS_DB) / 20))
    shut_at = int(0.3 * FS + (fall_ms + 58.0 + 99.0 + 5) * FS / 1000)
    assert np.max(np.abs(y[shut_at:])) == 0.0
    assert np.max(np.abs(y[int(0.3 * FS): int(0.3 * FS) + FS // 50])) > 0  # not shut at once


def test_attack_hold_and_decay_times_are_met():
    """DC test signal: loud (opens), then quiet under the threshold; gain = y / x."""
    attack_ms, hold_ms, decay_ms = 20, 104.0, 99.0
    params = gate_params(gate_attack_ms=attack_ms, gate_hold_time_ms=hold_ms,
                         gate_decay_time_ms=decay_ms)
    loud, quiet = 0.1, 1e-4
    n_loud = FS // 2
    x = np.concatenate([np.full(n_loud, loud), np.full(FS, quiet)])
    gain = NoiseGateStage(params, FS).process(x) / x
    attack_n = attack_ms * FS // 1000
    assert gain[attack_n // 2 - 1] == pytest.approx(0.5, abs=0.01)     # linear ramp
    assert gain[attack_n - 1] == pytest.approx(1.0)
    # envelope falls from `loud` at 20 ms per neper; below the close level the hold starts
    close = 10 ** ((NoiseGateStage(params, FS).threshold_db - GATE_HYSTERESIS_DB) / 20)
    below_n = n_loud + math.ceil(math.log(loud / close) * GATE_RELEASE_MS * FS / 1000)
    hold_n = round(hold_ms * FS / 1000)
    decay_n = decay_ms * FS / 1000
    assert np.all(gain[n_loud:below_n + hold_n - 2] == 1.0)          # open through the hold
    mid = below_n + hold_n + int(decay_n / 2)
    assert gain[mid] == pytest.approx(0.5, abs=0.02)                   # linear decay
    assert np.all(gain[below_n + hold_n + int(decay_n) + 3:] == 0.0)   # shut after the decay


def test_unknown_knee_label_is_refused():
    with pytest.raises(EmulationError, match="compressor_knee='7' is not a known label"):
        CompressorStage(comp_params(compressor_knee="7"), FS)


def test_gate_on_a_real_decaying_note(data_dir):
    """EGFxSet clean DI note (Hegel Pedroza, Gerardo Meza, Iran R. Roman; CC-BY-4.0; read from
    audio/egfxset-notes, see audio/SOURCES.md): it decays from -1 to about -68 dBFS in 5 s; a -55 dBFS gate passes it untouched, then shuts for good after the last
    peak above the close level plus hold and decay."""
    import soundfile as sf
    x, rate = sf.read(data_dir / "audio/egfxset-notes/Clean/Middle/6-22.flac")
    params = gate_params(gate_threshold=5.0, gate_attack_ms=5, gate_hold_time_ms=104.0,
                         gate_decay_time_ms=99.0)
    gate = NoiseGateStage(params, rate)
    assert gate.threshold_db == pytest.approx(-55.0)
    y = gate.process(x)
    opened = 6 * rate // 1000                         # 5 ms ramp from the first loud sample
    np.testing.assert_array_equal(y[opened:3 * rate], x[opened:3 * rate])     # open: exact
    close = 10 ** ((gate.threshold_db - GATE_HYSTERESIS_DB) / 20)
    last_loud = np.nonzero(np.abs(x) >= close)[0][-1]
    hold_n, decay_n = round(0.104 * rate), round(0.099 * rate)
    # the envelope is above the close level up to last_loud, so the hold runs at least
    # until last_loud + hold: unity gain there; shut once the decay ramp has run out
    np.testing.assert_array_equal(y[last_loud:last_loud + hold_n], x[last_loud:last_loud + hold_n])
    shut = last_loud + round(0.030 * rate) + hold_n + decay_n
    assert shut < x.size - rate // 10 and np.max(np.abs(x[shut:])) > 1e-4   # there is a tail
    assert np.all(y[shut:] == 0.0)
