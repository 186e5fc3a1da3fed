"""The parameter space the optimizer searches, built from the effect table.

A :class:`ParameterSpace` is a list of :class:`Dimension`: one field of one
effect type, a raw range the optimizer may use (the field's range narrowed by
the seed's safety limits) and a step. The optimizer sees normalized
coordinates ``u`` in 0..1, linear in the field's **raw** value (so table
fields such as reverb time move along the unit's own table). Every dimension
moves exactly one field, and a patch made from coordinates is snapped to the
unit's steps.

Safety limits (the seed's): feedback within +/-95 %, delay time 30-1500 ms,
modulation rate 0.1-10 Hz, each where the type has such a field in those units.
Ours: reverb time at most 10 s, twice the longest of Yamaha's 47 factory reverbs
(0.3-4.7 s); the unit's table goes on to 99 s, where a faint reverb is
indistinguishable from none and the search used to drift (the table's 84 steps
keep 58 below 10 s, so the limit also gives the room sizes more resolution).

Default parameters per type: the seed's eleven knobs (amp gain, treble,
presence; delay time, feedback, level; reverb time, level; modulation speed,
depth, level), each mapped to the first field of the type that plays that role.
A type with none of those roles (compressor, EQ) gets all its numeric fields.

Names: ``--optimize-params`` takes the type's keys, the unit's short labels, or
the original project's names (``gain``, ``treble``, ``presence``,
``delay_time_ms``, ``delay_feedback``, ``delay_mix``, ``reverb_decay(_s)``,
``reverb_mix``, ``mod_rate_hz``, ``mod_depth``, ``mod_mix``, and the
NeutralPatch's ``amp_gain``, ``amp_treble``, ``amp_presence``) as aliases: each
goes to the key the analysis' starting patch writes that value to in the chosen
type (``magicstomp.neutral.field_targets``, the one mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache

import numpy as np

from magicstomp.effects import EFFECT_TYPES, EffectType, Param, effect_type
from magicstomp.emulator import EMULATED_TYPES
from magicstomp.errors import ParameterError
from magicstomp.neutral import field_targets

#: The seed's knobs, in order: role -> key patterns tried in turn (first match wins).
SEED_ROLES = (
    ("amp_gain", (r"preamp_gain",)),
    ("treble", (r"treble", r"master_tone")),
    ("presence", (r"presence",)),
    ("delay_time", (r"(feedback_)?delay_time(_l)?_ms", r"delay_time")),
    ("delay_feedback", (r"delay_feedback_pct", r"feedback(_gain)?(_l)?_pct", r"feedback_level")),
    ("delay_level", (r"delay_level", r"mix_pct", r"mix")),
    ("reverb_time", (r"reverb_time_s",)),
    ("reverb_level", (r"reverb_level", r"mix_pct")),
    ("mod_speed", (r"(chorus|flanger|phaser|tremolo)_speed", r"mod_frequency_hz")),
    ("mod_depth", (r"(chorus|flanger|phaser|tremolo)_depth", r"(mod|pm)_depth_pct")),
    ("mod_level", (r"(chorus|flanger|phaser|tremolo)_level", r"mix_pct")),
)

FEEDBACK_LIMIT_PCT = 95.0
DELAY_TIME_LIMITS_MS = (30.0, 1500.0)
RATE_LIMITS_HZ = (0.1, 10.0)
REVERB_TIME_LIMITS_S = (0.0, 10.0)

# The seed's steps: ("unit", x) is a fraction of the allowed range, ("physical", x) is in the
# field's own unit and converted with the field's typical spacing.
_STEP_FEEDBACK = ("physical", 10.0)      # seed 0.10 of full feedback = 10 %
_STEP_DELAY_TIME = ("physical", 25.0)    # ms
_STEP_DECAY = ("physical", 0.4)          # s
_STEP_RATE = ("physical", 0.2)           # Hz
_STEP_GAIN = ("unit", 0.08)
_STEP_TONE = ("unit", 0.10)              # treble, presence
_STEP_REVERB_MIX = ("unit", 0.06)
_STEP_MIX = ("unit", 0.08)
_STEP_OTHER = ("unit", 0.10)


def _is_feedback(p: Param) -> bool:
    return p.role == "feedback" and p.unit == "%"


def _is_delay_time(p: Param) -> bool:
    """An echo time in ms (not a modulation's delay line, whatever its range)."""
    return p.role == "time" and p.section != "modulation" and p.unit == "ms" and \
        p.is_numeric and max(p.to_physical(p.min_raw), p.to_physical(p.max_raw)) >= 100.0


def _is_rate(p: Param) -> bool:
    return p.role == "rate" and p.unit == "Hz"


def _is_reverb_time(p: Param) -> bool:
    return p.role == "decay" and p.section == "reverb" and p.unit == "s" and p.is_numeric


def _seed_step(p: Param, reverb_type: bool = False) -> tuple:
    """The seed's step for a field, by its role (``reverb_type``: the type has a reverb)."""
    if _is_feedback(p):
        return _STEP_FEEDBACK
    if _is_delay_time(p):
        return _STEP_DELAY_TIME
    if _is_reverb_time(p):
        return _STEP_DECAY
    if _is_rate(p):
        return _STEP_RATE
    if p.role == "drive":
        return _STEP_GAIN
    if p.role == "band_gain":
        return _STEP_TONE
    if p.role in ("level", "mix"):
        reverb = p.section == "reverb" or (p.section == "output" and reverb_type)
        return _STEP_REVERB_MIX if reverb else _STEP_MIX
    return _STEP_OTHER


def _safety_limits(p: Param):
    """(low, high) physical limit for a field, or None when no seed limit applies."""
    if _is_feedback(p):
        return (-FEEDBACK_LIMIT_PCT, FEEDBACK_LIMIT_PCT)
    if _is_delay_time(p):
        return DELAY_TIME_LIMITS_MS
    if _is_rate(p):
        return RATE_LIMITS_HZ
    if _is_reverb_time(p):
        return REVERB_TIME_LIMITS_S
    return None


@dataclass(frozen=True)
class Dimension:
    """One searchable field: its raw bounds (limits applied) and step in normalized units."""

    key: str
    param: Param
    lo_raw: int
    hi_raw: int
    step_unit: float
    limited: bool

    @property
    def span_raw(self) -> int:
        return self.hi_raw - self.lo_raw

    def raw_at(self, u: float) -> int:
        """Raw value at normalized ``u`` (clipped to 0..1, rounded to the unit's step)."""
        u = min(1.0, max(0.0, float(u)))
        return int(round(self.lo_raw + u * self.span_raw))

    def unit_at(self, raw: int) -> float:
        """Normalized coordinate of a raw value (clipped to the allowed range)."""
        return min(1.0, max(0.0, (raw - self.lo_raw) / self.span_raw))

    def describe(self) -> str:
        lo, hi = self.param.to_physical(self.lo_raw), self.param.to_physical(self.hi_raw)
        unit = "" if self.param.unit in ("", "?", "0-10", "enum", "pan") else f" {self.param.unit}"
        note = " (safety limit)" if self.limited else ""
        return f"{self.key}: {lo} to {hi}{unit}{note}, step {self.step_unit:.3f} of the range"


def _numeric_raws(p: Param) -> list:
    """(raw, physical) for every raw value whose physical value is a number."""
    out = []
    for raw in range(p.min_raw, p.max_raw + 1):
        value = p.to_physical(raw)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((raw, float(value)))
    return out


def _dimension(p: Param, reverb_type: bool = False) -> Dimension:
    lo_raw, hi_raw = p.min_raw, p.max_raw
    limits = _safety_limits(p)
    numeric = _numeric_raws(p) if p.kind != "enum" else []
    if limits is not None and numeric:
        inside = [r for r, v in numeric if limits[0] - 1e-9 <= v <= limits[1] + 1e-9]
        if inside:
            lo_raw, hi_raw = min(inside), max(inside)
    if hi_raw <= lo_raw:
        raise ParameterError(
            f"{p.key} has a single allowed value, so it cannot be optimized; "
            "leave it out of --optimize-params", field="optimize_params", value=p.key)
    kind, amount = _seed_step(p, reverb_type)
    if kind == "physical" and len(numeric) > 1:
        values = np.array([v for r, v in numeric if lo_raw <= r <= hi_raw])
        spacing = float(np.median(np.abs(np.diff(values)))) if values.size > 1 else 0.0
        step_raw = amount / spacing if spacing > 0 else 1.0
        step_unit = max(step_raw, 1.0) / (hi_raw - lo_raw)
    else:
        step_unit = amount if kind == "unit" else _STEP_OTHER[1]
    step_unit = float(min(step_unit, 0.5))
    return Dimension(key=p.key, param=p, lo_raw=lo_raw, hi_raw=hi_raw, step_unit=step_unit,
                     limited=(lo_raw, hi_raw) != (p.min_raw, p.max_raw))


#: The original project's names that differ from the NeutralPatch field they mean; every
#: NeutralPatch field that some type expresses (``field_targets``) is accepted as itself.
ORIGINAL_NAMES = {"gain": "amp_gain", "treble": "amp_treble", "presence": "amp_presence",
                  "reverb_decay": "reverb_decay_s"}
_MAX_HOSTS = 3


@lru_cache(maxsize=1)
def _alias_fields() -> dict:
    """alias -> NeutralPatch field, for every alias accepted by at least one type."""
    mapped = sorted({ft.field for t in EFFECT_TYPES for ft in field_targets(t)})
    return {**{name: name for name in mapped}, **ORIGINAL_NAMES}


def alias_names() -> tuple:
    """Every alias ``--optimize-params`` accepts (in some type)."""
    return tuple(_alias_fields())


def aliases(type_ref) -> dict:
    """alias -> key of this type, for the aliases the type can express."""
    keys: dict = {}
    for target in field_targets(type_ref):
        keys.setdefault(target.field, target.key)
    return {alias: keys[name] for alias, name in _alias_fields().items() if name in keys}


def _join(words, last: str = "or") -> str:
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _unknown(name: str, candidates, own_aliases=None) -> str:
    """``'name' (did you mean a, b (= key) or c?)``: close matches, an alias with its key."""
    close = get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    own_aliases = own_aliases or {}
    close = [c + (f" (= {own_aliases[c]})" if own_aliases.get(c, c) != c else "") for c in close]
    return f"{name!r}" + (f" (did you mean {_join(close)}?)" if close else "")


def _hosts(names) -> str:
    """Emulated types that have a counterpart for every alias in ``names`` (a few)."""
    hosts = [t for t in EFFECT_TYPES if t.id in EMULATED_TYPES and set(names) <= set(aliases(t))]
    return _join([f"0x{t.id:02X} {t.name}" for t in hosts[:_MAX_HOSTS]]) if hosts else ""


def resolve_keys(type_ref, names) -> tuple:
    """The type's keys for ``names`` (keys, the unit's short labels or aliases), in order.

    Raises
    ------
    ParameterError
        naming every bad name at once, in one sentence: unknown names with their close
        matches, and aliases the type has no counterpart for with types that have one.
    """
    t = effect_type(type_ref)
    shorts = {p.short_key: p.key for p in t.params}
    own = aliases(t)
    keys, unknown, absent = [], [], []
    for name in names:
        key = name if name in t.keys() else shorts.get(name, own.get(name))
        if key is not None:
            keys.append(key)
        elif name in _alias_fields():
            absent.append(name)
        else:
            unknown.append(_unknown(name, [*t.keys(), *own], own))
    if unknown or absent:
        where = f"{t.name} (0x{t.id:02X})"
        clauses = [f"no parameter {_join(unknown)}"] if unknown else []
        if absent:
            clauses.append("no counterpart for the original project's "
                           f"{_join([repr(a) for a in absent], 'and')}")
        hints = [f"`magicstomp types 0x{t.id:02X}` lists its parameters"] if unknown else []
        if absent:
            hosts = _hosts(absent)
            hints.append("choose a type that has " + ("it" if len(absent) == 1 else "them")
                         + " with --effect-type" + (f" (e.g. {hosts})" if hosts else ""))
        raise ParameterError(f"--optimize-params: {where} has {' and '.join(clauses)}; "
                             f"{', or '.join(hints)}", field="optimize_params",
                             value=[n for n in names if n not in t.keys()],
                             allowed=list(t.keys()) + list(own))
    return tuple(keys)


def check_names(names) -> None:
    """Before the effect type is known: every name must be a key, short label or alias of
    some type (ParameterError naming every unknown one, with close matches)."""
    known = set(_alias_fields())
    for t in EFFECT_TYPES:
        known.update(t.keys())
        known.update(p.short_key for p in t.params)
    unknown = [_unknown(n, known) for n in names if n not in known]
    if unknown:
        raise ParameterError(f"--optimize-params: no effect type has a parameter {_join(unknown)}; "
                             "`magicstomp types TYPE` lists a type's parameters",
                             field="optimize_params", value=names)


def default_keys(type_ref) -> tuple:
    """The default parameters of a type: the seed's knobs it has, else its numeric fields."""
    t = effect_type(type_ref)
    chosen: list = []
    for _role, patterns in SEED_ROLES:
        for pattern in patterns:
            hit = next((p.key for p in t.params if re.fullmatch(pattern, p.key)
                        and p.key not in chosen), None)
            if hit is not None:
                chosen.append(hit)
                break
    if not chosen:
        chosen = [p.key for p in t.params if p.kind != "enum" and p.max_raw > p.min_raw]
    return tuple(chosen)


#: Roles searched by the wide space (magicstomp/data/param_roles.json). Left out: choices
#: (screened), gates, stereo placement and wet balances (the loss hears a mono fold), the
#: compressor's threshold/ratio/times, and output volumes (the loss is level-matched),
#: except a dynamics section's volume, the make-up gain that drives what follows it.
WIDE_ROLES = ("drive", "band_gain", "tone", "eq_frequency", "eq_width", "level", "mix",
              "depth", "rate", "time", "feedback", "decay", "predelay", "tap", "filter",
              "character", "pitch")
LEVEL_ROLES = ("level", "mix")


def section_silent(param: Param, patch) -> bool:
    """True when ``param`` is not a level and every level or mix of its section in
    ``patch`` is at its minimum: nothing of that section is heard, so neither is the knob
    (a section without a level of its own, such as the amp, is never silent)."""
    if param.role in LEVEL_ROLES:
        return False
    levels = [p for p in patch.effect_type.params
              if p.section == param.section and p.role in LEVEL_ROLES and p.is_numeric]
    return bool(levels) and all(patch.get_raw(p.key) <= p.min_raw for p in levels)


def _wide_role(p: Param) -> bool:
    return p.role in WIDE_ROLES or (p.role == "volume" and p.section == "dynamics")


def wide_keys(type_ref, start=None) -> tuple:
    """Every field the roles call audible: :func:`default_keys` first, then each other
    numeric field whose role is in :data:`WIDE_ROLES` (a dynamics section's volume too),
    leaving out the fields of sections ``start`` (a Patch) leaves silent (every level
    at its minimum; the levels themselves stay, so the search can raise them)."""
    t = effect_type(type_ref)
    keys = list(default_keys(t))
    for p in t.params:
        if p.key in keys or p.kind == "enum" or p.max_raw <= p.min_raw or not _wide_role(p):
            continue
        if start is not None and section_silent(p, start):
            continue
        keys.append(p.key)
    return tuple(keys)


class ParameterSpace:
    """The fields of one effect type the optimizer may move, and how.

    Parameters
    ----------
    effect_type_ref : int, str or EffectType
        The effect type (id, name or alias).
    keys : iterable of str, optional
        Fields to optimize (keys, the unit's short labels or aliases: see
        :func:`resolve_keys`), in order; default: :func:`default_keys`.

    Raises
    ------
    ParameterError
        for bad names (all of them, with close matches), an empty
        selection, or a field with a single allowed value.
    """

    def __init__(self, effect_type_ref, keys=None):
        self.effect_type: EffectType = effect_type(effect_type_ref)
        t = self.effect_type
        if keys is None:
            keys = default_keys(t)
        keys = [keys] if isinstance(keys, str) else list(keys)
        if not keys:
            raise ParameterError(
                f"no parameters selected to optimize; choose from: {', '.join(t.keys())}",
                field="optimize_params", value=keys, allowed=list(t.keys()))
        if not all(isinstance(k, str) for k in keys):
            raise ParameterError(f"--optimize-params takes names; got {keys!r}",
                                 field="optimize_params", value=keys)
        params = []
        for key in resolve_keys(t, keys):
            p = t.param(key)
            if p not in params:
                params.append(p)
        reverb_type = any(p.section == "reverb" for p in t.params)
        self.dimensions = tuple(_dimension(p, reverb_type) for p in params)

    @property
    def keys(self) -> tuple:
        return tuple(d.key for d in self.dimensions)

    @property
    def size(self) -> int:
        return len(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    @property
    def steps_unit(self) -> np.ndarray:
        """The seed's step of each dimension, in normalized units."""
        return np.array([d.step_unit for d in self.dimensions])

    @property
    def resolution_unit(self) -> np.ndarray:
        """One hardware step of each dimension, in normalized units."""
        return np.array([1.0 / d.span_raw for d in self.dimensions])

    def to_unit(self, patch) -> np.ndarray:
        """Normalized coordinates of a patch (values outside the limits are clipped)."""
        self._check_type(patch)
        return np.array([d.unit_at(patch.get_raw(d.key)) for d in self.dimensions])

    def from_unit(self, base_patch, u) -> "object":
        """A copy of ``base_patch`` with the space's fields set from ``u`` (snapped, limited)."""
        self._check_type(base_patch)
        u = np.asarray(u, dtype=float).reshape(-1)
        if u.size != self.size:
            raise ParameterError(f"expected {self.size} coordinates ({', '.join(self.keys)}); "
                                 f"got {u.size}", field="u", value=u.size)
        if not np.all(np.isfinite(u)):
            raise ParameterError("normalized coordinates must be finite numbers",
                                 field="u", value=u.tolist())
        patch = base_patch.copy()
        for d, x in zip(self.dimensions, u):
            patch.set_raw(d.key, d.raw_at(x))
        return patch

    def clip(self, patch):
        """A copy of ``patch`` with the space's fields moved inside the safety limits."""
        return self.from_unit(patch, self.to_unit(patch))

    def describe(self) -> str:
        """One line per dimension: range (limits applied) and step."""
        lines = [f"{self.effect_type.name} (0x{self.effect_type.id:02X}), "
                 f"{self.size} parameter(s):"]
        lines += [f"  {d.describe()}" for d in self.dimensions]
        return "\n".join(lines)

    def _check_type(self, patch) -> None:
        if patch.effect_type.id != self.effect_type.id:
            raise ParameterError(
                f"the patch is {patch.effect_type.name} but this space is for "
                f"{self.effect_type.name}", field="effect_type", value=patch.effect_type.name)
