"""Known-answer tests of the reverbs: Reverb (0x09), Spring Reverb (0x34), ReverbStage.

Reverb times are measured the textbook way: Schroeder backward integration of
the impulse response's energy, a line fitted from -5 to -25 dB (T20) and
extrapolated to -60 dB; band-wise decays use 4th-order Butterworth bands.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from magicstomp.emulator import render, to_mono
from magicstomp.emulator.reverb import ReverbStage
from magicstomp.errors import EmulationError
from magicstomp.patch import Patch
from tests.signals import band, rt60_s

FS = 44100




def impulse(n):
    x = np.zeros(n)
    x[0] = 1.0
    return x


def reverb_patch(**values):
    """Reverb with only the tail, flat decay, no filters and 100 % wet, then ``values``."""
    base = dict(mix_pct=100, er_rev_balance_pct=0, hi_freq_ratio=1.0, lo_freq_ratio=1.0,
                lo_pass_frequency_hz="Thru", hi_pass_frequency_hz="Thru",
                initial_delay_ms=0.0, er_rev_delay_ms=0.0, gate_level_db="Off")
    base.update(values)
    return Patch.init(0x09).with_values(**base)


def reverb_ir(duration_s, sample_rate=FS, **values):
    return render(reverb_patch(**values), impulse(int(duration_s * sample_rate)), sample_rate)


@pytest.mark.parametrize("time_s", [0.5, 1.0, 2.0, 3.2, 5.0, 10.0])
def test_reverb_time_gives_the_measured_rt60(time_s):
    ir = to_mono(reverb_ir(max(1.0, 0.6 * time_s), reverb_time_s=time_s))
    assert rt60_s(ir, FS) == pytest.approx(time_s, rel=0.25)


@pytest.mark.parametrize("sample_rate", [48000, 96000])
def test_reverb_time_holds_at_other_sample_rates(sample_rate):
    ir = to_mono(reverb_ir(1.5, sample_rate, reverb_time_s=2.0))
    assert rt60_s(ir, sample_rate) == pytest.approx(2.0, rel=0.25)


def test_hf_ratio_shortens_only_the_high_decay():
    flat = to_mono(reverb_ir(2.0, reverb_time_s=2.0, hi_freq_ratio=1.0))
    dark = to_mono(reverb_ir(2.0, reverb_time_s=2.0, hi_freq_ratio=0.3))
    high_flat, high_dark = (rt60_s(band(ir, 5000, 10000, FS), FS) for ir in (flat, dark))
    assert high_flat == pytest.approx(2.0, rel=0.1)
    assert high_dark == pytest.approx(0.3 * 2.0, rel=0.35)
    assert rt60_s(band(dark, 300, 600, FS), FS) == pytest.approx(2.0, rel=0.1)


def test_lf_ratio_sets_the_low_decay():
    long_low = to_mono(reverb_ir(3.0, reverb_time_s=2.0, lo_freq_ratio=2.0))
    short_low = to_mono(reverb_ir(2.0, reverb_time_s=2.0, lo_freq_ratio=0.3))
    assert rt60_s(band(long_low, 60, 120, FS), FS) == pytest.approx(4.0, rel=0.25)
    assert rt60_s(band(short_low, 60, 120, FS), FS) == pytest.approx(0.6, rel=0.35)
    for ir in (long_low, short_low):
        assert rt60_s(band(ir, 2000, 4000, FS), FS) == pytest.approx(2.0, rel=0.1)


def test_initial_delay_shifts_the_whole_response_exactly():
    shift = int(0.1 * FS)
    early = reverb_ir(0.5, initial_delay_ms=0.0, er_rev_balance_pct=50)
    late = reverb_ir(0.5, initial_delay_ms=100.0, er_rev_balance_pct=50)
    assert np.abs(late[:shift]).max() < 1e-20      # only the -500 dB anti-denormal offset
    np.testing.assert_allclose(late[shift:], early[:-shift], atol=1e-12)


def test_er_rev_delay_shifts_only_the_tail():
    shift = int(0.05 * FS)
    tail0 = reverb_ir(0.3, er_rev_delay_ms=0.0)
    tail50 = reverb_ir(0.3, er_rev_delay_ms=50.0)
    np.testing.assert_allclose(tail50[shift:], tail0[:-shift], atol=1e-12)
    er0 = reverb_ir(0.3, er_rev_delay_ms=0.0, er_rev_balance_pct=100)
    er50 = reverb_ir(0.3, er_rev_delay_ms=50.0, er_rev_balance_pct=100)
    np.testing.assert_array_equal(er0, er50)


def test_er_balance_selects_reflections_or_tail():
    er_only = to_mono(reverb_ir(0.5, er_rev_balance_pct=100, reverb_type="Hall"))
    assert np.abs(er_only[int(0.1 * FS):]).max() < 1e-12      # Hall reflections end by 80 ms
    tail_only = to_mono(reverb_ir(0.5, er_rev_balance_pct=0, er_rev_delay_ms=60.0))
    assert np.abs(tail_only[:int(0.06 * FS)]).max() < 1e-12   # nothing before the tail starts
    both = to_mono(reverb_ir(0.5, er_rev_balance_pct=50, er_rev_delay_ms=60.0))
    assert np.abs(both[:int(0.06 * FS)]).max() > 0.01 and np.abs(both[int(0.1 * FS):]).max() > 1e-3


@pytest.mark.parametrize("density_pct,taps", [(0, 2), (50, 9), (100, 16)])
def test_density_sets_the_number_of_reflections(density_pct, taps):
    er = to_mono(reverb_ir(0.2, er_rev_balance_pct=100, reflection_density_pct=density_pct))
    assert np.count_nonzero(np.abs(er) > 1e-9) == taps


def test_reverb_types_have_distinct_reflection_spans():
    last_ms = {}
    for kind in ("Hall", "Stage", "Room", "Plate"):
        er = to_mono(reverb_ir(0.2, er_rev_balance_pct=100, reverb_type=kind))
        last_ms[kind] = 1000 * np.flatnonzero(np.abs(er) > 1e-9)[-1] / FS
    assert last_ms["Plate"] < 12.5 < last_ms["Room"] < 35.5 < last_ms["Stage"] < last_ms["Hall"]
    halls, rooms = (to_mono(reverb_ir(0.5, reverb_type=k)) for k in ("Hall", "Room"))
    onset = [np.argmax(np.abs(ir) > 1e-4) for ir in (halls, rooms)]
    assert onset[1] < onset[0]                   # a smaller network answers sooner


def test_diffusion_sets_the_stereo_spread():
    narrow = reverb_ir(0.5, stereo_diffusion=0)
    wide = reverb_ir(0.5, stereo_diffusion=10)
    np.testing.assert_allclose(narrow[:, 0], narrow[:, 1], atol=1e-12)
    assert abs(np.corrcoef(wide[:, 0], wide[:, 1])[0, 1]) < 0.5


@pytest.mark.parametrize("kind,cut_hz,keep,drop", [
    ("lo_pass_frequency_hz", 1000.0, (200, 600), (4000, 8000)),
    ("hi_pass_frequency_hz", 1000.0, (3000, 6000), (60, 200)),
])
def test_reverb_filters_cut_their_band(kind, cut_hz, keep, drop, rng):
    x = rng.standard_normal(FS // 2)
    open_ = to_mono(render(reverb_patch(), x, FS))
    cut = to_mono(render(reverb_patch(**{kind: cut_hz}), x, FS))
    energy = lambda y, b: float(np.mean(band(y, *b, FS) ** 2))  # noqa: E731
    assert 10 * np.log10(energy(cut, drop) / energy(open_, drop)) < -15
    assert 10 * np.log10(energy(cut, keep) / energy(open_, keep)) > -3


def test_gate_cuts_the_tail_after_hold_and_decay(rng):
    burst_n = int(0.2 * FS)
    x = np.zeros(FS)
    x[:burst_n] = 0.5 * rng.standard_normal(burst_n)
    values = dict(reverb_time_s=5.0, gate_attack_ms=0, gate_hold_time_ms=100.0,
                  gate_decay_time_ms=20.0)
    open_ = to_mono(render(reverb_patch(**values), x, FS))
    gated = to_mono(render(reverb_patch(gate_level_db=-40, **values), x, FS))
    closed_from = burst_n + int(0.2 * FS)   # detector release (~50 ms to -40 dB) + hold + decay
    assert np.abs(gated[closed_from:]).max() == 0.0
    assert np.abs(open_[closed_from:]).max() > 0.05
    np.testing.assert_allclose(gated[:burst_n], open_[:burst_n], atol=1e-12)


def test_gate_attack_fades_the_wet_signal_in(rng):
    x = 0.5 * rng.standard_normal(FS // 2)
    fast = to_mono(render(reverb_patch(gate_level_db=-40, gate_attack_ms=0), x, FS))
    slow = to_mono(render(reverb_patch(gate_level_db=-40, gate_attack_ms=120), x, FS))
    first = slice(0, int(0.06 * FS))
    assert np.sum(slow[first] ** 2) < 0.5 * np.sum(fast[first] ** 2)
    np.testing.assert_allclose(slow[int(0.13 * FS):], fast[int(0.13 * FS):], atol=1e-12)


def test_mix_crossfades_dry_and_wet(rng):
    x = rng.standard_normal(FS // 4)
    dry = render(reverb_patch(mix_pct=0), x, FS)
    wet = render(reverb_patch(mix_pct=100, initial_delay_ms=20.0), x, FS)
    half = render(reverb_patch(mix_pct=50, initial_delay_ms=20.0), x, FS)
    np.testing.assert_array_equal(dry, np.stack([x, x], axis=1))
    assert np.abs(wet[:int(0.02 * FS)]).max() < 1e-20
    np.testing.assert_allclose(half, 0.5 * dry + 0.5 * wet, atol=1e-12)


def test_long_reverb_times_stay_bounded(rng):
    x = 0.5 * rng.standard_normal(FS)
    y = render(reverb_patch(reverb_time_s=99.0, lo_freq_ratio=2.4), x, FS)
    assert np.all(np.isfinite(y)) and np.abs(y).max() < 20.0


def test_spring_is_a_band_limited_chirping_tank():
    x = impulse(3 * FS)
    y = render(Patch.init(0x34).with_values(reverb_level=10), x, FS)
    wet = to_mono(y) - x
    assert 1.5 < rt60_s(wet, FS) < 3.5
    f, psd = signal.welch(wet, FS, nperseg=4096)
    level_db = lambda lo, hi: 10 * np.log10(psd[(f >= lo) & (f < hi)].mean())  # noqa: E731
    assert level_db(8000, 16000) < level_db(500, 3000) - 15
    first = wet[:int(0.06 * FS)]                  # the first echo, smeared by dispersion
    centroid_ms = [1000 * np.average(np.arange(first.size) / FS,
                                     weights=band(first, lo, hi, FS) ** 2)
                   for lo, hi in ((1000, 2000), (3000, 4000))]
    assert centroid_ms[1] - centroid_ms[0] > 4.0  # highs arrive later: the chirp


def test_spring_level_scales_the_wet_linearly_and_zero_is_dry(rng):
    x = rng.standard_normal(FS // 4)
    wet = {lvl: render(Patch.init(0x34).with_values(reverb_level=lvl), x, FS) - x[:, None]
           for lvl in (0.0, 5.0, 10.0)}
    assert np.all(wet[0.0] == 0.0)
    np.testing.assert_allclose(wet[10.0], 2.0 * wet[5.0], atol=1e-12)


STAGE = dict(reverb_time_s=2.0, reverb_hf_ratio=1.0, reverb_diffusion=5,
             reverb_density_pct=90, reverb_level=10.0, reverb_ini_delay_ms=0.0)


def test_reverb_stage_honours_time_level_and_initial_delay():
    x = impulse(FS)
    full = ReverbStage(STAGE, FS).process(x)
    assert full.shape == (FS, 2)
    assert rt60_s(to_mono(full), FS) == pytest.approx(2.0, rel=0.25)
    quarter = ReverbStage(dict(STAGE, reverb_level=2.5), FS).process(x)
    np.testing.assert_allclose(quarter, 0.25 * full, atol=1e-12)
    assert np.all(ReverbStage(dict(STAGE, reverb_level=0.0), FS).process(x) == 0.0)
    shift = int(0.2 * FS)
    delayed = ReverbStage(dict(STAGE, reverb_ini_delay_ms=200.0), FS).process(x)
    np.testing.assert_allclose(delayed[shift:], full[:-shift], atol=1e-12)


def test_reverb_stage_hf_ratio_and_prefix():
    x = impulse(2 * FS)
    params = {k.replace("reverb_", "rev_"): v for k, v in STAGE.items()}
    dark = to_mono(ReverbStage(dict(params, rev_hf_ratio=0.2), FS, prefix="rev_").process(x))
    assert rt60_s(band(dark, 5000, 10000, FS), FS) < 0.6 * rt60_s(band(dark, 300, 600, FS), FS)
    with pytest.raises(KeyError):
        ReverbStage(params, FS)


def test_reverb_core_rejects_an_unknown_type():
    from magicstomp.emulator.reverb import ReverbCore
    with pytest.raises(EmulationError, match="reverb type 'Cave' is not emulated"):
        ReverbCore(FS, time_s=1.0, reverb_type="Cave")


def test_wet_level_follows_the_documented_energy(rng):
    """Tail energy 0.3 sqrt(T / 2 s) of a unit-energy input; balance, spread, type and
    density change the character, not the level."""
    x = rng.standard_normal(2 * FS)

    def wet_db(**values):
        y = render(reverb_patch(**dict(dict(stereo_diffusion=10), **values)), x, FS)[FS // 2:]
        return 10 * np.log10(np.mean(y ** 2) / np.mean(x ** 2))

    assert wet_db(reverb_time_s=2.0) == pytest.approx(10 * np.log10(0.3), abs=1.5)
    assert wet_db(reverb_time_s=8.0) - wet_db(reverb_time_s=2.0) == pytest.approx(3.0, abs=1.0)
    for changed in (dict(er_rev_balance_pct=50), dict(er_rev_balance_pct=100),
                    dict(stereo_diffusion=0), dict(reverb_type="Plate"),
                    dict(reflection_density_pct=0)):
        assert wet_db(reverb_time_s=2.0, **changed) == pytest.approx(
            wet_db(reverb_time_s=2.0), abs=1.5), changed


@pytest.mark.parametrize("patch", [
    reverb_patch(gate_level_db=-30, gate_hold_time_ms=20.0, gate_decay_time_ms=30.0,
                 er_rev_balance_pct=40, hi_pass_frequency_hz=100.0, lo_pass_frequency_hz=5000.0),
    Patch.init(0x34).with_values(reverb_level=6.0),
], ids=["gated-reverb", "spring"])
def test_odd_block_sizes_give_the_offline_samples(patch, rng):
    from magicstomp.emulator import StreamProcessor
    x = rng.standard_normal(FS // 4) * np.linspace(1, 0, FS // 4) ** 3
    offline = render(patch, x, FS)
    stream = StreamProcessor(patch, FS)
    cuts = np.cumsum([1, 37, 500, 3, 2048, 1])
    streamed = np.concatenate([stream.process(part) for part in np.split(x, cuts)])
    np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-12)


def test_reverb_stage_blocks_equal_one_shot(rng):
    x = rng.standard_normal(FS // 4)
    one_shot = ReverbStage(STAGE, FS).process(x)
    stage = ReverbStage(STAGE, FS)
    blocks = np.concatenate([stage.process(part) for part in np.array_split(x, 17)])
    np.testing.assert_allclose(blocks, one_shot, rtol=0, atol=1e-12)
    stage.reset()
    np.testing.assert_allclose(stage.process(x), one_shot, rtol=0, atol=1e-12)


@pytest.mark.parametrize("key,short_ms,long_ms", [
    ("gate_hold_time_ms", 52.2, 255.0), ("gate_decay_time_ms", 6.0, 215.0)])
def test_gate_hold_and_decay_delay_the_close_by_their_difference(key, short_ms, long_ms, rng):
    burst_n = int(0.1 * FS)
    x = np.zeros(FS)
    x[:burst_n] = 0.5 * rng.standard_normal(burst_n)
    base = dict(reverb_time_s=10.0, gate_level_db=-40, gate_attack_ms=0,
                gate_hold_time_ms=52.2, gate_decay_time_ms=6.0)
    closed_at = []
    for value in (short_ms, long_ms):
        y = to_mono(render(reverb_patch(**dict(base, **{key: value})), x, FS))
        closed_at.append(np.flatnonzero(y)[-1] + 1)
    assert (closed_at[1] - closed_at[0]) / FS * 1000 == pytest.approx(long_ms - short_ms, abs=0.1)


def test_tail_of_a_real_di_decays_at_the_set_time(data_dir):
    import soundfile as sf
    di, rate = sf.read(data_dir / "audio/di-cc0-jazz/jazz.flac", dtype="float64")
    assert rate == FS
    x = np.concatenate([di[:3 * FS], np.zeros(3 * FS)])     # (CC0, freesound user Sub-d)
    for time_s in (1.0, 2.0):
        wet = to_mono(render(reverb_patch(reverb_time_s=time_s, hi_freq_ratio=0.6,
                                          er_rev_balance_pct=30), x, FS))
        tail = wet[3 * FS:]
        assert rt60_s(tail, FS) == pytest.approx(time_s, rel=0.25)


def test_density_keeps_the_reflection_span():
    spans_ms = []
    for density_pct in (0, 100):
        er = to_mono(reverb_ir(0.2, er_rev_balance_pct=100, reflection_density_pct=density_pct))
        hits = np.flatnonzero(np.abs(er) > 1e-9)
        spans_ms.append(1000 * (hits[-1] - hits[0]) / FS)
    assert spans_ms[0] == pytest.approx(spans_ms[1], abs=0.05) and spans_ms[1] > 40.0


def echo_density(ir, start_s, stop_s, window_s=0.02):
    """Mean normalized echo density (Abel & Huang 2006) over [start_s, stop_s):
    the share of samples beyond one standard deviation in each window, over the
    Gaussian share (0.3173); 1 = as dense as noise."""
    win = int(window_s * FS)
    starts = range(int(start_s * FS), int(stop_s * FS) - win, win // 2)
    return float(np.mean([np.mean(np.abs(ir[s:s + win]) > np.std(ir[s:s + win])) / 0.3173
                          for s in starts]))


def test_echo_density_builds_faster_for_denser_settings_and_smaller_types():
    def ned(**values):
        return echo_density(reverb_ir(0.3, **values)[:, 0], 0.02, 0.12)

    assert ned(reflection_density_pct=100) > ned(reflection_density_pct=0) + 0.1
    assert ned(stereo_diffusion=10) > ned(stereo_diffusion=0) + 0.1
    assert ned(reverb_type="Plate") > ned(reverb_type="Room") > ned(reverb_type="Hall") + 0.1
    late = reverb_ir(1.0, reverb_time_s=3.0)[:, 0]
    assert echo_density(late, 0.5, 0.9) == pytest.approx(1.0, abs=0.15)   # a noise-like tail


def test_max_reflections_caps_the_pattern():
    from magicstomp.emulator.reverb import STAGE_MAX_REFLECTIONS, ReverbCore
    core = ReverbCore(FS, time_s=1.0, er_balance_pct=100, max_reflections=STAGE_MAX_REFLECTIONS)
    er = to_mono(core.process(impulse(FS // 5)))
    assert np.count_nonzero(np.abs(er) > 1e-9) == STAGE_MAX_REFLECTIONS == 8


def test_long_silence_leaves_no_subnormal_state(rng):
    """After 7.2 s of silence an unflushed 10 ms detector would sit at ~1e-313."""
    from magicstomp.emulator import StreamProcessor
    tiny = np.finfo(float).tiny
    for patch in (reverb_patch(gate_level_db=-40, reverb_time_s=0.3),
                  Patch.init(0x34).with_values(reverb_level=10)):
        stream = StreamProcessor(patch, FS)
        stream.process(rng.standard_normal(FS // 10))
        stream.process(np.zeros(int(7.2 * FS)))   # the gate detector (10 ms) at ~e^-720
        impl = stream._impl
        arrays = [v for obj in (impl, getattr(impl, "_core", None)) if obj is not None
                  for v in vars(obj).values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
        assert arrays and all(np.count_nonzero((a != 0) & (np.abs(a) < tiny)) == 0 for a in arrays)
