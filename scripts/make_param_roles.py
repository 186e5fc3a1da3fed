"""Write magicstomp/data/param_roles.json: what each parameter of every effect type does.

Run from the repository root (``--check`` only compares and exits 1 on a difference):
    .venv/bin/python scripts/make_param_roles.py [--check]

Each parameter gets a **role** (what the knob does: a level, an echo time, an LFO
rate, ...) and a **section** (which block of the effect it acts on: amp, dynamics,
modulation, delay, reverb, ...). The search, the screening, the residual EQ and the
emulator helpers read these instead of guessing from key names.

The roles are written by hand below, one table from the parameter's key (its
numbered copies, ``level_1`` ... ``level_8``, share one entry) to its role; the
sections come from the effect type's layout (a multi's key prefixes, a combined
type's two blocks, else the type's one block) with the exceptions listed.
Why a separate file and not fields in effect_types.json: that table is a copy of
the shared research table (offsets, ranges, units, with provenance); roles are this
project's reading of what the knobs do for a search, and are kept apart so the
table can be re-synced without merging them.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from magicstomp.effects import EFFECT_TYPES  # noqa: E402

OUT = ROOT / "magicstomp" / "data" / "param_roles.json"

ROLES = {
    "level": "how loud one effect, tap or the dry path is; at its minimum that part is silent",
    "mix": "dry/wet balance of the effect (at 0 only the dry signal is heard)",
    "balance": "balance between two wet parts (delay against reverb, early reflections "
               "against reverb, microphone against direct)",
    "volume": "output or make-up level of a stage (the loss is level-matched)",
    "drive": "how hard a stage is driven (preamp gain, distortion drive, level into it)",
    "band_gain": "gain of one band of an EQ or tone stack after the drive: what a residual "
                 "EQ may set",
    "tone": "another tone control (master tone, pre-drive EQ gains, an effect's own shelves)",
    "eq_frequency": "centre or corner frequency of an EQ band",
    "eq_width": "bandwidth (Q) of an EQ band",
    "filter": "a filter or damping shaping an effect's tone (high/low pass, cut, HF ratio, "
              "resonance, sweep offset)",
    "time": "a delay-line time: an echo time, a modulated delay's base time",
    "tap": "a tap position as a fraction of a delay time",
    "predelay": "the delay before a reverb or its reflections start",
    "decay": "how long a reverb or an envelope takes to die away",
    "feedback": "how much of an effect's output is fed back into it",
    "rate": "speed of an LFO or oscillator",
    "depth": "depth of a modulation",
    "dynamics": "a compressor, expander or limiter control (threshold, ratio, attack, release)",
    "gate": "a noise gate control",
    "pitch": "a pitch shift or an audio-rate oscillator's frequency",
    "stereo": "stereo placement or width (pan, spread, diffusion, L/R phase)",
    "character": "a character control with no simpler role (room size, density, stages)",
    "choice": "a discrete choice (amp type, speaker, waveform, switch, mode)",
    "unknown": "a field whose meaning is not documented",
}

SECTIONS = {
    "amp": "the amp or preamp: drive, tone stack, amp and speaker models",
    "eq": "an EQ after the drive, or the EQ effect",
    "dynamics": "compressor, expander, limiter, noise gate",
    "modulation": "chorus, flanger, phaser, tremolo, rotary, pan, ring modulation, LFO filter",
    "delay": "echoes",
    "reverb": "reverb and early reflections",
    "filter": "envelope or multi filters",
    "pitch": "pitch shifters",
    "output": "the whole effect: the overall mix or shared filters of a combined type",
}

#: role by key; ``_N`` stands for the digit of numbered copies (level_1 ... level_8)
ROLE_BY_KEY = {
    "level": ["chorus_level", "flanger_level", "phaser_level", "delay_level", "reverb_level",
              "effect_level", "direct_level", "level_N", "level_N_pct", "delay_level_c_pct",
              "delay_level_l_pct", "delay_level_r_pct", "filt_level_N"],
    "mix": ["mix", "mix_pct", "mix_msf_only_pct", "delay_balance_pct"],
    "balance": ["delay_reverb_balance_pct", "er_rev_balance_pct", "reverb_balance_pct",
                "mic_direct_blend"],
    "volume": ["master_volume", "output_level", "compressor_gain_db", "gain_db",
               "maximum_output_db"],
    "drive": ["preamp_gain", "distortion_drive", "pre_eq_level", "overdrive_level"],
    "band_gain": ["bass", "lo_mid", "hi_mid", "treble", "presence", "post_gain_N_db",
                  "low_gain_db", "mid_gain_db", "high_gain_db", "eq_gain_N_db"],
    "tone": ["master_tone", "pre_gain_N_db", "lo_shelf_gain_db", "hi_shelf_gain_db",
             "eq_gain_db", "bass_gain_db", "middle_gain_db", "treble_gain_db",
             "presence_gain_db", "bass_level_db", "lo_mid_level_db", "mid_level_db",
             "hi_mid_level_db", "treble_level_db", "effect_color"],
    "eq_frequency": ["post_frequency_N_hz", "pre_frequency_N_hz", "eq_frequency_hz",
                     "eq_frequency_N_hz", "lo_shelf_frequency_hz", "hi_shelf_frequency_hz",
                     "bass_frequency_hz", "middle_frequency_hz", "treble_frequency_hz",
                     "presence_frequency_hz", "lo_mid_frequency_hz", "mid_frequency_hz",
                     "hi_mid_frequency_hz", "low_mid_frequency_hz", "mid_high_frequency_hz"],
    "eq_width": ["post_bandwidth_N_q", "pre_bandwidth_N_q", "eq_bandwidth_q",
                 "eq_bandwidth_N_q"],
    "filter": ["hi_freq_ratio", "hi_freq_ratio_N", "lo_freq_ratio", "hi_pass_frequency_hz",
               "lo_pass_frequency_hz", "delay_hf_ratio", "delay_hp_frequency_hz",
               "delay_lp_frequency_hz", "reverb_hf_ratio", "lo_cut_filter", "lo_cut_filter_N",
               "hi_cut_filter", "hi_cut_filter_N", "hi_freq_filter", "lo_freq_filter",
               "filter_resonance", "filt_resonance_N", "filt_frequency_N_hz", "lowest_offset",
               "manual"],
    "time": ["delay_time", "delay_time_ms", "delay_time_N_ms", "delay_time_c_ms",
             "delay_time_l_ms", "delay_time_r_ms", "delay_time_fb_l_ms", "delay_time_fb_r_ms",
             "feedback_delay_time_ms", "chorus_delay_time_ms", "flanger_delay_time_ms",
             "flanger_delay", "mod_delay_ms"],
    "tap": ["tap_N_pct", "delay_tap_l_pct", "delay_tap_r_pct"],
    "predelay": ["initial_delay_ms", "reverb_ini_delay_ms", "er_rev_delay_ms"],
    "decay": ["reverb_time_s", "decay_time_ms"],
    "feedback": ["feedback_gain", "feedback_gain_pct", "feedback_gain_N_pct",
                 "feedback_gain_l_pct", "feedback_gain_r_pct", "feedback_gain_l_r_pct",
                 "feedback_gain_r_l_pct", "feedback_level", "feedback_level_N",
                 "delay_feedback_pct", "flanger_feedback", "flanger_feedback_pct",
                 "phaser_feedback_pct"],
    "rate": ["mod_frequency_hz", "mod_speed", "mod_speed_N", "chorus_speed", "flanger_speed",
             "phaser_speed", "tremolo_speed", "slow_speed_hz", "fast_speed_hz",
             "fm_frequency_hz", "speed_time"],
    "depth": ["mod_depth", "mod_depth_N", "mod_depth_pct", "am_depth_pct", "pm_depth_pct",
              "fm_depth_pct", "chorus_depth", "flanger_depth", "phaser_depth",
              "tremolo_depth", "depth_feedback"],
    "dynamics": ["compressor_threshold_db", "compressor_ratio", "compressor_attack_ms",
                 "compressor_release_ms", "expander_threshold_db", "expander_ratio",
                 "expander_release_ms", "limiter_threshold_db", "limiter_attack_ms",
                 "limiter_release_ms", "limiter_level", "threshold_db", "ratio",
                 "attack_time_ms", "release_time_ms", "lookup_delay", "sensitivity"],
    "gate": ["gate_threshold", "gate_threshold_db", "gate_attack_ms", "gate_hold_time_ms",
             "gate_decay_time_ms", "gate_level_db", "noise_gate"],
    "pitch": ["oscillator_frequency_hz", "pitch_coarse_semitones", "pitch_coarse_N_semitones",
              "pitch_fine_cents",
              "pitch_fine_N_cents"],
    "stereo": ["pan_N", "direct_pan", "stereo_diffusion", "reverb_diffusion", "stereo_spread",
               "flanger_spread", "l_r_phase_angle_deg", "stereo_mic_effect"],
    "character": ["room_size", "room_liveness", "reflection_density_pct", "reverb_density_pct",
                  "reflection_count", "acceleration", "phaser_stages", "shifter_stages",
                  "precision", "phaser_mode", "flanger_type", "synchronization_N"],
    "unknown": ["unknown_possibly_mix"],
}

_MULTI_PREFIXES = (("compressor_", "dynamics"), ("gate_", "dynamics"), ("chorus_", "modulation"),
                   ("flanger_", "modulation"), ("phaser_", "modulation"),
                   ("tremolo_", "modulation"), ("delay_", "delay"),
                   ("feedback_delay", "delay"), ("reverb_", "reverb"), ("post_", "eq"))
_DYNAMICS_PREFIXES = ("compressor_", "expander_", "limiter_", "gate_")
_MOD_ROLES = ("rate", "depth")
_MOD_KEYS = re.compile(r"^(mod_waveform|waveform_N|phase_N|modulation_source|panning_direction)$")
#: combined types: (first block, second block, keys of the second block, shared keys)
_REVERB_KEYS = re.compile(r"^(initial_delay_ms|reverb_time_s|room_\w+|stereo_diffusion|"
                          r"reflection_\w+|hi_freq_ratio_2|reverb_balance_pct)$")
_SHARED_KEYS = re.compile(r"^(mix_pct|hi_pass_frequency_hz|lo_pass_frequency_hz|"
                          r"delay_reverb_balance_pct|unknown_possibly_mix)$")
#: (type name, key) -> section, where the rules above would be wrong
SECTION_EXCEPTIONS = {
    ("Reverb + Chorus", "hi_freq_ratio"): "reverb", ("Reverb -> Chorus", "hi_freq_ratio"): "reverb",
    ("Reverb + Flange", "hi_freq_ratio"): "reverb", ("Reverb -> Flange", "hi_freq_ratio"): "reverb",
    ("Reverb + Symphonic", "hi_freq_ratio"): "reverb",
    ("Reverb -> Symphonic", "hi_freq_ratio"): "reverb",
    ("Reverb -> Pan", "hi_freq_ratio"): "reverb",
    ("Delay + Early Ref.", "hi_freq_ratio"): "output",
    ("Delay -> Early Ref.", "hi_freq_ratio"): "output",
}
_SINGLE_SECTION = {"delay": "delay", "reverb": "reverb", "modulation": "modulation",
                   "pitch": "pitch", "filter": "filter", "drive": "amp", "amp": "amp",
                   "dynamics": "dynamics", "eq": "eq", "acoustic": "amp", "bass": "amp"}


def normal_key(key: str) -> str:
    """``level_3`` -> ``level_N``; ``delay_time_5_ms`` -> ``delay_time_N_ms``."""
    return re.sub(r"_\d+(?=_|$)", "_N", key)


def role_of(param) -> str:
    if param.kind == "enum":
        return "choice"
    key = normal_key(param.key)
    for role, keys in ROLE_BY_KEY.items():
        if key in keys:
            return role
    raise SystemExit(f"no role for {param.key!r} ({param.name}); add it to ROLE_BY_KEY")


def section_of(t, param, role: str) -> str:
    key, nkey = param.key, normal_key(param.key)
    if (t.name, key) in SECTION_EXCEPTIONS:
        return SECTION_EXCEPTIONS[(t.name, key)]
    if t.category.startswith("multi"):
        for prefix, section in _MULTI_PREFIXES:
            if key.startswith(prefix):
                return section
        return "amp"
    if t.category != "reverb" and (role == "gate" or key.startswith(_DYNAMICS_PREFIXES)):
        return "dynamics"            # a reverb's gate belongs to the reverb
    if "+" in t.category:            # combined types: "reverb+mod", "delay+reverb", "drive+delay"
        return _combined_section(t.category, key, role)
    if t.category == "acoustic":
        return {"effect_type": "modulation", "speed_time": "modulation",
                "depth_feedback": "modulation", "effect_level": "modulation",
                "reverb_type": "reverb", "reverb_level": "reverb"}.get(key, "amp")
    if t.category == "delay" and (role in _MOD_ROLES or _MOD_KEYS.match(nkey)):
        return "modulation"          # the LFO of a modulated delay
    if t.name == "Mod. Filter":
        return "modulation"          # an LFO-swept filter: a modulation effect
    if t.category == "drive" and nkey.startswith("post_"):
        return "eq"
    return _SINGLE_SECTION[t.category]


def _combined_section(category: str, key: str, role: str) -> str:
    nkey = normal_key(key)
    first, second = category.split("+")
    first = {"drive": "amp", "mod": "modulation"}.get(first, first)
    second = {"mod": "modulation"}.get(second, second)
    if _SHARED_KEYS.match(nkey):
        return "output"
    if first == "reverb":            # reverb + modulation: the LFO keys are the modulation's
        return "modulation" if (role in ("rate", "depth", "feedback", "time")
                                or _MOD_KEYS.match(nkey)) else "reverb"
    if second == "reverb":           # delay + reverb/early reflections
        return "reverb" if _REVERB_KEYS.match(key) else "delay"
    if role in ("drive", "volume", "tone", "gate", "choice") and not nkey.startswith("mod_"):
        return "amp"                 # distortion -> delay
    if role in _MOD_ROLES:
        return "modulation"
    return "delay"


def build() -> dict:
    types = {}
    for t in EFFECT_TYPES:
        entries = {}
        for p in t.params:
            role = role_of(p)
            entries[p.key] = [role, section_of(t, p, role)]
        types[t.name] = entries
    return {"_meta": {"about": "Role and section of every parameter of every effect type, "
                               "as [role, section], read by magicstomp/effects.py into "
                               "Param.role and Param.section. Written by "
                               "scripts/make_param_roles.py (edit the tables there).",
                      "roles": ROLES, "sections": SECTIONS},
            "effect_types": types}


def render(doc: dict) -> str:
    """The JSON with one line per parameter (``"key": ["role", "section"]``)."""
    lines = ["{", f' "_meta": {json.dumps(doc["_meta"], indent=1, ensure_ascii=False)},',
             ' "effect_types": {']
    names = list(doc["effect_types"])
    for i, name in enumerate(names):
        items = list(doc["effect_types"][name].items())
        lines.append(f"  {json.dumps(name)}: {{")
        lines += [f"   {json.dumps(k)}: {json.dumps(v)}{',' if j < len(items) - 1 else ''}"
                  for j, (k, v) in enumerate(items)]
        lines.append("  }" + ("," if i < len(names) - 1 else ""))
    return "\n".join(lines + [" }", "}"]) + "\n"


def main(argv) -> int:
    text = render(build())
    assert json.loads(text) == build()
    if "--check" in argv:
        same = OUT.read_text(encoding="utf-8") == text
        print("param_roles.json is up to date" if same else "param_roles.json differs; rerun")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
