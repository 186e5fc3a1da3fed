"""The device-neutral starting patch and its mapping onto real effect types.

``NeutralPatch`` holds what the analysis measured, in plain units (the seed's
fields): amp gain/treble/presence (0..1), booster, delay time/feedback/mix,
reverb decay/mix, modulation rate/depth/mix/kind, tempo and tags, plus the
``features`` behind them.

``to_patch(neutral, effect_type)`` writes those values into the fields the type
has, as listed by ``field_targets(effect_type)`` (the one mapping from neutral fields to
keys, found by their role and section in ``magicstomp/data/param_roles.json``;
``--optimize-params`` aliases use it too; 0-10 knobs whose physical meaning is
assumed by the emulator are inverted through ``emulator/mappings.py``). A field the
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
    reverb_predelay_ms: float = 0.0
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
        for name in ("delay_time_ms", "reverb_decay_s", "reverb_predelay_ms", "mod_rate_hz"):
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
    the type cannot express is absent). The one mapping from neutral fields to effect keys:
    parameters are found by their role and section (``magicstomp/data/param_roles.json``)."""
    t = effect_type(effect_type_ref)
    keys = set(t.keys())
    out: list = [FieldTarget(name, name, key, "x10") for name, key in
                 (("amp_gain", "preamp_gain"), ("amp_treble", "treble"),
                  ("amp_presence", "presence")) if key in keys]
    out += _delay_targets(t) + _reverb_targets(t) + _modulation_targets(t)
    return tuple(out)


def _role_param(t, roles, section: str, units):
    """The first parameter of ``t`` (table order) with one of ``roles`` in ``section``
    and one of ``units``, or None."""
    return next((p for p in t.params if p.role in roles and p.section == section
                 and p.unit in units), None)


def _has_mapping(key: str) -> bool:
    """True when the emulator knows what a 0-10 knob means in physical units."""
    from .emulator.mappings import MAPPINGS_BY_KEY
    return key in MAPPINGS_BY_KEY


def _amount_scale(p) -> str:
    """How a 0..1 amount is written to ``p``: percent, or a 0-10 knob through the emulator."""
    return "pct" if p.unit == "%" else "knob"


def _delay_targets(t) -> list:
    """Every echo time (ms) of the type's delay, its first feedback (%) and its mix (else
    its first level): what the type can express of the measured echo."""
    times = [p for p in t.params if p.role == "time" and p.section == "delay" and p.unit == "ms"]
    if not times:                  # an echo at the wrong time is not the measured one
        return []
    out = [FieldTarget("delay_time_ms", "delay", p.key, "same") for p in times]
    feedback = _role_param(t, ("feedback",), "delay", ("%",))
    if feedback is not None:
        out.append(FieldTarget("delay_feedback", "delay", feedback.key, "pct"))
    level = _role_param(t, ("mix",), "delay", ("%", "0-10")) or \
        _role_param(t, ("level",), "delay", ("%", "0-10"))
    if level is not None:
        out.append(FieldTarget("delay_mix", "delay", level.key, _amount_scale(level)))
    return out


def _reverb_targets(t) -> list:
    """Reverb time (s) and level (the reverb's own, else the whole effect's mix)."""
    time = _role_param(t, ("decay",), "reverb", ("s",))
    level = _role_param(t, ("level", "mix"), "reverb", ("%", "0-10")) or \
        _role_param(t, ("mix",), "output", ("%",))
    if not (time and level):
        return []
    return [FieldTarget("reverb_decay_s", "reverb", time.key, "same"),
            FieldTarget("reverb_mix", "reverb", level.key, _amount_scale(level))]


def _modulation_targets(t) -> list:
    """The measured LFO on the type's own modulation: the 0-10 speed, depth and level of a
    multi's chorus/flanger/phaser/tremolo or a vintage flanger/phaser (the detector tells
    a level modulation from a pitch or comb one, not a chorus from a flanger or phaser),
    or a single Chorus/Flange/Phaser/Tremolo in Hz and % (a chorus' pitch depth)."""
    rate = _role_param(t, ("rate",), "modulation", ("0-10", "Hz"))
    level = _role_param(t, ("level", "mix"), "modulation", ("%", "0-10"))
    depth = _role_param(t, ("depth",), "modulation", ("0-10", "%"))
    out: list = []
    if rate is not None and rate.unit == "0-10" and _has_mapping(rate.key) and \
            (t.category.startswith("multi") or t.category == "modulation"):
        out.append(FieldTarget("mod_rate_hz", "modulation", rate.key, "knob"))
        if depth is not None:
            out.append(FieldTarget("mod_depth", "modulation", depth.key, "knob_pct"))
        if level is not None:
            out.append(FieldTarget("mod_mix", "modulation", level.key, _amount_scale(level)))
    elif t.id in SINGLE_MOD.values() and rate is not None and rate.unit == "Hz":
        if "pm_depth_pct" in t.keys():         # a chorus: the pitch modulation, not the AM
            depth = t.param("pm_depth_pct")
        out.append(FieldTarget("mod_rate_hz", "modulation", rate.key, "same"))
        if depth is not None:
            out.append(FieldTarget("mod_depth", "modulation", depth.key, "pct"))
        if level is not None:
            out.append(FieldTarget("mod_mix", "modulation", level.key, "pct"))
    return out


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
#: levels (0-10 knobs) of a section the analysis hears: at least AUDIBLE_LEVEL
_HEARD_LEVELS = ("delay_mix", "reverb_mix", "mod_mix")


def to_patch(neutral: NeutralPatch, effect_type_ref) -> tuple:
    """Map ``neutral`` onto ``effect_type_ref``; returns (Patch, unexpressed field names)."""
    t = effect_type(effect_type_ref)
    patch = Patch.init(t)
    active = neutral.active()
    done: set = set()
    for target in field_targets(t):
        if target.group in _GATED and not active[target.group]:
            continue
        value = _written(target, getattr(neutral, target.field))
        if target.scale == "knob" and target.field in _HEARD_LEVELS:
            value = max(AUDIBLE_LEVEL, value)   # a section the analysis hears starts audible
        _set(patch, target.key, value)
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
