"""Parameter roles as data (magicstomp/data/param_roles.json): complete, known answers, in sync.

The search, the screening, the residual EQ and the emulator helpers read
``Param.role`` and ``Param.section`` instead of guessing from key names.
"""

from __future__ import annotations

import importlib.util
import json
from importlib import resources

import pytest

from magicstomp.effects import EFFECT_TYPES, effect_type
from magicstomp.emulator.audible import audible_patch
from magicstomp.patch import Patch
from optimize.residual_eq import eq_keys

DOC = json.loads(resources.files("magicstomp").joinpath("data/param_roles.json")
                 .read_text(encoding="utf-8"))
ROLES, SECTIONS = set(DOC["_meta"]["roles"]), set(DOC["_meta"]["sections"])


def test_every_parameter_of_every_type_has_a_known_role_and_section():
    assert len(EFFECT_TYPES) == 64
    count = 0
    for t in EFFECT_TYPES:
        assert set(DOC["effect_types"][t.name]) == set(t.keys()), t.name   # nothing stale
        for p in t.params:
            assert p.role in ROLES and p.section in SECTIONS, (t.name, p.key, p.role, p.section)
            count += 1
    assert count == 1562
    assert set(DOC["effect_types"]) == {t.name for t in EFFECT_TYPES}


def test_every_enum_is_a_choice():
    for t in EFFECT_TYPES:
        for p in t.params:
            if p.kind == "enum":
                assert p.role == "choice", (t.name, p.key)


@pytest.mark.parametrize("type_name,key,role,section", [
    ("Amp Multi (Chorus)", "delay_level", "level", "delay"),
    ("Amp Multi (Chorus)", "amplifier_type", "choice", "amp"),
    ("Amp Multi (Chorus)", "speaker_type", "choice", "amp"),
    ("Amp Multi (Chorus)", "preamp_gain", "drive", "amp"),
    ("Amp Multi (Chorus)", "treble", "band_gain", "amp"),
    ("Amp Multi (Chorus)", "master_tone", "tone", "amp"),
    ("Amp Multi (Chorus)", "compressor_gain_db", "volume", "dynamics"),
    ("Amp Multi (Chorus)", "gate_threshold", "gate", "dynamics"),
    ("Amp Multi (Chorus)", "chorus_speed", "rate", "modulation"),
    ("Amp Multi (Chorus)", "chorus_delay_time_ms", "time", "modulation"),
    ("Amp Multi (Chorus)", "feedback_delay_time_ms", "time", "delay"),
    ("Amp Multi (Chorus)", "delay_tap_l_pct", "tap", "delay"),
    ("Amp Multi (Chorus)", "delay_lp_frequency_hz", "filter", "delay"),
    ("Amp Multi (Chorus)", "reverb_ini_delay_ms", "predelay", "reverb"),
    ("Amp Multi (Chorus)", "reverb_time_s", "decay", "reverb"),
    ("Distortion Multi (Flange)", "pre_eq_level", "drive", "amp"),
    ("Distortion Multi (Flange)", "post_gain_2_db", "band_gain", "eq"),
    ("Distortion Multi (Flange)", "flanger_feedback_pct", "feedback", "modulation"),
    ("Mono Delay", "mix_pct", "mix", "delay"),
    ("Mod. Delay", "mod_frequency_hz", "rate", "modulation"),
    ("Reverb", "gate_level_db", "gate", "reverb"),
    ("Tape Echo", "feedback_level", "feedback", "delay"),
    ("Chorus", "mod_delay_ms", "time", "modulation"),
    ("Delay + Reverb", "hi_freq_ratio_1", "filter", "delay"),
    ("Delay + Reverb", "hi_freq_ratio_2", "filter", "reverb"),
    ("Delay + Reverb", "mix_pct", "mix", "output"),
    ("Ring Mod.", "oscillator_frequency_hz", "pitch", "modulation"),
    ("3 Band Parametric EQ", "eq_gain_2_db", "band_gain", "eq"),
    ("Compressor", "gain_db", "volume", "dynamics"),
])
def test_known_roles(type_name, key, role, section):
    p = effect_type(type_name).param(key)
    assert (p.role, p.section) == (role, section)


def test_the_generator_writes_this_file():
    """The JSON is what scripts/make_param_roles.py writes (edit its tables, then rerun)."""
    from reference import REPO_DIR
    spec = importlib.util.spec_from_file_location("make_param_roles",
                                                  REPO_DIR / "scripts" / "make_param_roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = resources.files("magicstomp").joinpath("data/param_roles.json").read_text("utf-8")
    assert module.render(module.build()) == text


def test_consumers_read_the_roles():
    """The residual EQ's controls and the audible patch follow the roles."""
    assert set(eq_keys("Amp Multi (Chorus)")) == {"treble", "hi_mid", "lo_mid", "bass",
                                                  "presence"}
    assert eq_keys("3 Band Parametric EQ") == ("eq_gain_1_db", "eq_gain_2_db", "eq_gain_3_db")
    assert eq_keys("Mono Delay") == ()
    init, patch = Patch.init("Amp Multi (Chorus)"), audible_patch("Amp Multi (Chorus)")
    for key in ("chorus_level", "delay_level", "reverb_level"):   # silent at init, now heard
        assert init.get(key) == 0 and patch.get(key) > 0, key
    gates = [p.key for p in init.effect_type.params if p.role == "gate"]
    assert len(gates) == 4 and all(patch.get(k) == init.get(k) for k in gates)
