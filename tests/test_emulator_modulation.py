"""Known-answer tests of Chorus, Flange, Phaser and Tremolo (rates, depths, waveforms, EQ, stereo).

LFO rates are measured back from the output: the instantaneous frequency of a
sine through Chorus/Flange, the notch track of noise through Phaser, and the
envelope of a sine through Tremolo; each must match the set rate within 5 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from magicstomp.emulator import render
from magicstomp.emulator.modulation import PHASER_BASE_HZ, PHASER_OFFSET_OCT, PHASER_SWEEP_OCT
from magicstomp.patch import Patch
from render_checks import block_renders, hard_input_renders, raw_extreme_renders
from signals import SR, dominant_hz, envelope, inst_hz, notch_track, sine

FLAT_EQ = {"lo_shelf_gain_db": 0.0, "eq_gain_db": 0.0, "hi_shelf_gain_db": 0.0}


def patch(type_id: int, **values) -> Patch:
    return Patch.init(type_id).with_values(**values)


@pytest.mark.parametrize("type_id, key, rate_hz, waveform", [
    (0x12, "pm_depth_pct", 0.75, "Sine"), (0x12, "pm_depth_pct", 4.0, "Triangle"),
    (0x13, "mod_depth_pct", 1.5, "Sine"), (0x13, "mod_depth_pct", 0.4, "Triangle"),
])
def test_chorus_flange_rate_from_instantaneous_frequency(type_id, key, rate_hz, waveform):
    seconds = max(4.0, 6.0 / rate_hz)
    values = dict(mod_delay_ms=5.0, mod_frequency_hz=rate_hz, mod_waveform=waveform, mix_pct=100, **FLAT_EQ)
    if type_id == 0x13:
        values["feedback_gain_pct"] = 0
    else:
        values["am_depth_pct"] = 0
    f = inst_hz(render(patch(type_id, **values, **{key: 100}), sine(1000.0, seconds), SR)[:, 0])
    assert dominant_hz(f, SR) == pytest.approx(rate_hz, rel=0.05)


@pytest.mark.parametrize("type_id, key", [(0x12, "pm_depth_pct"), (0x13, "mod_depth_pct")])
def test_delay_modulation_depth_is_monotonic(type_id, key):
    spread = []
    for depth in (0, 25, 60, 100):
        values = {"mod_frequency_hz": 2.0, "mix_pct": 100, key: depth, **FLAT_EQ}
        if type_id == 0x13:
            values["feedback_gain_pct"] = 0
        f = inst_hz(render(patch(type_id, **values), sine(1000.0, 2.0), SR)[:, 0])
        spread.append(np.ptp(f))
    assert spread[0] < 0.1
    assert spread[0] < spread[1] < spread[2] < spread[3]


def test_chorus_am_depth_modulates_the_wet_level():
    values = dict(mod_frequency_hz=2.0, pm_depth_pct=0, mix_pct=100, **FLAT_EQ)
    swing = {}
    for am in (0, 50, 100):
        env = envelope(render(patch(0x12, am_depth_pct=am, **values), sine(1000.0, 2.0), SR)[:, 0])[100:]
        swing[am] = env.min() / env.max()
        if am == 100:
            assert dominant_hz(env, SR / 48) == pytest.approx(2.0, rel=0.05)
    assert swing[0] == pytest.approx(1.0, abs=0.01)
    assert swing[50] == pytest.approx(0.5, abs=0.05)
    assert swing[100] < 0.05


def test_chorus_outputs_are_stereo():
    y = render(patch(0x12, mix_pct=100), sine(440.0, 1.0), SR)
    assert not np.allclose(y[:, 0], y[:, 1])


def transfer(x: np.ndarray, y: np.ndarray, nperseg: int):
    """Averaged transfer function |Y/X| (cross-spectrum over auto-spectrum)."""
    f, pxy = signal.csd(x, y, fs=SR, nperseg=nperseg)
    _, pxx = signal.welch(x, fs=SR, nperseg=nperseg)
    return f, np.abs(pxy / pxx)


@pytest.mark.parametrize("feedback_pct", [0, 50, 75, -50])
def test_flange_feedback_sets_the_comb_resonance(feedback_pct, rng):
    # wet only, static 2 ms delay: |H| = 1 / |1 - g z^-D| peaks at 1 / (1 - |g|), dips at 1 / (1 + |g|)
    x = rng.standard_normal(SR * 4)
    p = patch(0x13, mod_delay_ms=2.0, mod_depth_pct=0, feedback_gain_pct=feedback_pct, mix_pct=100, **FLAT_EQ)
    f, mag = transfer(x, render(p, x, SR)[:, 0], 16384)
    band = mag[(f > 200) & (f < 5000)]
    g = abs(feedback_pct) / 100.0
    contrast_db = 20 * np.log10(band.max() / band.min())
    assert contrast_db == pytest.approx(20 * np.log10((1 + g) / (1 - g)), abs=1.5)
    if feedback_pct:     # positive feedback peaks at multiples of 1 / 2 ms, negative halfway between
        peak_hz = f[(f > 200) & (f < 5000)][np.argmax(band)]
        distance = abs((peak_hz / 500.0) % 1.0 - (0.0 if feedback_pct > 0 else 0.5))
        assert min(distance, 1.0 - distance) < 0.05


def test_flange_mix_gives_comb_notches_of_the_delay(rng):
    x = rng.standard_normal(SR * 2)
    p = patch(0x13, mod_delay_ms=2.0, mod_depth_pct=0, feedback_gain_pct=0, mix_pct=50, **FLAT_EQ)
    f, mag = transfer(x, render(p, x, SR)[:, 0], 4096)
    low = (f > 100) & (f < 400)
    assert f[low][np.argmin(mag[low])] == pytest.approx(250.0, abs=15.0)   # first notch: 1 / (2 * 2 ms)
    assert mag[low].min() < 0.05


@pytest.mark.parametrize("band", ["lo_shelf", "eq", "hi_shelf"])
def test_eq_bands_shape_the_wet(band, rng):
    values = dict(pm_depth_pct=0, am_depth_pct=0, mix_pct=100, lo_shelf_frequency_hz=200.0,
                  eq_frequency_hz=1000.0, eq_bandwidth_q=2.0, hi_shelf_frequency_hz=4000.0, **FLAT_EQ)
    probe_hz = {"lo_shelf": 50.0, "eq": 1000.0, "hi_shelf": 12000.0}[band]
    x = sine(probe_hz, 0.5)
    flat = render(patch(0x12, **values), x, SR)[SR // 4:, 0]
    boosted = render(patch(0x12, **{**values, f"{band}_gain_db": 12.0}), x, SR)[SR // 4:, 0]
    gain_db = 20 * np.log10(np.std(boosted) / np.std(flat))
    assert gain_db == pytest.approx(12.0, abs=1.0)


@pytest.mark.parametrize("rate_hz", [0.5, 2.0])
def test_phaser_notch_sweeps_at_the_rate_over_the_documented_range(rate_hz, rng):
    offset, depth = 30, 50
    x = rng.standard_normal(int(SR * 8 / rate_hz) if rate_hz < 1 else SR * 6)
    p = patch(0x15, lowest_offset=offset, mod_frequency_hz=rate_hz, mod_depth_pct=depth,
              feedback_gain_pct=0, shifter_stages=2, mix_pct=50, lo_shelf_gain_db=0.0, hi_shelf_gain_db=0.0)
    track, frame_rate = notch_track(render(p, x, SR)[:, 0], x)
    assert dominant_hz(np.log2(track), frame_rate) == pytest.approx(rate_hz, rel=0.05)
    f_low = PHASER_BASE_HZ * 2 ** (PHASER_OFFSET_OCT * offset / 100)
    f_high = f_low * 2 ** (PHASER_SWEEP_OCT * depth / 100)
    assert np.percentile(track, 2) == pytest.approx(f_low, rel=0.15)
    assert np.percentile(track, 98) == pytest.approx(f_high, rel=0.15)


@pytest.mark.parametrize("stages", [2, 4, 8, 12])
def test_phaser_stages_give_stages_over_two_notches(stages, rng):
    x = rng.standard_normal(SR * 2)
    p = patch(0x15, lowest_offset=40, mod_depth_pct=0, feedback_gain_pct=0, shifter_stages=stages,
              mix_pct=50, lo_shelf_gain_db=0.0, hi_shelf_gain_db=0.0)
    y = render(p, x, SR)[:, 0]
    f, mag = transfer(x, y, 8192)
    mag_db = 20 * np.log10(mag + 1e-9)
    notches, _ = signal.find_peaks(-mag_db[(f > 20) & (f < 20000)], height=12)
    assert len(notches) == stages // 2


def test_phaser_lr_phase_angle_and_feedback(rng):
    x = rng.standard_normal(SR * 2)
    base = dict(mod_frequency_hz=1.0, mod_depth_pct=80, feedback_gain_pct=0, shifter_stages=2, mix_pct=50)
    same = render(patch(0x15, l_r_phase_angle_deg=0, **base), x, SR)
    assert np.array_equal(same[:, 0], same[:, 1])
    opposite = render(patch(0x15, l_r_phase_angle_deg=180, **base), x, SR)
    left, fl = notch_track(opposite[:, 0], x)
    right, _ = notch_track(opposite[:, 1], x)
    assert np.corrcoef(np.log2(left), np.log2(right))[0, 1] < -0.8        # notches move apart
    fb = render(patch(0x15, l_r_phase_angle_deg=0, **{**base, "feedback_gain_pct": 80}), x, SR)
    assert not np.allclose(fb, same)


@pytest.mark.parametrize("rate_hz, waveform", [(4.05, "Triangle"), (0.8, "Sine"), (10.0, "Square")])
def test_tremolo_rate_from_envelope(rate_hz, waveform):
    y = render(patch(0x17, mod_frequency_hz=rate_hz, mod_waveform=waveform, mod_depth_pct=100, **FLAT_EQ),
               sine(1000.0, max(3.0, 6 / rate_hz)), SR)
    assert np.array_equal(y[:, 0], y[:, 1])
    assert dominant_hz(envelope(y[:, 0]), SR / 48) == pytest.approx(rate_hz, rel=0.05)


def test_tremolo_depth_and_waveforms():
    ratio = {}
    for depth in (0, 30, 60, 100):
        env = envelope(render(patch(0x17, mod_frequency_hz=2.0, mod_depth_pct=depth, **FLAT_EQ),
                              sine(1000.0, 2.0), SR)[:, 0])
        ratio[depth] = env.min() / env.max()
    assert ratio[0] == pytest.approx(1.0, abs=1e-3)
    assert ratio[0] > ratio[30] > ratio[60] > ratio[100]
    assert ratio[30] == pytest.approx(0.7, abs=0.03)
    near_top = {}
    for waveform in ("Sine", "Triangle", "Square"):
        env = envelope(render(patch(0x17, mod_frequency_hz=2.0, mod_depth_pct=100, mod_waveform=waveform,
                                    **FLAT_EQ), sine(1000.0, 2.0), SR)[:, 0])
        near_top[waveform] = np.mean(env > 0.9 * env.max())   # share of time near full level
    assert near_top["Square"] > near_top["Sine"] > near_top["Triangle"]


def test_tremolo_eq_applies_to_the_whole_signal():
    x = sine(50.0, 0.5)
    flat = render(patch(0x17, mod_depth_pct=0, **FLAT_EQ), x, SR)[SR // 4:, 0]
    cut = render(patch(0x17, mod_depth_pct=0, **{**FLAT_EQ, "lo_shelf_gain_db": -12.0,
                                                  "lo_shelf_frequency_hz": 300.0}), x, SR)[SR // 4:, 0]
    assert 20 * np.log10(np.std(cut) / np.std(flat)) == pytest.approx(-12.0, abs=1.0)


MOD_TYPES = (0x12, 0x13, 0x15, 0x17)


@pytest.mark.parametrize("type_id", MOD_TYPES)
def test_streaming_equals_offline(type_id, rng):
    x = rng.standard_normal(SR // 2) * 0.3
    p = Patch.init(type_id)
    whole = render(p, x, SR)
    for cut, y in block_renders(p, x).items():
        assert np.array_equal(y, whole), cut


@pytest.mark.parametrize("type_id", MOD_TYPES)
@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_finite_for_silence_noise_and_clipped_input(type_id, rate, rng):
    p = Patch.init(type_id)
    for x, y in hard_input_renders(p, rate, rng):
        assert y.shape == (x.size, 2) and np.all(np.isfinite(y))


@pytest.mark.parametrize("type_id", MOD_TYPES)
def test_every_parameter_changes_the_output(type_id, rng):
    x = rng.standard_normal(SR // 2) * 0.3
    init = Patch.init(type_id)
    eq_gains = [k for k in ("lo_shelf_gain_db", "eq_gain_db", "hi_shelf_gain_db") if k in init.values()]
    base = init.with_values(**{k: 6.0 for k in eq_gains})      # EQ frequencies and Q need a band on
    for key in base.effect_type.keys():
        low, high = raw_extreme_renders(base, key, x)
        assert not np.allclose(low, high, atol=1e-6), key


@pytest.mark.parametrize("waveform, quarter, half", [("Sine", 1.0, 0.0), ("Triangle", 1.0, 0.0), ("Square", 1.0, 0.0)])
def test_lfo_starts_at_zero_rising_and_ignores_block_cutting(waveform, quarter, half):
    from magicstomp.emulator.delay_lines import Lfo
    lfo = Lfo(2.0, waveform, sample_rate=SR)                    # period 24000 samples
    whole = lfo.next(48000)
    assert whole[0] == pytest.approx(0.0, abs=1e-9)
    assert whole[6000] == pytest.approx(quarter, abs=1e-6)
    assert whole[12000] == pytest.approx(half, abs=1e-6)
    assert whole[18000] == pytest.approx(-quarter, abs=1e-6)
    lfo.reset()
    assert np.array_equal(np.concatenate([lfo.next(n) for n in (1, 999, 17000, 30000)]), whole)
    shifted = Lfo(2.0, waveform, sample_rate=SR, phase_deg=90.0).next(10)
    assert shifted[0] == pytest.approx(quarter, abs=1e-6)


def test_lfo_rejects_an_unknown_waveform():
    from magicstomp.emulator.delay_lines import Lfo
    from magicstomp.errors import EmulationError
    with pytest.raises(EmulationError, match="Sine, Triangle, Square"):
        Lfo(1.0, "Sawtooth", sample_rate=SR)


def test_static_filter_matches_scipy(rng):
    from magicstomp.emulator.delay_lines import StaticFilter
    from magicstomp.emulator.dsp import rbj_biquad
    sos = np.array([rbj_biquad("lowshelf", 200.0, SR, gain_db=6.0), rbj_biquad("peaking", 1000.0, SR, q=2.0,
                                                                                 gain_db=-9.0),
                    rbj_biquad("highpass", 80.0, SR)])
    x = rng.standard_normal(5000)
    filt = StaticFilter(sos)
    y = np.concatenate([filt.process(x[:1234]), filt.process(x[1234:])])
    assert np.allclose(y, signal.sosfilt(sos, x), atol=1e-10)
