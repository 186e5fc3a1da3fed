"""The effect-type table: lookups, lossless raw <-> physical conversion, range errors."""

from __future__ import annotations

import pytest

from magicstomp.effects import EFFECT_TYPES, TABLES, effect_type
from magicstomp.errors import ParameterError, UnknownEffectTypeError


def test_there_are_64_types_in_id_order_with_unique_keys():
    assert [t.id for t in EFFECT_TYPES] == list(range(64))
    for t in EFFECT_TYPES:
        assert len(set(t.keys())) == len(t.params)
        offsets = [p.offset for p in t.params]
        assert offsets == sorted(offsets)


def test_parameters_fit_the_effect_block_without_overlapping():
    """Each parameter's bytes lie inside the 127-byte effect block and no two share a byte."""
    for t in EFFECT_TYPES:
        end = 0
        for p in sorted(t.params, key=lambda p: p.offset):
            assert p.offset >= end, (t.name, p.key)
            end = p.offset + p.size
        assert end <= 127, t.name


@pytest.mark.parametrize("ref, name", [
    (0x0D, "Mono Delay"), ("0x37", "Amp Multi (Chorus)"), ("55", "Amp Multi (Chorus)"),
    ("mono delay", "Mono Delay"), ("Amp Multi (Chorus)", "Amp Multi (Chorus)"),
    (63, "Bass Preamp"),
])
def test_effect_type_lookup(ref, name):
    assert effect_type(ref).name == name


@pytest.mark.parametrize("ref", [64, -1, "0x40", "Fuzz Factory", True])
def test_unknown_effect_type_names_the_fix(ref):
    with pytest.raises(UnknownEffectTypeError, match=r"unknown effect type .*expected an id "
                                                     r"0-63 .*magicstomp types"):
        effect_type(ref)


def test_every_raw_value_of_every_parameter_survives_physical_and_back():
    checked = 0
    for t in EFFECT_TYPES:
        for p in t.params:
            for raw in range(p.min_raw, p.max_raw + 1):
                physical = p.to_physical(raw)
                assert p.to_raw(physical) == raw, (t.name, p.key, raw, physical)
                checked += 1
    assert checked > 1_000_000


def test_known_physical_values_from_sysex_md():
    delay = effect_type("Mono Delay").param("delay_time_ms")
    assert delay.to_raw(350.0) == 1750 and delay.to_physical(1750) == 350.0
    assert delay.to_raw(350.09) == 1750            # snapped to the 0.2 ms step
    threshold = effect_type(0x37).param("compressor_threshold_db")
    assert threshold.to_physical(460) == pytest.approx(-8.0)
    hpf = effect_type("Mono Delay").param("hi_pass_frequency_hz")
    assert hpf.to_physical(0) == "Thru" and hpf.to_raw("thru") == 0
    assert TABLES["hpf"].values[0] is None


def test_value_out_of_range_names_the_range_and_unit():
    p = effect_type("Mono Delay").param("delay_time_ms")
    with pytest.raises(ParameterError, match=r"delay_time_ms=3000.0 ms is out of range; "
                                             r"allowed 0.0 to 2730.0 ms"):
        p.to_raw(3000.0)
    with pytest.raises(ParameterError, match=r"delay_time_ms='long' is not a finite number"):
        p.to_raw("long")
    amp = effect_type(0x37).param("amplifier_type")
    with pytest.raises(ParameterError, match=r"amplifier_type='Heavy 9' is not one of the "
                                             r"choices; allowed one of Heavy 1, Heavy 2"):
        amp.to_raw("Heavy 9")


def test_raw_value_out_of_range_and_unknown_key():
    p = effect_type("Mono Delay").param("mix_pct")
    with pytest.raises(ParameterError, match=r"mix_pct: raw value 101 is out of range; "
                                             r"allowed raw 0 to 100"):
        p.check_raw(101)
    with pytest.raises(ParameterError, match=r"Mono Delay has no parameter 'gain'; valid: "
                                             r"delay_time_ms, feedback_gain_pct"):
        effect_type("Mono Delay").param("gain")
