"""Known-answer tests of the Amp Multi and Distortion Multi chains (order, taps, levels, speeds).

Each section after the front adds its own wet, so renders that differ in one
level isolate that section exactly: y(level) - y(0) is the section's wet.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from magicstomp.emulator import render
from magicstomp.emulator.mappings import knob_value
from magicstomp.emulator.multi import modulation_stage
from magicstomp.patch import Patch
from render_checks import block_renders, hard_input_renders, raw_extreme_renders
from signals import SR, dominant_hz, envelope, inst_hz, sine

AMP_MULTIS = (0x37, 0x38, 0x39, 0x3A)
DIST_MULTIS = (0x3B, 0x3C, 0x3D, 0x3E)
#: A near-linear front: clean amp at low gain, compressor 1:1 without make-up, gate off, no cabinet.
CLEAN_FRONT = dict(amplifier_type="Clean 1", distortion_type="Bypass", preamp_gain=0.0, speaker_type="Off",
                   compressor_ratio=1.0, compressor_gain_db=0.0, gate_threshold=0.0, master_volume=10.0)
QUIET_FX = dict(delay_level=0.0, reverb_level=0.0)


def amp_multi(type_id: int, **values) -> Patch:
    """A multi with a near-linear front and silent delay/reverb, then ``values`` (keys it lacks skipped)."""
    p = Patch.init(type_id)
    keys = set(p.values())
    return p.with_values(**{k: v for k, v in {**CLEAN_FRONT, **QUIET_FX, **values}.items() if k in keys})


def tone_burst(freq_hz: float, seconds: float, total_s: float, amp: float = 0.2) -> np.ndarray:
    x = np.zeros(int(total_s * SR))
    n = int(seconds * SR)
    x[:n] = amp * np.sin(2 * np.pi * freq_hz * np.arange(n) / SR) * np.hanning(n)
    return x


def lag_ms(reference: np.ndarray, delayed: np.ndarray) -> float:
    corr = signal.correlate(delayed, reference, mode="full", method="fft")[reference.size - 1:]
    return np.argmax(np.abs(corr)) * 1000.0 / SR


@pytest.mark.parametrize("type_id", [0x37, 0x3A, 0x3C])
def test_delay_taps_sit_at_percent_of_the_feedback_time(type_id, rng):
    x = np.zeros(SR)
    x[100:580] = rng.standard_normal(480) * 0.1
    values = dict(feedback_delay_time_ms=300.0, delay_tap_l_pct=40, delay_tap_r_pct=100, delay_feedback_pct=0,
                  delay_hp_frequency_hz="Thru", delay_lp_frequency_hz="Thru", delay_hf_ratio=1.0)
    dry = render(amp_multi(type_id, **values), x, SR)
    wet = render(amp_multi(type_id, **{**values, "delay_level": 10.0}), x, SR) - dry
    assert lag_ms(dry[:, 0], wet[:, 0]) == pytest.approx(120.0, abs=1.0)
    assert lag_ms(dry[:, 1], wet[:, 1]) == pytest.approx(300.0, abs=1.0)


def test_levels_add_their_section_linearly(rng):
    x = rng.standard_normal(SR // 2) * 0.1
    for key in ("delay_level", "chorus_level"):
        y = {lv: render(amp_multi(0x37, chorus_speed=5.0, chorus_depth=5.0, **{key: lv}), x, SR)
             for lv in (0.0, 5.0, 10.0)}
        assert np.allclose(y[10.0] - y[0.0], 2.0 * (y[5.0] - y[0.0]), atol=1e-9), key
        assert np.max(np.abs(y[10.0] - y[0.0])) > 0.01, key


def test_delay_level_ten_makes_the_first_echo_as_loud_as_the_dry(rng):
    x = np.zeros(SR)
    x[100:580] = rng.standard_normal(480) * 0.1
    values = dict(feedback_delay_time_ms=250.0, delay_tap_l_pct=100, delay_tap_r_pct=100, delay_feedback_pct=0,
                  delay_hp_frequency_hz="Thru", delay_lp_frequency_hz="Thru", delay_level=10.0)
    y = render(amp_multi(0x37, **values), x, SR)[:, 0]
    echo_at = int(0.25 * SR)
    dry_energy = np.sum(y[:echo_at] ** 2)
    echo_energy = np.sum(y[echo_at: 2 * echo_at] ** 2)
    assert echo_energy == pytest.approx(dry_energy, rel=0.05)


@pytest.mark.parametrize("type_id, drive", [(0x37, {"amplifier_type": "Heavy 1"}),
                                            (0x3B, {"distortion_type": "Distortion 1"})])
def test_delay_and_reverb_follow_the_drive(type_id, drive):
    # a driven amp turns a sine into harmonics; the echo tail (after the input) must carry them
    x = tone_burst(220.0, 0.3, 1.2, amp=0.5)
    values = dict(preamp_gain=8.0, feedback_delay_time_ms=500.0, delay_tap_l_pct=100, delay_tap_r_pct=100,
                  delay_feedback_pct=0, delay_level=10.0, **drive)
    y = render(amp_multi(type_id, **values), x, SR)[:, 0]
    tail = y[int(0.5 * SR): int(0.8 * SR)]
    f, pxx = signal.welch(tail, fs=SR, nperseg=8192)
    fundamental = pxx[np.argmin(np.abs(f - 220.0))]
    third = pxx[np.argmin(np.abs(f - 660.0))]
    assert third > 0.01 * fundamental               # echo of the distorted signal, not of the DI
    reverb = render(amp_multi(type_id, reverb_level=5.0), x, SR)
    quiet = render(amp_multi(type_id), x, SR)
    late = slice(int(0.45 * SR), int(0.9 * SR))
    assert np.sqrt(np.mean(reverb[late] ** 2)) > 100 * np.sqrt(np.mean(quiet[late] ** 2)) + 1e-6


@pytest.mark.parametrize("speed", [2.0, 5.0, 8.0])
def test_tremolo_speed_follows_the_mapping(speed):
    rate_hz = knob_value("tremolo_speed", speed)
    x = sine(440.0, max(3.0, 8 / rate_hz), amp=0.2)
    y = render(amp_multi(0x39, tremolo_speed=speed, tremolo_depth=10.0), x, SR)
    env = envelope(y[SR // 10:, 0])
    assert dominant_hz(env, SR / 48) == pytest.approx(rate_hz, rel=0.05)
    assert env.min() / env.max() < 0.05                 # depth 10 = full modulation


@pytest.mark.parametrize("type_id, prefix", [(0x37, "chorus_"), (0x38, "flanger_")])
def test_chorus_and_flanger_speed_follow_the_mapping(type_id, prefix):
    speed = 6.0
    rate_hz = knob_value(f"{prefix}speed", speed)
    x = sine(1000.0, 3.0, amp=0.1)
    values = {f"{prefix}speed": speed, f"{prefix}depth": 10.0}
    if type_id == 0x38:
        values["flanger_feedback_pct"] = 0
    dry = render(amp_multi(type_id, **values), x, SR)
    wet = render(amp_multi(type_id, **values, **{f"{prefix}level": 10.0}), x, SR) - dry
    b, a = signal.butter(4, [700, 1400], btype="band", fs=SR)
    f = inst_hz(signal.filtfilt(b, a, wet[:, 0]))
    assert dominant_hz(f, SR) == pytest.approx(rate_hz, rel=0.05)


def test_phaser_multi_notches_need_the_level(rng):
    x = rng.standard_normal(SR)
    y0 = render(amp_multi(0x3A, phaser_depth=0.0, phaser_level=0.0), x, SR)
    y10 = render(amp_multi(0x3A, phaser_depth=0.0, phaser_level=10.0, phaser_feedback_pct=0), x, SR)
    f, p0 = signal.welch(y0[:, 0], fs=SR, nperseg=4096)
    _, p10 = signal.welch(y10[:, 0], fs=SR, nperseg=4096)
    ratio_db = 10 * np.log10(p10 / p0)[(f > 50) & (f < 15000)]
    assert ratio_db.min() < -20                         # allpass + dry = notches
    assert ratio_db.max() == pytest.approx(20 * np.log10(2.0), abs=1.0)   # in phase: wet + dry = 2 x


def test_modulation_stage_kinds_and_levels():
    for type_id, kind in zip(AMP_MULTIS, ("chorus", "flanger", "tremolo", "phaser")):
        got, _, level = modulation_stage(Patch.init(type_id).values(), SR)
        assert got == kind
        assert level == (1.0 if kind == "tremolo" else 0.0)


ALL_MULTIS = AMP_MULTIS + DIST_MULTIS
SECTION_KEYS = ("chorus_", "flanger_", "tremolo_", "phaser_", "delay_", "feedback_delay", "reverb_")


def busy(type_id: int) -> Patch:
    """Init patch with every section audible (levels, speeds and depths at 5, delay feedback 40 %)."""
    p = Patch.init(type_id)
    values = {k: 5.0 for k in p.values() if k.endswith(("_level", "_speed", "_depth"))}
    return p.with_values(delay_feedback_pct=40, **values)


@pytest.mark.parametrize("type_id", ALL_MULTIS)
def test_streaming_equals_offline(type_id, rng):
    x = rng.standard_normal(SR // 2) * 0.1
    p = busy(type_id)
    whole = render(p, x, SR)
    for cut, y in block_renders(p, x).items():
        assert np.array_equal(y, whole), cut


@pytest.mark.parametrize("type_id", ALL_MULTIS)
@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_finite_for_silence_noise_and_clipped_input(type_id, rate, rng):
    p = busy(type_id)
    for x, y in hard_input_renders(p, rate, rng):
        assert y.shape == (x.size, 2) and np.all(np.isfinite(y))


@pytest.mark.parametrize("type_id", ALL_MULTIS)
def test_every_section_parameter_changes_the_output(type_id, rng):
    x = np.zeros(SR * 8 // 10)                          # long enough for a second echo (2 x 300 ms)
    x[100:2500] = rng.standard_normal(2400) * 0.1
    base = busy(type_id)
    for key in base.effect_type.keys():
        if not key.startswith(SECTION_KEYS):
            continue                                    # front keys: helper A's tests
        low, high = raw_extreme_renders(base, key, x)
        assert not np.allclose(low, high, atol=1e-7), key
