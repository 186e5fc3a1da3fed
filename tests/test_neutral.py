"""NeutralPatch JSON, mapping onto real types (keys from the table) and the type rule."""

import json

import pytest

from magicstomp.effects import effect_type
from magicstomp.errors import ParameterError, PatchFormatError
from magicstomp.neutral import NeutralPatch, suggest_effect_type, to_patch


def _full():
    return NeutralPatch(amp_gain=0.5, amp_treble=0.7, amp_presence=0.4, booster=True,
                        delay_time_ms=375.0, delay_feedback=0.3, delay_mix=0.25,
                        reverb_decay_s=1.8, reverb_mix=0.2, mod_kind="tremolo", mod_rate_hz=5.0,
                        mod_depth=0.5, mod_mix=1.0, tempo_bpm=120.0, tags=["dotted_8th"],
                        features={"centroid_hz": 1234.5})


def test_json_round_trip():
    n = _full()
    doc = json.loads(n.to_json())
    assert doc["format"] == "magicstomp-neutral-patch"
    assert NeutralPatch.from_dict(doc) == n
    with pytest.raises(PatchFormatError, match="unknown neutral-patch field"):
        NeutralPatch.from_dict({**doc, "wah": 1})


def test_validation():
    with pytest.raises(ParameterError, match=r"delay_mix=1.5 is out of range; expected 0..1"):
        NeutralPatch(delay_mix=1.5)
    with pytest.raises(ParameterError, match="mod_kind='wah' is unknown"):
        NeutralPatch(mod_kind="wah")


def test_mono_delay_mapping_and_unexpressed():
    patch, unexpressed = to_patch(_full(), 0x0D)
    assert patch.effect_type.name == "Mono Delay"
    assert patch.get("delay_time_ms") == pytest.approx(375.0, abs=1)
    assert patch.get("feedback_gain_pct") == 30 and patch.get("mix_pct") == 25
    assert set(unexpressed) == {"amp_gain", "amp_treble", "booster", "reverb",
                                "modulation"}


def test_amp_multi_carries_everything_but_the_booster():
    patch, unexpressed = to_patch(_full(), 0x39)
    assert unexpressed == ["booster"]
    assert patch.get("preamp_gain") == pytest.approx(5.0)
    assert patch.get("treble") == pytest.approx(7.0)
    assert patch.get("feedback_delay_time_ms") == pytest.approx(375.0, abs=1)
    assert patch.get("reverb_time_s") == pytest.approx(1.8, rel=0.1)
    from magicstomp.emulator.mappings import knob_value
    assert knob_value("tremolo_speed", patch.get("tremolo_speed")) == pytest.approx(5.0, rel=0.05)
    # mix 0.25 is under the audible floor: a heard section starts at level 3 (issue 13)
    assert patch.get("delay_level") == pytest.approx(3.0)
    loud = _full()
    loud.delay_mix = 0.6
    assert knob_value("delay_level", to_patch(loud, 0x39)[0].get("delay_level")) == pytest.approx(0.6, abs=0.01)
    assert to_patch(NeutralPatch(), 0x39)[0].get("delay_level") == 0.0      # not heard: off


def test_single_modulation_and_reverb_types():
    chorus = NeutralPatch(mod_kind="chorus", mod_rate_hz=1.2, mod_depth=0.4, mod_mix=0.5)
    patch, unexpressed = to_patch(chorus, 0x12)
    assert patch.get("mod_frequency_hz") == pytest.approx(1.2, abs=0.05) and not unexpressed
    assert patch.get("pm_depth_pct") == 40 and patch.get("mix_pct") == 50
    verb = NeutralPatch(reverb_decay_s=2.5, reverb_mix=0.3)
    patch, unexpressed = to_patch(verb, 0x09)
    assert patch.get("reverb_time_s") == pytest.approx(2.5, rel=0.05) and not unexpressed
    assert patch.get("mix_pct") == 30


def test_every_suggested_type_exists_and_expresses_the_main_fields():
    cases = [
        (NeutralPatch(amp_gain=0.9, mod_kind="flange", mod_rate_hz=0.5), "Distortion Multi (Flange)"),
        (NeutralPatch(amp_gain=0.9), "Distortion Multi (Chorus)"),
        (NeutralPatch(amp_gain=0.9, mod_kind="tremolo", mod_rate_hz=4), "Amp Multi (Tremolo)"),
        (NeutralPatch(amp_gain=0.4, mod_kind="phaser", mod_rate_hz=1), "Amp Multi (Phaser)"),
        (NeutralPatch(delay_time_ms=300, delay_mix=0.3), "Mono Delay"),
        (NeutralPatch(reverb_decay_s=2, reverb_mix=0.3), "Reverb"),
        (NeutralPatch(mod_kind="tremolo", mod_rate_hz=5, mod_depth=0.5), "Tremolo"),
        (NeutralPatch(delay_time_ms=300, delay_mix=0.3, reverb_decay_s=2, reverb_mix=0.3),
         "Amp Multi (Chorus)"),
        (NeutralPatch(), "Amp Simulator"),
    ]
    for neutral, name in cases:
        type_id = suggest_effect_type(neutral)
        assert effect_type(type_id).name == name
        _, unexpressed = to_patch(neutral, type_id)
        assert unexpressed == [], (name, unexpressed)
