"""Known-answer tests of the delay family (Mono/Stereo/Mod. Delay, Echo, Tape Echo, multi delay stage).

Signals are synthesized (clicks, sines, noise bursts) so every expected value
is computed from the parameters; one test runs a real DI take
(/work/shared/audio/di-cc0-jazz/jazz.wav, CC0, see audio/SOURCES.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from magicstomp.emulator import render
from magicstomp.emulator.delay import MultiDelayStage
from magicstomp.emulator.mappings import knob_value
from magicstomp.patch import Patch
from render_checks import block_renders, hard_input_renders, raw_extreme_renders
from signals import SR, click, dominant_hz, instantaneous_hz

CLEAN = {"hi_freq_ratio": 1.0, "hi_pass_frequency_hz": "Thru", "lo_pass_frequency_hz": "Thru", "mix_pct": 100}


def patch(type_id: int, **values) -> Patch:
    return Patch.init(type_id).with_values(**values)


def peak_times_ms(y: np.ndarray, start: int, *, count: int, threshold: float = 1e-3) -> list:
    """Positions (ms after ``start``) of the ``count`` largest separated peaks of |y|."""
    peaks, _ = signal.find_peaks(np.abs(y), height=threshold, distance=int(0.005 * SR))
    strongest = sorted(peaks[np.argsort(np.abs(y[peaks]))[::-1][:count]])
    return [(p - start) * 1000.0 / SR for p in strongest]


@pytest.mark.parametrize("time_ms", [1.0, 37.4, 250.0, 1000.0, 2730.0])
def test_mono_delay_first_echo_at_delay_time(time_ms):
    p = patch(0x0D, delay_time_ms=time_ms, feedback_gain_pct=0, **CLEAN)
    y = render(p, click(int(SR * (time_ms / 1000 + 0.1))), SR)
    first = (np.argmax(np.abs(y[:, 0])) - 100) * 1000.0 / SR
    assert abs(first - time_ms) <= 1.0
    assert np.allclose(y[:, 0], y[:, 1])            # mono delay: the same echo on both outputs


@pytest.mark.parametrize("feedback_pct", [30, 60, 90, -50])
def test_feedback_gives_echo_ratios_and_polarity(feedback_pct):
    time_ms = 100.0
    p = patch(0x0D, delay_time_ms=time_ms, feedback_gain_pct=feedback_pct, **CLEAN)
    y = render(p, click(int(SR * 0.65)), SR)[:, 0]
    taps = [100 + int(round(k * time_ms * SR / 1000)) for k in range(1, 6)]
    echoes = y[taps]
    ratios = echoes[1:] / echoes[:-1]
    assert np.allclose(ratios, feedback_pct / 100.0, rtol=0.10)
    if feedback_pct < 0:
        assert np.all(np.sign(echoes[1:]) != np.sign(echoes[:-1]))


@pytest.mark.parametrize("mix_pct", [0, 30, 100])
def test_mix_crossfades_dry_and_wet(mix_pct):
    p = patch(0x0D, delay_time_ms=50.0, feedback_gain_pct=0, **{**CLEAN, "mix_pct": mix_pct})
    y = render(p, click(SR // 5), SR)[:, 0]
    assert y[100] == pytest.approx(1.0 - mix_pct / 100.0, abs=1e-9)
    assert y[100 + int(0.05 * SR)] == pytest.approx(mix_pct / 100.0, abs=1e-9)


def band_energy(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / SR)
    return float(spec[(f >= lo_hz) & (f < hi_hz)].sum())


def test_hf_ratio_damps_highs_in_the_loop(rng):
    time_ms, burst = 100.0, 0.02
    x = np.zeros(int(SR * 0.5))
    x[: int(burst * SR)] = rng.standard_normal(int(burst * SR))
    tilt = {}
    for hf in (1.0, 0.2):
        p = patch(0x0D, delay_time_ms=time_ms, feedback_gain_pct=70, **{**CLEAN, "hi_freq_ratio": hf})
        y = render(p, x, SR)[:, 0]
        third = y[int(0.3 * SR): int(0.3 * SR) + int(burst * SR) + 200]
        tilt[hf] = band_energy(third, 6000, 20000) / band_energy(third, 100, 1000)
    ref = band_energy(x, 6000, 20000) / band_energy(x, 100, 1000)
    assert tilt[1.0] == pytest.approx(ref, rel=0.2)                 # no damping: spectrum kept
    assert tilt[0.2] < 0.05 * tilt[1.0]                             # damped: highs lost per repeat


@pytest.mark.parametrize("sine_hz, hpf, lpf, expect_db", [
    (100.0, 1000.0, "Thru", -30.0),      # 12 dB/oct HPF a decade above: ~ -40 dB
    (5000.0, "Thru", 1000.0, -25.0),     # LPF well below the tone
    (1000.0, "Thru", "Thru", 0.0),       # Thru on both = no filter
])
def test_hpf_lpf_tables_filter_the_wet(sine_hz, hpf, lpf, expect_db):
    t = np.arange(SR // 2) / SR
    x = np.sin(2 * np.pi * sine_hz * t)
    p = patch(0x0D, delay_time_ms=10.0, feedback_gain_pct=0,
              **{**CLEAN, "hi_pass_frequency_hz": hpf, "lo_pass_frequency_hz": lpf})
    y = render(p, x, SR)[SR // 4:, 0]
    gain_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / np.sqrt(0.5))
    if expect_db == 0.0:
        assert abs(gain_db) < 0.1
    else:
        assert gain_db < expect_db


def test_stereo_delay_left_and_right_times_and_feedback():
    p = patch(0x0E, delay_time_l_ms=120.0, delay_time_r_ms=300.0, feedback_gain_l_pct=50,
              feedback_gain_r_pct=-25, **CLEAN)
    y = render(p, click(SR), SR)
    left, right = y[:, 0], y[:, 1]
    l_taps, r_taps = 100 + int(0.12 * SR), 100 + int(0.3 * SR)
    assert peak_times_ms(left, 100, count=2) == pytest.approx([120.0, 240.0], abs=1.0)
    assert peak_times_ms(right, 100, count=2) == pytest.approx([300.0, 600.0], abs=1.0)
    assert left[2 * l_taps - 100] / left[l_taps] == pytest.approx(0.5, rel=0.1)
    assert right[2 * r_taps - 100] / right[r_taps] == pytest.approx(-0.25, rel=0.1)


def test_echo_cross_feedback_left_to_right():
    values = dict(delay_time_l_ms=100.0, delay_time_r_ms=150.0, delay_time_fb_l_ms=200.0,
                  delay_time_fb_r_ms=200.0, feedback_gain_l_pct=0, feedback_gain_r_pct=0,
                  feedback_gain_l_r_pct=50, feedback_gain_r_l_pct=0, **CLEAN)
    y = render(patch(0x11, **values), click(SR), SR)
    # R line = in + 0.5 * (L line 200 ms ago): R output at 150 ms and 150 + 200 ms
    assert peak_times_ms(y[:, 1], 100, count=2) == pytest.approx([150.0, 350.0], abs=1.0)
    assert y[100 + int(0.35 * SR), 1] == pytest.approx(0.5, rel=0.1)
    assert peak_times_ms(y[:, 0], 100, count=2, threshold=1e-6)[0] == pytest.approx(100.0, abs=1.0)
    assert np.max(np.abs(y[100 + int(0.15 * SR):, 0])) < 1e-9    # no R->L, no FB.L: one left echo
    y2 = render(patch(0x11, **{**values, "feedback_gain_l_r_pct": 0, "feedback_gain_r_l_pct": 50}), click(SR), SR)
    assert peak_times_ms(y2[:, 0], 100, count=2) == pytest.approx([100.0, 300.0], abs=1.0)


@pytest.mark.parametrize("rate_hz, waveform", [(0.85, "Sine"), (3.0, "Triangle")])
def test_mod_delay_modulation_rate_and_depth(rate_hz, waveform):
    t = np.arange(4 * SR) / SR
    x = np.sin(2 * np.pi * 1000.0 * t)
    deviation = {}
    for depth in (0, 50, 100):
        p = patch(0x0F, delay_time_ms=20.0, feedback_gain_pct=0, mod_frequency_hz=rate_hz,
                  mod_waveform=waveform, mod_depth_pct=depth, **CLEAN)
        f = instantaneous_hz(render(p, x, SR)[:, 0])[SR // 10: -SR // 10]
        deviation[depth] = np.percentile(f, 99) - np.percentile(f, 1)
        if depth == 100:
            assert dominant_hz(f, SR) == pytest.approx(rate_hz, rel=0.05)
    assert deviation[0] < 0.5 < deviation[50] < deviation[100]


def test_tape_echo_time_mapping_darkening_and_saturation(rng):
    knob = 4.6
    time_ms = knob_value("delay_time", knob)
    p = patch(0x35, delay_time=knob, feedback_level=7.0, mix=10.0)
    x = np.zeros(SR * 2)
    x[100: 100 + 480] = 0.3 * rng.standard_normal(480)
    y = render(p, x, SR)[:, 0]
    start = int(time_ms * SR / 1000)
    env = np.abs(signal.hilbert(y))
    first = (np.argmax(env[: start + 2000]) - 100 - 240) * 1000.0 / SR
    assert abs(first - time_ms) <= 6.0        # burst centre; the wow moves it by < 0.3 %
    echoes = [y[100 + k * start - 200: 100 + k * start + 900] for k in (1, 4)]
    tilt = [band_energy(e, 3000, 20000) / band_energy(e, 100, 1500) for e in echoes]
    assert tilt[1] < 0.3 * tilt[0]            # later repeats are darker
    loud = render(p, 30.0 * x, SR)[:, 0]
    assert np.max(np.abs(loud)) < 0.5 * 30.0 * np.max(np.abs(y))   # the tape saturates
    assert np.array_equal(render(p, x, SR), render(p, x, SR))       # deterministic


@pytest.mark.parametrize("knob", [0.0, 10.0])
def test_tape_echo_wow_and_flutter_move_the_pitch(knob):
    from magicstomp.emulator.delay import TAPE_FLUTTER_PITCH, TAPE_WOW_PITCH
    t = np.arange(3 * SR) / SR
    x = np.sin(2 * np.pi * 500.0 * t) * 0.1
    y = render(patch(0x35, delay_time=knob, feedback_level=0.0, mix=10.0), x, SR)[:, 0]
    f = np.convolve(instantaneous_hz(y), np.ones(96) / 96, "valid")[int(1.1 * SR): -2000]
    expected_ptp = 2 * 500.0 * (TAPE_WOW_PITCH + TAPE_FLUTTER_PITCH)   # the same at any time
    assert np.ptp(f) == pytest.approx(expected_ptp, rel=0.25)
    assert np.mean(f) == pytest.approx(500.0, abs=0.5)


def test_multi_delay_stage_taps_are_percent_of_time():
    params = {"feedback_delay_time_ms": 400.0, "delay_tap_l_pct": 50, "delay_tap_r_pct": 100,
              "delay_feedback_pct": 50, "delay_hf_ratio": 1.0, "delay_hp_frequency_hz": "Thru",
              "delay_lp_frequency_hz": "Thru"}
    y = MultiDelayStage(params, SR).process(click(SR))
    assert peak_times_ms(y[:, 0], 100, count=2) == pytest.approx([200.0, 600.0], abs=1.0)
    assert peak_times_ms(y[:, 1], 100, count=2) == pytest.approx([400.0, 800.0], abs=1.0)
    assert y[100 + int(0.6 * SR), 0] / y[100 + int(0.2 * SR), 0] == pytest.approx(0.5, rel=0.1)


def test_real_di_echo_found_by_cross_correlation(data_dir):
    import soundfile as sf
    audio, rate = sf.read(data_dir / "audio/di-cc0-jazz/jazz.flac", always_2d=True)
    x = audio[: 3 * rate, 0].astype(np.float64)
    p = patch(0x0D, delay_time_ms=180.0, feedback_gain_pct=0, **CLEAN)
    wet = render(p, x, int(rate))[:, 0]
    corr = signal.correlate(wet, x, mode="full", method="fft")[x.size - 1:]
    lag_ms = np.argmax(corr[: int(0.5 * rate)]) * 1000.0 / rate
    assert lag_ms == pytest.approx(180.0, abs=1.0)


DELAY_TYPES = (0x0D, 0x0E, 0x0F, 0x11, 0x35)


@pytest.mark.parametrize("type_id", DELAY_TYPES)
def test_streaming_equals_offline(type_id, rng):
    x = rng.standard_normal(SR // 2) * 0.3
    p = Patch.init(type_id)
    whole = render(p, x, SR)
    for cut, y in block_renders(p, x).items():
        assert np.array_equal(y, whole), cut


@pytest.mark.parametrize("type_id", DELAY_TYPES)
@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_finite_for_silence_noise_and_clipped_input(type_id, rate, rng):
    p = Patch.init(type_id)
    for x, y in hard_input_renders(p, rate, rng):
        assert y.shape == (x.size, 2) and np.all(np.isfinite(y))
    assert np.max(np.abs(render(p, np.zeros(rate // 4), rate))) == 0.0


@pytest.mark.parametrize("type_id", DELAY_TYPES)
def test_every_parameter_changes_the_output(type_id, rng):
    x = np.zeros(SR * 3 // 4)
    x[100:2500] = rng.standard_normal(2400) * 0.5
    base = Patch.init(type_id)
    for key in base.effect_type.keys():
        low, high = raw_extreme_renders(base, key, x)
        assert not np.allclose(low, high, atol=1e-6), key
