"""The device-neutral starting patch and its mapping onto real effect types.

``NeutralPatch`` holds what the analysis measured, in plain units (the seed's
fields): amp gain/treble/presence (0..1), booster, delay time/feedback/mix,
reverb decay/mix, modulation rate/depth/mix/kind, tempo and tags, plus the
``features`` behind them.

``to_patch(neutral, effect_type)`` writes those values into the fields the type
has (keys from the effect table; 0-10 knobs whose physical meaning is assumed
by the emulator are inverted through ``emulator/mappings.py``). A field the
type cannot express is listed in ``unexpressed``, never silently dropped. A
field counts as *active* (and is reported when it cannot be expressed) when:
amp gain > 0.05, treble/presence away from 0.5 by more than 0.1, booster on,
delay mix > 0, reverb mix > 0, or a modulation kind is set.

``suggest_effect_type(neutral)`` picks the default type (the rule):

1. amp gain >= 0.75 (high gain)       -> Distortion Multi (Chorus/Flange), by mod_kind
   (tremolo/phaser have no Distortion Multi: Amp Multi (Tremolo/Phaser));
2. amp gain >= 0.2 (some drive)       -> Amp Multi (Chorus/Flange/Tremolo/Phaser) by
   mod_kind (Chorus when none): amp, modulation, delay and reverb in one type;
3. clean tone: the single effect that dominates: modulation kind -> Chorus /
   Flange / Phaser / Tremolo; else delay mix >= reverb mix and > 0 -> Mono
   Delay; else reverb mix > 0 -> Reverb; else Amp Simulator.
   A clean tone with two or more of delay / reverb / modulation goes to Amp
   Multi as in rule 2 (one type must carry all of them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from .effects import effect_type
from .errors import ParameterError, PatchFormatError
from .patch import Patch

MOD_KINDS = ("chorus", "flange", "tremolo", "phaser")
_MULTI_PREFIX = {"chorus": "chorus", "flange": "flanger", "tremolo": "tremolo", "phaser": "phaser"}
AMP_MULTI = {"chorus": 0x37, "flange": 0x38, "tremolo": 0x39, "phaser": 0x3A}
DIST_MULTI = {"chorus": 0x3B, "flange": 0x3C}
SINGLE_MOD = {"chorus": 0x12, "flange": 0x13, "phaser": 0x15, "tremolo": 0x17}
MONO_DELAY, REVERB, AMP_SIMULATOR = 0x0D, 0x09, 0x08
HIGH_GAIN, SOME_GAIN = 0.75, 0.2
JSON_FORMAT = "magicstomp-neutral-patch"


@dataclass
class NeutralPatch:
    """Device-neutral starting patch (units in the names; 0..1 where no unit)."""

    amp_gain: float = 0.0
    amp_treble: float = 0.5
    amp_presence: float = 0.5
    booster: bool = False
    delay_time_ms: float = 0.0
    delay_feedback: float = 0.0
    delay_mix: float = 0.0
    reverb_decay_s: float = 0.0
    reverb_mix: float = 0.0
    mod_rate_hz: float = 0.0
    mod_depth: float = 0.0
    mod_mix: float = 0.0
    mod_kind: str | None = None
    tempo_bpm: float | None = None
    tags: list = field(default_factory=list)
    features: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("amp_gain", "amp_treble", "amp_presence", "delay_feedback", "delay_mix",
                     "reverb_mix", "mod_depth", "mod_mix"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ParameterError(f"{name}={value} is out of range; expected 0..1",
                                     field=name, value=value, allowed="0..1")
        for name in ("delay_time_ms", "reverb_decay_s", "mod_rate_hz"):
            if float(getattr(self, name)) < 0:
                raise ParameterError(f"{name}={getattr(self, name)} must be >= 0", field=name)
        if self.mod_kind is not None and self.mod_kind not in MOD_KINDS:
            raise ParameterError(f"mod_kind={self.mod_kind!r} is unknown; expected one of "
                                 f"{', '.join(MOD_KINDS)} or null", field="mod_kind",
                                 value=self.mod_kind, allowed=MOD_KINDS)

    def active(self) -> dict:
        """Which neutral fields carry something (see the module docstring)."""
        return {
            "amp_gain": self.amp_gain > 0.05,
            "amp_treble": abs(self.amp_treble - 0.5) > 0.1,
            "amp_presence": abs(self.amp_presence - 0.5) > 0.1,
            "booster": bool(self.booster),
            "delay": self.delay_mix > 0 and self.delay_time_ms > 0,
            "reverb": self.reverb_mix > 0 and self.reverb_decay_s > 0,
            "modulation": self.mod_kind is not None,
        }

    def to_dict(self) -> dict:
        """JSON-ready dict with a format tag."""
        return {"format": JSON_FORMAT, "version": 1, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: dict) -> "NeutralPatch":
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        if not isinstance(doc, dict):
            raise PatchFormatError(f"a neutral patch must be a JSON object; got {type(doc).__name__}")
        doc = {k: v for k, v in doc.items() if k not in ("format", "version")}
        known = {f.name for f in fields(cls)}
        extra = sorted(set(doc) - known)
        if extra:
            raise PatchFormatError(f"unknown neutral-patch field(s) {', '.join(extra)}; expected "
                                   f"some of {', '.join(sorted(known))}")
        return cls(**doc)

    def to_json(self) -> str:
        """Pretty JSON text."""
        return json.dumps(self.to_dict(), indent=2, default=float)


#: a multi's section the analysis heard starts at least this loud (0-10): at a level
#: near 0 its time and rate knobs are inaudible and the search deadlocks (issue 13)
AUDIBLE_LEVEL = 3.0


def _knob(key: str, physical: float) -> float:
    """0-10 knob value for a physical value, inverting the emulator's assumed mapping."""
    from .emulator.mappings import MAPPINGS_BY_KEY
    import math
    m = MAPPINGS_BY_KEY.get(key)
    if m is None or m.kind not in ("linear", "geometric"):
        return min(10.0, max(0.0, 10.0 * physical))
    if m.kind == "geometric":
        x = 10.0 * math.log(max(physical, 1e-9) / m.lo) / math.log(m.hi / m.lo)
    else:
        x = 10.0 * (physical - m.lo) / (m.hi - m.lo)
    return min(10.0, max(0.0, x))


def _set(patch: Patch, key: str, value) -> None:
    """Set ``key`` to the nearest allowed value (clamped to the table's range)."""
    p = patch.effect_type.param(key)
    lo, hi = p.to_physical(p.min_raw), p.to_physical(p.max_raw)
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        value = min(max(float(value), lo), hi)
    patch.set(key, value)


def to_patch(neutral: NeutralPatch, effect_type_ref) -> tuple:
    """Map ``neutral`` onto ``effect_type_ref``; returns (Patch, unexpressed field names)."""
    t = effect_type(effect_type_ref)
    patch = Patch.init(t)
    keys = set(t.keys())
    active = neutral.active()
    done: set = set()

    def put(group, key, value):
        if key in keys:
            _set(patch, key, value)
            done.add(group)

    put("amp_gain", "preamp_gain", 10.0 * neutral.amp_gain)
    put("amp_treble", "treble", 10.0 * neutral.amp_treble)
    put("amp_presence", "presence", 10.0 * neutral.amp_presence)
    if active["delay"]:
        if "delay_time_ms" in keys:          # Mono Delay and friends
            put("delay", "delay_time_ms", neutral.delay_time_ms)
            put("delay", "feedback_gain_pct", 100.0 * neutral.delay_feedback)
            put("delay", "mix_pct", 100.0 * neutral.delay_mix)
        elif "feedback_delay_time_ms" in keys:   # the multis
            put("delay", "feedback_delay_time_ms", neutral.delay_time_ms)
            put("delay", "delay_feedback_pct", 100.0 * neutral.delay_feedback)
            put("delay", "delay_level", max(AUDIBLE_LEVEL, _knob("delay_level", neutral.delay_mix)))
    if active["reverb"] and "reverb_time_s" in keys:
        put("reverb", "reverb_time_s", neutral.reverb_decay_s)
        put("reverb", "reverb_level", max(AUDIBLE_LEVEL, _knob("reverb_level", neutral.reverb_mix)))
        if "reverb_level" not in keys:
            put("reverb", "mix_pct", 100.0 * neutral.reverb_mix)
    if active["modulation"]:
        # the type's own modulation takes the measured LFO: the detector tells a level
        # (tremolo) from a pitch or comb modulation, not a chorus from a flanger or phaser
        prefix = next((p for p in _MULTI_PREFIX.values() if f"{p}_speed" in keys), None)
        if prefix is not None:
            put("modulation", f"{prefix}_speed", _knob(f"{prefix}_speed", neutral.mod_rate_hz))
            put("modulation", f"{prefix}_depth", _knob(f"{prefix}_depth", 100 * neutral.mod_depth))
            put("modulation", f"{prefix}_level", max(AUDIBLE_LEVEL, _knob(f"{prefix}_level", neutral.mod_mix)))
        elif t.id in SINGLE_MOD.values() and "mod_frequency_hz" in keys:
            put("modulation", "mod_frequency_hz", neutral.mod_rate_hz)
            depth_key = "pm_depth_pct" if "pm_depth_pct" in keys else "mod_depth_pct"
            put("modulation", depth_key, 100.0 * neutral.mod_depth)
            put("modulation", "mix_pct", 100.0 * neutral.mod_mix)
    unexpressed = [name for name, on in active.items() if on and name not in done]
    return patch, unexpressed


def suggest_effect_type(neutral: NeutralPatch) -> int:
    """The default effect type for ``neutral`` (rule in the module docstring)."""
    kind = neutral.mod_kind
    active = neutral.active()
    if neutral.amp_gain >= HIGH_GAIN:
        return DIST_MULTI.get(kind or "chorus", AMP_MULTI.get(kind or "chorus"))
    if neutral.amp_gain >= SOME_GAIN or sum(active[k] for k in ("delay", "reverb", "modulation")) > 1:
        return AMP_MULTI[kind or "chorus"]
    if kind is not None:
        return SINGLE_MOD[kind]
    if active["delay"] and neutral.delay_mix >= neutral.reverb_mix:
        return MONO_DELAY
    if active["reverb"]:
        return REVERB
    return AMP_SIMULATOR
