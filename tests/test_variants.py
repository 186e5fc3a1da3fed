"""Unit variants: each drawn assumption moves the render by its drawn amount, and nothing else.

A variant holding only one value isolates that assumption, so the measured change
(a peak frequency, an LFO rate, a level) must equal the value drawn.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from magicstomp.emulator import EMULATED_TYPES, UnitVariant, render, to_mono
from magicstomp.emulator.audible import audible_patch
from magicstomp.emulator.mappings import ASSUMPTION_SPREADS, SPREADS_BY_NAME, knob_value
from magicstomp.errors import EmulationError
from magicstomp.patch import Patch
from magicstomp.presets import factory_presets
from signals import SR, dominant_hz, envelope, sine

#: a near-linear Amp Simulator: clean voicing, no drive, gate off, no cabinet
CLEAN_AMP = dict(amplifier_type="Clean 1", speaker_type="Off", gate_threshold=0.0, preamp_gain=0.0,
                 master_volume=10.0)
QUIET_MULTI = dict(amplifier_type="Clean 1", speaker_type="Off", gate_threshold=0.0,
                   preamp_gain=0.0, compressor_ratio=1.0, compressor_gain_db=0.0,
                   delay_level=0.0, reverb_level=0.0, chorus_level=0.0)


def one(name: str, value: float) -> UnitVariant:
    """A unit that differs from the model in ``name`` only."""
    return UnitVariant({name: value})


def rms_db(x) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x))))


@pytest.fixture(scope="module")
def noise():
    return 0.2 * np.random.default_rng(3).standard_normal(SR // 2)


# -- the nominal model ---------------------------------------------------------------------
def _sample_patches():
    emulated = [p.patch() for p in factory_presets() if p.effect_type_id in EMULATED_TYPES]
    return [audible_patch(t) for t in sorted(EMULATED_TYPES)] + emulated[::5]


def test_nominal_variant_renders_bit_identical_to_the_model(noise):
    nominal = UnitVariant.nominal()
    for patch in _sample_patches():
        y = render(patch, noise, SR)
        assert np.array_equal(y, render(patch, noise, SR, variant=None)), patch
        assert np.array_equal(y, render(patch, noise, SR, variant=nominal)), patch


def test_every_spread_moves_some_render(noise):
    """No dead assumption: at the edge of its spread each value changes a render."""
    patches = [audible_patch(t) for t in (0x37, 0x38, 0x39, 0x3A, 0x3B, 0x12, 0x35)]
    patches[0] = patches[0].with_values(bass=8.0, lo_mid=8.0, hi_mid=8.0, treble=8.0, presence=8.0,
                                        master_tone=5.0, gate_threshold=9.0, gate_hold_time_ms=2.0,
                                        feedback_delay_time_ms=100.0)
    x = noise[: SR // 4] * np.geomspace(1.0, 1e-3, SR // 4)      # a fade: the gate closes in it
    nominal = [render(p, x, SR) for p in patches]
    for s in ASSUMPTION_SPREADS:
        v = one(s.name, s.bounds[1])
        assert any(not np.allclose(render(p, x, SR, variant=v), y, rtol=0, atol=1e-9)
                   for p, y in zip(patches, nominal)), s.name


# -- drawing, JSON, bad input ----------------------------------------------------------------
def test_same_seed_same_unit_and_values_within_their_spread():
    a, b, c = UnitVariant.draw(11), UnitVariant.draw(11), UnitVariant.draw(12)
    assert a == b and a.to_dict() == b.to_dict()
    assert a.values != c.values
    for seed in range(30):
        v = UnitVariant.draw(seed)
        assert set(v.values) == {s.name for s in ASSUMPTION_SPREADS}
        for s in ASSUMPTION_SPREADS:
            lo, hi = s.bounds
            assert lo <= v.value(s.name) <= hi, (seed, s.name)
    # the draws use the spread, not a corner of it
    draws = np.array([UnitVariant.draw(s).value("lfo_rate") for s in range(200)])
    assert draws.min() < 0.9 and draws.max() > 1.1 and abs(np.median(draws) - 1.0) < 0.03


def test_json_round_trip_and_loading(tmp_path, noise):
    v = UnitVariant.draw(5)
    assert UnitVariant.from_json(v.to_json()) == v
    path = tmp_path / "unit.json"
    path.write_text(v.to_json())
    assert UnitVariant.load(str(path)) == v
    assert UnitVariant.load("5") == v and UnitVariant.load(5) == v
    assert UnitVariant.load(None) is None and UnitVariant.load("none") is None
    patch = audible_patch(0x37)
    assert np.array_equal(render(patch, noise, SR, variant=UnitVariant.load(str(path))),
                          render(patch, noise, SR, variant=v))
    partial = UnitVariant.from_dict({"values": {"hi_mid_hz": 1.1}})
    assert partial.value("hi_mid_hz") == 1.1 and partial.value("front_level_db") == 0.0
    assert UnitVariant.from_dict({"seed": 5}) == v


@pytest.mark.parametrize("spec, words", [
    ('{"values": {"hi_mid_Hz": 1.1}}', "'hi_mid_Hz' is unknown"),
    ('{"values": {"hi_mid_hz": "high"}}', "not a finite number"),
    ('{"values": {"front_level_db": 9}}', "outside -4 to 4 dB"),
    ('{"values": {"lfo_rate": 0}}', "outside 0.7 to 1.3"),
    ('{"values": [1, 2]}', "must be an object"),
    ('{"seed": -3}', "not a non-negative integer"),
    ('{"colour": "red"}', "colour are unknown"),
    ("{}", "needs 'values' or a 'seed'"),
    ("[1, 2", "not valid JSON"),
])
def test_bad_variant_json_is_one_sentence(tmp_path, spec, words):
    path = tmp_path / "bad.json"
    path.write_text(spec)
    with pytest.raises(EmulationError) as err:
        UnitVariant.load(str(path))
    message = str(err.value)
    assert words in message and "\n" not in message and str(path) in message


def test_a_variant_that_is_neither_seed_nor_file_is_refused():
    with pytest.raises(EmulationError, match="neither a seed .* nor an existing JSON file"):
        UnitVariant.load("seven")


# -- known amounts: frequencies, rates, levels --------------------------------------------------
def _band_peak_hz(variant, key: str) -> float:
    """Peak of |H(knob 10) / H(knob 5)| of the Amp Simulator's ``key`` band, small signal."""
    x = np.zeros(1 << 15)
    x[64] = 1e-4
    spectra = []
    for knob in (10.0, 5.0):
        patch = Patch.init(0x08).with_values(**CLEAN_AMP, **{key: knob})
        spectra.append(np.fft.rfft(render(patch, x, SR, variant=variant)[:, 0]))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    ratio = np.abs(spectra[0] / spectra[1])
    keep = (f > 100) & (f < 8000)
    return float(f[keep][np.argmax(ratio[keep])])


@pytest.mark.parametrize("key, value", [("hi_mid", 1.17), ("lo_mid", 0.84), ("hi_mid", None)])
def test_a_drawn_eq_centre_moves_the_measured_peak_by_its_ratio(key, value):
    variant = one(f"{key}_hz", value) if value else UnitVariant.draw(4)
    ratio = variant.value(f"{key}_hz")
    moved = _band_peak_hz(variant, key) / _band_peak_hz(None, key)
    assert moved == pytest.approx(ratio, rel=0.01)


@pytest.mark.parametrize("rate_ratio", [0.87, 1.12])
def test_a_drawn_lfo_rate_changes_the_measured_rate(rate_ratio):
    speed = 5.0
    rate_hz = knob_value("tremolo_speed", speed)
    x = sine(440.0, 3.0, amp=0.2)
    patch = Patch.init(0x39).with_values(**{k: v for k, v in QUIET_MULTI.items()
                                            if k != "chorus_level"},
                                         tremolo_speed=speed, tremolo_depth=10.0)
    measured = []
    for variant in (None, one("lfo_rate", rate_ratio)):
        env = envelope(render(patch, x, SR, variant=variant)[SR // 10:, 0])
        measured.append(dominant_hz(env, SR / 48))
    assert measured[0] == pytest.approx(rate_hz, rel=0.03)
    assert measured[1] / measured[0] == pytest.approx(rate_ratio, rel=0.02)


@pytest.mark.parametrize("offset_db", [-1.7, 2.0])
def test_a_level_offset_changes_the_amp_level_by_its_db(noise, offset_db):
    patch = Patch.init(0x08).with_values(**CLEAN_AMP)
    y0 = render(patch, noise, SR)
    y1 = render(patch, noise, SR, variant=one("front_level_db", offset_db))
    assert rms_db(y1) - rms_db(y0) == pytest.approx(offset_db, abs=1e-9)


@pytest.mark.parametrize("name, level_key", [("reverb_level_db", "reverb_level"),
                                             ("delay_level_db", "delay_level"),
                                             ("mod_level_db", "chorus_level")])
def test_a_section_level_offset_changes_its_wet_by_its_db(noise, name, level_key):
    base = Patch.init(0x37).with_values(**QUIET_MULTI)
    loud = base.with_values(**{level_key: 6.0})
    wets = []
    for variant in (None, one(name, -1.5)):
        wets.append(render(loud, noise, SR, variant=variant)
                    - render(base, noise, SR, variant=variant))
    assert rms_db(wets[1]) - rms_db(wets[0]) == pytest.approx(-1.5, abs=1e-6)


def test_a_volume_taper_exponent_scales_the_volume_db(noise):
    spread = SPREADS_BY_NAME["volume_taper"]
    patch = Patch.init(0x08).with_values(**CLEAN_AMP)
    half = patch.with_values(master_volume=5.0)
    for power in (spread.bounds[0], 1.0, spread.bounds[1]):
        v = one("volume_taper", power)
        drop_db = (rms_db(render(half, noise, SR, variant=v))
                   - rms_db(render(patch, noise, SR, variant=v)))
        assert drop_db == pytest.approx(power * 40 * np.log10(0.5), abs=1e-6)


def test_a_tone_taper_scales_the_db_per_step(noise):
    patch = Patch.init(0x08).with_values(**CLEAN_AMP)
    x = np.zeros(1 << 14)
    x[64] = 1e-4
    f = np.fft.rfftfreq(x.size, 1 / SR)
    gains = []
    for variant in (None, one("tone_taper", 0.8)):
        h10 = np.fft.rfft(render(patch.with_values(bass=10.0), x, SR, variant=variant)[:, 0])
        h5 = np.fft.rfft(render(patch.with_values(bass=5.0), x, SR, variant=variant)[:, 0])
        gains.append(20 * np.log10(np.abs(h10 / h5))[(f > 20) & (f < 30)].mean())
    assert gains[1] / gains[0] == pytest.approx(0.8, rel=0.01)


# -- the rigs ----------------------------------------------------------------------------------
def test_virtual_rig_plays_the_variant(noise):
    from hil.rig import VirtualRig
    patch = audible_patch(0x3B)
    take = VirtualRig(SR, variant=3).render(patch, noise)
    assert np.array_equal(take, to_mono(render(patch, noise, SR, variant=UnitVariant.draw(3))))
    assert not np.allclose(take, VirtualRig(SR).render(patch, noise))
    assert VirtualRig(SR, variant=3).describe()["variant"]["seed"] == 3
    assert VirtualRig(SR).describe()["variant"] is None


def test_unit_state_and_virtual_unit_take_the_variant(noise):
    from hil.unit_state import UnitState
    from hil.virtual_unit import VirtualUnitProcess
    patch = audible_patch(0x37)
    variant = UnitVariant.draw(8)
    state = UnitState(SR, variant=variant)
    state.load_edit(patch.to_payload())
    assert np.array_equal(state.processor.process(noise), render(patch, noise, SR, variant=variant))
    assert VirtualUnitProcess("u", variant=8).command()[-2:] == ["--variant", "8"]


def test_virtual_unit_refuses_a_bad_variant_in_one_sentence():
    from hil.virtual_unit import main
    result = CliRunner().invoke(main, ["--name", "nobody", "--variant", "seven"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "neither a seed" in lines[0], result.output


def test_variant_json_lists_every_spread_with_its_value():
    data = json.loads(UnitVariant.draw(2).to_json())
    assert data["seed"] == 2 and list(data["values"]) == [s.name for s in ASSUMPTION_SPREADS]
