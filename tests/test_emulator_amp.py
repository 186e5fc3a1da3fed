"""Amp Simulator (0x08), Distortion (0x2F) and their stages: known answers.

* THD of a 220 Hz sine rises monotonically with preamp gain (every amp and
  distortion type), and falls with the Distortion's pre-EQ level;
* treble, hi-mid, lo-mid, bass, presence and master tone move the energy of
  their band in the documented direction; master volume is a square-law level;
* the eleven amp types, the fourteen distortion types and the sixteen speaker
  simulations are distinct;
* the 2x oversampled clipper aliases far less than the same curve at 1x;
* Distortion "Bypass" with flat EQs is the identity, and its pre/post EQ bands
  hit their set gain at the centre frequency;
* a real DI (CC0 jazz take by freesound user Sub-d, ``audio/di-cc0-jazz``, see
  ``audio/SOURCES.md``) through a high-gain amp and cabinet: finite, at the
  calibrated level, and saturating (12 dB less input moves the output < 6 dB);
* every key the reusable stages read changes their output; missing keys are named;
* odd block sizes at 96 kHz give the one-shot render.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf

from magicstomp.emulator import render
from magicstomp.emulator.amp import AMP_VOICINGS, AmpStage, SpeakerStage
from magicstomp.emulator.distortion import DISTORTION_VOICINGS, DistortionStage
from magicstomp.emulator.ir import SPEAKER_IRS, FirConvolver, cabinet_ir
from magicstomp.emulator.mappings import knob_value
from magicstomp.emulator.shaper import DriveCore
from magicstomp.emulator.shaper import _stage as clip_stage
from magicstomp.errors import EmulationError
from magicstomp.patch import Patch

FS = 44100
AMP = Patch.init(0x08).values()
DIST = Patch.init(0x2F).values()
DRIVEN_DIST_TYPES = [t for t, v in DISTORTION_VOICINGS.items() if v is not None]


def tone(freq_hz=220.0, *, level=0.1, seconds=0.3, sample_rate=FS):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return level * np.sin(2 * np.pi * freq_hz * t)


def thd(y, *, f0=220.0, sample_rate=FS):
    """Total harmonic distortion (amplitude ratio) of a steady tone at ``f0``."""
    y = y[y.size // 3:]
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    freqs = np.fft.rfftfreq(y.size, 1 / sample_rate)
    peaks = [spectrum[np.abs(freqs - k * f0) < 8].max() for k in range(1, 40)
             if k * f0 < sample_rate / 2 - 500]
    return np.sqrt(np.sum(np.square(peaks[1:]))) / peaks[0]


def band_db(y, lo_hz, hi_hz, *, sample_rate=FS):
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sample_rate)
    return 10 * np.log10(spectrum[(freqs >= lo_hz) & (freqs < hi_hz)].sum())


def third_octaves_db(y, *, sample_rate=FS):
    edges = 50.0 * 2 ** (np.arange(0, 27) / 3)
    return np.array([band_db(y, lo, hi, sample_rate=sample_rate)
                     for lo, hi in zip(edges[:-1], edges[1:])])


@pytest.mark.parametrize("amp_type", list(AMP_VOICINGS))
def test_amp_thd_rises_monotonically_with_gain(amp_type):
    x = tone()
    values = [thd(AmpStage({**AMP, "amplifier_type": amp_type, "preamp_gain": g}, FS).process(x))
              for g in np.arange(0.0, 10.5, 1.0)]
    assert np.all(np.diff(values) > 0), np.round(values, 4)
    assert values[-1] > 0.1                       # full gain is clearly distorted


@pytest.mark.parametrize("dist_type", DRIVEN_DIST_TYPES)
def test_distortion_thd_rises_with_gain_and_pre_eq_level(dist_type):
    x = tone()
    by_gain = [thd(DistortionStage({**DIST, "distortion_type": dist_type, "preamp_gain": g}, FS)
                   .process(x)) for g in np.arange(0.0, 10.5, 2.0)]
    assert np.all(np.diff(by_gain) > 0), np.round(by_gain, 4)
    by_level = [thd(DistortionStage({**DIST, "distortion_type": dist_type, "preamp_gain": 2.0,
                                     "pre_eq_level": lv}, FS).process(x))
                for lv in (2.0, 5.0, 10.0)]
    assert np.all(np.diff(by_level) > 0), np.round(by_level, 4)


# knob -> (band edges in Hz from the voicing's frequency)
TONE_BANDS = {
    "bass": lambda v: (40.0, v.bass_hz),
    "lo_mid": lambda v: (v.lo_mid_hz / 1.3, v.lo_mid_hz * 1.3),
    "hi_mid": lambda v: (v.hi_mid_hz / 1.3, v.hi_mid_hz * 1.3),
    "treble": lambda v: (v.treble_hz * 1.2, min(v.post_lp_hz, 12000.0)),
    "presence": lambda v: (v.presence_hz * 1.2, min(v.post_lp_hz, 12000.0)),
    "master_tone": lambda v: (2500.0, min(v.post_lp_hz, 12000.0)),
}


@pytest.mark.parametrize("amp_type", list(AMP_VOICINGS))
@pytest.mark.parametrize("knob", list(TONE_BANDS))
def test_tone_knobs_move_their_band_the_documented_way(amp_type, knob, rng):
    x = rng.standard_normal(FS // 4) * 0.05
    v = AMP_VOICINGS[amp_type]
    lo_hz, hi_hz = TONE_BANDS[knob](v)
    params = {**AMP, "amplifier_type": amp_type, "preamp_gain": 4.0, "master_tone": 5.0}
    levels = [band_db(AmpStage({**params, knob: k}, FS).process(x), lo_hz, hi_hz)
              for k in (0.0, 5.0, 10.0)]
    assert levels[0] < levels[1] - 2.0 < levels[2] - 4.0, np.round(levels, 1)


def test_master_volume_is_a_square_law_level(rng):
    x = rng.standard_normal(FS // 4) * 0.1
    out = {m: AmpStage({**AMP, "master_volume": m}, FS).process(x) for m in (0.0, 5.0, 10.0)}
    assert np.all(out[0.0] == 0.0)
    np.testing.assert_allclose(out[5.0], out[10.0] * knob_value("master_volume", 5.0), rtol=1e-12)
    assert knob_value("master_volume", 5.0) == pytest.approx(10 ** (-12.04 / 20), rel=1e-3)


def _distinct_pairs(outputs, min_db):
    spectra = {k: third_octaves_db(y) for k, y in outputs.items()}
    close = [(a, b) for a, b in itertools.combinations(spectra, 2)
             if np.max(np.abs(spectra[a] - spectra[b])) < min_db]
    return close


def test_amp_types_are_distinct(data_dir):
    di, rate = sf.read(data_dir / "audio/di-cc0-jazz/jazz.flac")
    x = di[:3 * rate]
    outputs = {t: AmpStage({**AMP, "amplifier_type": t, "preamp_gain": 5.0}, rate).process(x)
               for t in AMP_VOICINGS}
    assert not _distinct_pairs(outputs, 3.0)


def test_distortion_types_are_distinct():
    x = tone(level=0.2) + tone(330.0, level=0.1)
    outputs = {t: DistortionStage({**DIST, "distortion_type": t, "preamp_gain": 5.0}, FS).process(x)
               for t in DRIVEN_DIST_TYPES}
    assert not _distinct_pairs(outputs, 3.0)


def test_speaker_simulations_are_distinct_cabinets(rng):
    x = rng.standard_normal(FS) * 0.1
    outputs = {s: SpeakerStage({"speaker_type": s}, FS).process(x) for s in SPEAKER_IRS}
    assert not _distinct_pairs(outputs, 3.0)
    np.testing.assert_array_equal(SpeakerStage({"speaker_type": "Off"}, FS).process(x), x)


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
def test_cabinet_irs_are_short_and_stream_exactly(sample_rate, rng):
    h = cabinet_ir("British 4x12", sample_rate)
    assert len(h) == round(0.030 * sample_rate)
    x = rng.standard_normal(10000)
    conv = FirConvolver(h)
    blocks = np.concatenate([conv.process(b) for b in np.array_split(x, 77)])
    np.testing.assert_allclose(blocks, np.convolve(x, h)[:x.size], atol=1e-10)


def test_oversampling_cuts_aliasing_of_a_hard_clipper():
    f0 = 3001.0
    x = 8.0 * tone(f0, level=1.0, seconds=0.5)
    stage1 = (0.0, 1.0, 1.0)
    y_os = DriveCore(FS, stage1=stage1).process(x)
    y_1x = np.array([clip_stage(v, *stage1) for v in x])

    def alias_db(y):
        y = y[2000:]
        spectrum = np.abs(np.fft.rfft(y * np.blackman(y.size)))
        freqs = np.fft.rfftfreq(y.size, 1 / FS)
        harmonic = np.zeros(freqs.size, bool)
        for k in range(0, 8):                   # DC and the harmonics below Nyquist
            harmonic |= np.abs(freqs - k * f0) < 20
        audible = freqs < 16000
        return 20 * np.log10(spectrum[~harmonic & audible].max() / spectrum.max())
    assert alias_db(y_os) < alias_db(y_1x) - 20.0       # measured: -51 vs -25 dB


def test_distortion_bypass_is_identity_with_flat_eqs(rng):
    x = rng.standard_normal(4096) * 0.3
    params = {**DIST, "distortion_type": "Bypass", "master_volume": 10.0, "master_tone": 10.0}
    np.testing.assert_array_equal(DistortionStage(params, FS).process(x), x)


@pytest.mark.parametrize("stage,band,freq_hz,gain_db", [
    ("pre", 1, 200.0, 9.0), ("pre", 3, 4000.0, -8.0), ("post", 2, 800.0, -10.0),
    ("post", 4, 8000.0, 6.0)])
def test_distortion_eq_bands_hit_their_gain_at_the_centre(stage, band, freq_hz, gain_db):
    patch = Patch.init(0x2F).with_values(**{
        "distortion_type": "Bypass", "master_volume": 10.0, "master_tone": 10.0,
        f"{stage}_frequency_{band}_hz": freq_hz, f"{stage}_gain_{band}_db": gain_db,
        f"{stage}_bandwidth_{band}_q": 2.0})
    f0 = patch.get(f"{stage}_frequency_{band}_hz")
    x = tone(f0, level=0.1, seconds=0.4)
    y = render(patch, x, FS)[:, 0]
    measured = 20 * np.log10(np.std(y[x.size // 2:]) / np.std(x[x.size // 2:]))
    assert measured == pytest.approx(patch.get(f"{stage}_gain_{band}_db"), abs=1.0)


def test_real_di_through_high_gain_amp_and_cabinet(data_dir):
    di, rate = sf.read(data_dir / "audio/di-cc0-jazz/jazz.flac")
    x = di[:4 * rate]
    patch = Patch.init(0x08).with_values(amplifier_type="Heavy 1", speaker_type="British 4x12",
                                         preamp_gain=5.0, master_volume=10.0)
    clean = patch.with_values(amplifier_type="Clean 2", preamp_gain=0.0)

    def level_db(p, scale):
        y = render(p, scale * x, rate)[:, 0]
        assert np.all(np.isfinite(y))
        return 20 * np.log10(np.sqrt(np.mean(y ** 2)))
    assert -15.0 < level_db(patch, 1.0) < -13.0      # calibrated: -14 dBFS at gain 5, master 10
    # saturation: 12 dB less DI moves the high-gain output far less; the clean amp follows
    assert level_db(patch, 1.0) - level_db(patch, 0.25) < 6.0
    assert level_db(clean, 1.0) - level_db(clean, 0.25) == pytest.approx(12.04, abs=0.5)


def test_unknown_amp_type_is_refused():
    with pytest.raises(EmulationError, match="amplifier_type='Heavy 9' is not an amp type"):
        AmpStage({**AMP, "amplifier_type": "Heavy 9"}, FS)


STAGE_KEYS = {   # stage -> (type whose table gives the ranges, keys the stage reads)
    "amp": (0x37, ("amplifier_type", "preamp_gain", "master_volume", "master_tone", "treble",
                   "hi_mid", "lo_mid", "bass", "presence")),
    "distortion": (0x3B, ("distortion_type", "pre_eq_level", "preamp_gain", "master_volume",
                          "master_tone", *(f"pre_{k}_{i}_{u}" for i in (1, 2, 3)
                                           for k, u in (("frequency", "hz"), ("gain", "db"),
                                                        ("bandwidth", "q"))),
                          *(f"post_{k}_{i}_{u}" for i in (1, 2, 3, 4)
                            for k, u in (("frequency", "hz"), ("gain", "db"), ("bandwidth", "q"))))),
    "speaker": (0x37, ("speaker_type",)),
}


def _stage(kind, params):
    cls = {"amp": AmpStage, "distortion": DistortionStage, "speaker": SpeakerStage}[kind]
    return cls(params, FS)


@pytest.mark.parametrize("kind", list(STAGE_KEYS))
def test_every_key_a_reusable_stage_reads_changes_its_output(kind, rng):
    """The multis compose these stages: each shared key must act (EQ gains raised to +6 dB)."""
    type_id, keys = STAGE_KEYS[kind]
    base = Patch.init(type_id)
    for key in keys:
        if "_gain_" in key and key.endswith("_db"):
            base = base.with_values(**{key: 6.0})
    x = tone(level=0.1) + 0.02 * rng.standard_normal(tone().size)
    silent = []
    for key in keys:
        param = base.effect_type.param(key)
        raws = (range(param.min_raw, param.max_raw + 1) if param.kind == "enum"
                else (param.min_raw, (param.min_raw + param.max_raw) // 2, param.max_raw))
        outs = [_stage(kind, base.copy().set_raw(key, r).values()).process(x) for r in raws]
        if max(np.max(np.abs(o - outs[0])) for o in outs[1:]) < 1e-7:
            silent.append(key)
    assert not silent, f"{kind} stage ignores {silent}"


def test_a_stage_given_the_wrong_type_values_names_what_is_missing():
    with pytest.raises(EmulationError, match="DistortionStage needs the parameter.*pre_eq_level"):
        DistortionStage(AMP, FS)


@pytest.mark.parametrize("type_id,values", [
    (0x08, dict(amplifier_type="Lead 2", speaker_type="Hybrid 2x12", gate_threshold=3.0)),
    (0x2F, dict(distortion_type="Fuzz 1", pre_gain_2_db=6.0, post_gain_3_db=-4.0,
                gate_threshold=3.0))])
def test_odd_block_sizes_at_96k_equal_the_one_shot_render(type_id, values, rng):
    from magicstomp.emulator import StreamProcessor
    rate = 96000
    x = tone(196.0, level=0.3, seconds=0.3, sample_rate=rate) * np.exp(-np.arange(28800) / 9600)
    x += 1e-4 * rng.standard_normal(x.size)
    patch = Patch.init(type_id).with_values(**values)
    offline = render(patch, x, rate)
    stream = StreamProcessor(patch, rate)
    cuts = np.cumsum([1, 7, 333, 4096, 64, 1000])
    pieces = np.split(x, cuts[cuts < x.size])
    np.testing.assert_allclose(np.concatenate([stream.process(p) for p in pieces]), offline,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("amp_type", ["Heavy 1", "Crunch 1", "Clean 1"])
def test_amp_voicing_does_not_depend_on_the_sample_rate(amp_type):
    params = {**AMP, "amplifier_type": amp_type, "preamp_gain": 6.0}
    thd_by_rate = {rate: thd(AmpStage(params, rate).process(tone(sample_rate=rate)),
                             sample_rate=rate) for rate in (44100, 48000, 96000)}
    assert max(thd_by_rate.values()) < 1.15 * min(thd_by_rate.values()), thd_by_rate
