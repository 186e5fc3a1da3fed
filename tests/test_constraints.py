"""ParameterSpace: default knobs, the seed's safety limits and steps, exact field moves."""

import numpy as np
import pytest

from magicstomp.effects import effect_type
from magicstomp.errors import ParameterError
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace, default_keys

AMP_MULTI_CHORUS = 0x37


def test_amp_multi_default_is_the_seeds_eleven_knobs():
    keys = default_keys(AMP_MULTI_CHORUS)
    assert keys == ("preamp_gain", "treble", "presence", "feedback_delay_time_ms",
                    "delay_feedback_pct", "delay_level", "reverb_time_s", "reverb_level",
                    "chorus_speed", "chorus_depth", "chorus_level")
    assert len(set(keys)) == 11


@pytest.mark.parametrize("type_id", [0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E])
def test_multi_defaults_are_distinct_real_fields(type_id):
    t = effect_type(type_id)
    keys = default_keys(type_id)
    assert len(keys) >= 9
    offsets = [t.param(k).offset for k in keys]
    assert len(set(offsets)) == len(offsets), "two knobs share a byte"


def test_delay_time_limited_to_30_1500_ms_and_feedback_to_95_pct():
    space = ParameterSpace(0x0D)   # Mono Delay: time 0-2730 ms, feedback -99..99 %
    base = Patch.init(0x0D)
    low = space.from_unit(base, np.zeros(space.size))
    high = space.from_unit(base, np.ones(space.size))
    assert low.get("delay_time_ms") == pytest.approx(30.0)
    assert high.get("delay_time_ms") == pytest.approx(1500.0)
    assert high.get("feedback_gain_pct") == 95
    assert low.get("feedback_gain_pct") == -95


def test_rate_limited_to_0_1_10_hz():
    space = ParameterSpace(0x0F, ["mod_frequency_hz"])   # 0.05-40 Hz on the unit
    base = Patch.init(0x0F)
    assert space.from_unit(base, [0.0]).get("mod_frequency_hz") == pytest.approx(0.1)
    assert space.from_unit(base, [1.0]).get("mod_frequency_hz") == pytest.approx(10.0)


def test_out_of_limit_start_is_clipped_into_the_limits():
    space = ParameterSpace(0x0D, ["feedback_gain_pct"])
    patch = Patch.init(0x0D).with_values(feedback_gain_pct=99)
    assert space.to_unit(patch)[0] == 1.0
    assert space.clip(patch).get("feedback_gain_pct") == 95


def test_seed_steps_in_physical_units():
    space = ParameterSpace(0x0D)
    base = Patch.init(0x0D)
    u0 = np.full(space.size, 0.5)
    mid = space.from_unit(base, u0)
    for key, expected in (("delay_time_ms", 25.0), ("feedback_gain_pct", 10.0), ("mix_pct", 8.0)):
        i = space.keys.index(key)
        u = u0.copy()
        u[i] += space.steps_unit[i]
        moved = space.from_unit(base, u)
        assert moved.get(key) - mid.get(key) == pytest.approx(expected, abs=1.01)


def test_amp_multi_normalized_steps():
    space = ParameterSpace(AMP_MULTI_CHORUS)
    steps = dict(zip(space.keys, space.steps_unit))
    assert steps["preamp_gain"] == pytest.approx(0.08)
    assert steps["treble"] == pytest.approx(0.10)
    assert steps["presence"] == pytest.approx(0.10)
    assert steps["reverb_level"] == pytest.approx(0.06)
    assert steps["delay_level"] == pytest.approx(0.08)
    # 0.4 s of reverb time where the table moves in 0.1 s steps: 4 raw steps
    d = space.dimensions[space.keys.index("reverb_time_s")]
    assert steps["reverb_time_s"] * d.span_raw == pytest.approx(4.0)


@pytest.mark.parametrize("type_id", [0x37, 0x0D, 0x09, 0x12, 0x2F, 0x36])
def test_each_dimension_moves_exactly_one_field(type_id):
    space = ParameterSpace(type_id)
    base = space.clip(Patch.init(type_id))
    u0 = space.to_unit(base)
    before = base.raw_values()
    for i, key in enumerate(space.keys):
        u = u0.copy()
        u[i] = 1.0 if u0[i] < 0.5 else 0.0
        after = space.from_unit(base, u).raw_values()
        changed = [k for k in before if before[k] != after[k]]
        assert changed == [key]


def test_unit_round_trip_is_exact_on_hardware_steps(rng):
    space = ParameterSpace(AMP_MULTI_CHORUS)
    base = Patch.init(AMP_MULTI_CHORUS)
    for _ in range(20):
        patch = space.from_unit(base, rng.random(space.size))
        assert space.from_unit(base, space.to_unit(patch)) == patch


def test_explicit_keys_are_honoured_in_order_and_short_labels_work():
    space = ParameterSpace(AMP_MULTI_CHORUS, ["treble", "bass"])
    assert space.keys == ("treble", "bass")
    short = effect_type(0x0D).param("mix_pct").short_key
    assert ParameterSpace(0x0D, [short]).keys == ("mix_pct",)


def test_unknown_key_is_named_with_where_to_find_the_valid_ones():
    with pytest.raises(ParameterError) as err:
        ParameterSpace(0x0D, ["delay_time_ms", "warp_factor", "mix_pc"])
    message = str(err.value)
    assert "Mono Delay (0x0D) has no parameter 'warp_factor' or 'mix_pc' (did you mean " \
           "mix_pct" in message
    assert "`magicstomp types 0x0D` lists its parameters" in message
    assert err.value.allowed[:3] == list(effect_type(0x0D).keys())[:3]


def test_empty_selection_is_an_error():
    with pytest.raises(ParameterError, match="no parameters"):
        ParameterSpace(0x0D, [])


def test_wrong_patch_type_is_an_error():
    with pytest.raises(ParameterError, match="Mono Delay"):
        ParameterSpace(0x0D).to_unit(Patch.init(0x09))


def test_describe_names_every_dimension_and_limit():
    text = ParameterSpace(0x0D).describe()
    assert "delay_time_ms: 30.0 to 1500.0 ms (safety limit)" in text
    assert "mix_pct: 0 to 100 %" in text
