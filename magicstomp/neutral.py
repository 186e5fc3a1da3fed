"""The device-neutral starting patch and its mapping onto real effect types.

``NeutralPatch`` holds what the analysis measured, in plain units (the seed's
fields): amp gain/treble/presence (0..1), booster, delay time/feedback/mix,
reverb decay/mix, modulation rate/depth/mix/kind, tempo and tags, plus the
``features`` behind them.

``to_patch(neutral, effect_type)`` writes those values into the fields the type
has, as listed by ``field_targets(effect_type)`` (the one mapping from neutral fields to
keys; ``--optimize-params`` aliases use it too) (keys from the effect table; 0-10 knobs whose physical meaning is assumed
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


@dataclass(frozen=True)
class FieldTarget:
    """Where one NeutralPatch field goes in an effect type, and how its value is written.

    ``scale``: "x10" (0..1 -> a 0-10 knob), "pct" (0..1 -> %), "same" (already in the
    field's unit), "knob" (the emulator's 0-10 knob for the value), "knob_pct" (same, for
    100 x the value). ``group``: the :meth:`NeutralPatch.active` flag that gates it.
    """

    field: str
    group: str
    key: str
    scale: str


def field_targets(effect_type_ref) -> tuple:
    """The type's keys for the NeutralPatch fields it can express, in writing order (a field
    the type cannot express is absent). The one mapping from neutral fields to effect keys."""
    t = effect_type(effect_type_ref)
    keys = set(t.keys())
    out: list = []

    def add(name, group, key, scale):
        if key in keys:
            out.append(FieldTarget(name, group, key, scale))

    add("amp_gain", "amp_gain", "preamp_gain", "x10")
    add("amp_treble", "amp_treble", "treble", "x10")
    add("amp_presence", "amp_presence", "presence", "x10")
    if "delay_time_ms" in keys:              # Mono Delay and friends
        add("delay_time_ms", "delay", "delay_time_ms", "same")
        add("delay_feedback", "delay", "feedback_gain_pct", "pct")
        add("delay_mix", "delay", "mix_pct", "pct")
    elif "feedback_delay_time_ms" in keys:   # the multis
        add("delay_time_ms", "delay", "feedback_delay_time_ms", "same")
        add("delay_feedback", "delay", "delay_feedback_pct", "pct")
        add("delay_mix", "delay", "delay_level", "knob")
    if "reverb_time_s" in keys:
        add("reverb_decay_s", "reverb", "reverb_time_s", "same")
        add("reverb_mix", "reverb", "reverb_level", "knob")
        if "reverb_level" not in keys:
            add("reverb_mix", "reverb", "mix_pct", "pct")
    # the type's own modulation takes the measured LFO: the detector tells a level
    # (tremolo) from a pitch or comb modulation, not a chorus from a flanger or phaser
    prefix = next((p for p in _MULTI_PREFIX.values() if f"{p}_speed" in keys), None)
    if prefix is not None:
        add("mod_rate_hz", "modulation", f"{prefix}_speed", "knob")
        add("mod_depth", "modulation", f"{prefix}_depth", "knob_pct")
        add("mod_mix", "modulation", f"{prefix}_level", "knob")
    elif t.id in SINGLE_MOD.values() and "mod_frequency_hz" in keys:
        add("mod_rate_hz", "modulation", "mod_frequency_hz", "same")
        add("mod_depth", "modulation", "pm_depth_pct" if "pm_depth_pct" in keys
            else "mod_depth_pct", "pct")
        add("mod_mix", "modulation", "mix_pct", "pct")
    return tuple(out)


def _written(target: FieldTarget, value: float) -> float:
    """The value ``target.key`` gets for a neutral ``value`` (see :class:`FieldTarget`)."""
    if target.scale == "x10":
        return 10.0 * value
    if target.scale == "pct":
        return 100.0 * value
    if target.scale == "knob":
        return _knob(target.key, value)
    if target.scale == "knob_pct":
        return _knob(target.key, 100.0 * value)
    return value


_GATED = ("delay", "reverb", "modulation")


def to_patch(neutral: NeutralPatch, effect_type_ref) -> tuple:
    """Map ``neutral`` onto ``effect_type_ref``; returns (Patch, unexpressed field names)."""
    t = effect_type(effect_type_ref)
    patch = Patch.init(t)
    active = neutral.active()
    done: set = set()
    for target in field_targets(t):
        if target.group in _GATED and not active[target.group]:
            continue
        _set(patch, target.key, _written(target, getattr(neutral, target.field)))
        done.add(target.group)
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
