"""The effect-type table: the one source of truth for offsets, ranges and units.

Everything is read once from ``magicstomp/data/effect_types.json`` (a copy of
the project's shared research table, provenance in its ``_meta``) into frozen
records, with each parameter's ``role`` and ``section`` from
``magicstomp/data/param_roles.json`` (what the knob does and which block it acts
on, written by ``scripts/make_param_roles.py``). Three views of each parameter value:

* **raw**: the integer stored in the patch bytes;
* **physical**: what the unit shows (ms, dB, Hz, s, 0-10, %, or an enum label);
* **normalized** (``optimize/``): 0..1 over a range.

``Param.to_physical`` and ``Param.to_raw`` are lossless: for every raw value r
in range, ``to_raw(to_physical(r)) == r``.

Lookups
-------
effect_type(x)      by id (int), hex string ("0x37"), name or alias
EFFECT_TYPES        all 64 types, in id order
TABLES              lookup tables by name (frozen)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

from .errors import ParameterError, UnknownEffectTypeError

#: Knob assignment value meaning "not assigned".
KNOB_NONE = 0x6B

_UNIT_SUFFIX = {
    "ms": "ms", "s": "s", "Hz": "hz", "dB": "db", "%": "pct", "Q": "q",
    "semitones": "semitones", "cents": "cents", "degrees": "deg", "ratio": "ratio",
}
# How a None entry of a table is shown, by a word of the table's note.
_NONE_LABELS = (("Thru", "Thru"), ("infinity", "inf"), ("Off", "Off"))


@dataclass(frozen=True)
class Table:
    """A lookup table: ``values[raw]`` is the physical value (None = special)."""

    name: str
    unit: str
    values: tuple
    none_label: str | None = None

    def label(self, raw: int):
        value = self.values[raw]
        return self.none_label if value is None else value


@dataclass(frozen=True)
class Param:
    """One parameter of one effect type (offsets are inside the 127-byte effect block)."""

    key: str               # snake_case with unit suffix, unique within the type
    name: str              # Yamaha's display name
    short_key: str         # the unit's 4-character label, e.g. "DT.L"
    param_index: int       # Yamaha's parameter number (knob assignment)
    offset: int
    size: int
    min_raw: int
    max_raw: int
    unit: str              # "ms", "dB", "0-10", "enum", ...
    kind: str              # "linear", "table", "enum", "geometric", "unknown"
    default_raw: int
    value_at_raw0: float = 0.0
    step: float = 1.0
    table: Table | None = None
    geo_min: float = 0.0
    geo_max: float = 0.0
    geo_steps: int = 0
    role: str = ""         # what the knob does ("level", "time", ...): data/param_roles.json
    section: str = ""      # the block it acts on ("amp", "delay", "reverb", ...)

    @property
    def payload_offset(self) -> int:
        return 32 + self.offset

    @property
    def is_numeric(self) -> bool:
        """True when the physical value is a number for every raw value."""
        if self.kind == "enum":
            return False
        if self.kind == "table":
            return all(v is not None for v in self.table.values[self.min_raw:self.max_raw + 1])
        return True

    # -- raw -> physical -------------------------------------------------
    def to_physical(self, raw: int):
        """Physical value of ``raw``: a float/int, or a label string for enums and table ends."""
        self.check_raw(raw)
        if self.kind == "linear":
            value = self.value_at_raw0 + self.step * raw
            return _tidy(value, self.step)
        if self.kind in ("table", "enum"):
            return self.table.label(raw)
        if self.kind == "geometric":
            value = self.geo_min * (self.geo_max / self.geo_min) ** (raw / self.geo_steps)
            return round(value, 2)
        return raw

    # -- physical -> raw -------------------------------------------------
    def to_raw(self, value) -> int:
        """Raw value for a physical value (snapped to the nearest step).

        Raises
        ------
        ParameterError
            for the wrong kind of value or a value outside the range.
        """
        if isinstance(value, bool):
            raise self._error(value, "is a boolean")
        if self.kind in ("table", "enum") and isinstance(value, str):
            wanted = value.strip().lower()
            for raw in range(self.min_raw, self.max_raw + 1):
                if str(self.table.label(raw)).lower() == wanted:
                    return raw
            raise self._error(value, "is not one of the choices")
        if self.kind == "enum":
            if isinstance(value, int) and self.min_raw <= value <= self.max_raw:
                return value
            raise self._error(value, "is not one of the choices")
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._error(value, "is not a finite number")
        if self.kind == "linear":
            raw = round((value - self.value_at_raw0) / self.step)
        elif self.kind == "table":
            raw = self._nearest_table_raw(float(value))
        elif self.kind == "geometric":
            if value <= 0:
                raise self._error(value, "is out of range")
            raw = round(math.log(value / self.geo_min) / math.log(self.geo_max / self.geo_min)
                        * self.geo_steps)
        else:
            raw = int(round(value))
        if not self.min_raw <= raw <= self.max_raw:
            raise self._error(value, "is out of range")
        return int(raw)

    def _nearest_table_raw(self, value: float) -> int:
        candidates = [(r, self.table.values[r]) for r in range(self.min_raw, self.max_raw + 1)
                      if self.table.values[r] is not None]
        lo = min(v for _, v in candidates)
        hi = max(v for _, v in candidates)
        tolerance = 0.5 * (hi - lo) / max(len(candidates) - 1, 1)
        if value < lo - tolerance or value > hi + tolerance:
            raise self._error(value, "is out of range")
        return min(candidates, key=lambda rv: abs(rv[1] - value))[0]

    def check_raw(self, raw: int) -> None:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ParameterError(f"{self.key}={raw!r} must be an integer raw value",
                                 field=self.key, value=raw, allowed=self.describe_raw_range())
        if not self.min_raw <= raw <= self.max_raw:
            raise ParameterError(
                f"{self.key}: raw value {raw} is out of range; allowed {self.describe_raw_range()}",
                field=self.key, value=raw, allowed=self.describe_raw_range())

    # -- descriptions ----------------------------------------------------
    def describe_raw_range(self) -> str:
        return f"raw {self.min_raw} to {self.max_raw}"

    def describe_range(self) -> str:
        """Human-readable allowed values, with the unit."""
        if self.kind in ("enum", "table") and not self.is_numeric or self.kind == "enum":
            labels = [str(self.table.label(r)) for r in range(self.min_raw, self.max_raw + 1)]
            if len(labels) > 12:
                return f"one of {', '.join(labels[:6])}, ..., {', '.join(labels[-3:])}"
            return "one of " + ", ".join(labels)
        lo, hi = self.to_physical(self.min_raw), self.to_physical(self.max_raw)
        unit = "" if self.unit in ("", "?", "0-10", "pan") else f" {self.unit}"
        return f"{lo} to {hi}{unit}"

    def _error(self, value, what: str) -> ParameterError:
        unit = "" if self.unit in ("", "?", "enum", "0-10", "pan") else f" {self.unit}"
        return ParameterError(
            f"{self.key}={value!r}{unit if isinstance(value, (int, float)) else ''} {what}; "
            f"allowed {self.describe_range()}",
            field=self.key, value=value, allowed=self.describe_range())


@dataclass(frozen=True)
class EffectType:
    """One of the 64 effect types and its parameters (ordered by offset)."""

    id: int
    name: str
    category: str
    aliases: tuple
    params: tuple
    default_knobs: tuple            # param_index of knobs 1-3
    by_key: Mapping = field(repr=False, compare=False, default=None)
    by_index: Mapping = field(repr=False, compare=False, default=None)

    def param(self, key: str) -> Param:
        """The parameter with this snake_case key (or the unit's short label)."""
        try:
            return self.by_key[key]
        except KeyError:
            for p in self.params:
                if p.short_key == key:
                    return p
        raise ParameterError(
            f"{self.name} has no parameter {key!r}; valid: {', '.join(self.keys())}",
            field="param", value=key, allowed=list(self.keys()))

    def keys(self) -> tuple:
        return tuple(p.key for p in self.params)

    def __str__(self) -> str:
        return f"0x{self.id:02X} {self.name}"


def _tidy(value: float, step: float):
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-9))) if step < 1 else 0
    value = round(value, decimals + 1)
    if decimals == 0 and float(value).is_integer():
        return int(value)
    return round(value, decimals + 1) if decimals else float(value)


def _snake(text: str) -> str:
    text = text.replace("[", " ").replace("]", " ").replace("->", " to ").replace("+", " plus ")
    text = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def _make_key(name: str, unit: str, dup_suffix: str | None) -> str:
    base = _snake(name)
    if dup_suffix:
        base = f"{base}_{dup_suffix}"
    suffix = _UNIT_SUFFIX.get(unit)
    if suffix and suffix not in base.split("_"):
        base = f"{base}_{suffix}"
    return base


def _none_label(note: str) -> str | None:
    for word, label in _NONE_LABELS:
        if word in note:
            return label
    return None


def _read_json(name: str) -> dict:
    return json.loads(resources.files(__package__).joinpath(f"data/{name}")
                      .read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _load():
    raw_doc = _read_json("effect_types.json")
    roles = _read_json("param_roles.json")["effect_types"]
    tables = {
        name: Table(name, t.get("unit", ""), tuple(t["values"]),
                    _none_label(t.get("note", "")) if None in t["values"] else None)
        for name, t in raw_doc["tables"].items()
    }
    types = []
    for t in sorted(raw_doc["effect_types"].values(), key=lambda t: t["id"]):
        names = [p["name"] for p in t["params"]]
        params = []
        seen_count: dict = {}
        for p in sorted(t["params"], key=lambda p: p["offset"]):
            dup = None
            if names.count(p["name"]) > 1:
                seen_count[p["name"]] = seen_count.get(p["name"], 0) + 1
                digits = re.findall(r"\d+$", p["key"])
                dup = digits[0] if digits else str(seen_count[p["name"]])
            sc = p["scaling"]
            kw = {}
            if sc["type"] == "linear":
                kw = {"value_at_raw0": float(sc["value_at_raw0"]), "step": float(sc["step"])}
            elif sc["type"] in ("table", "enum"):
                kw = {"table": tables[sc["table"]] if "table" in sc
                      else Table(f"{t['id']}:{p['key']}", "enum", tuple(sc["values"]))}
            elif sc["type"] == "geometric":
                kw = {"geo_min": float(sc["min"]), "geo_max": float(sc["max"]),
                      "geo_steps": int(sc["steps"])}
            key = _make_key(p["name"], p["unit"], dup)
            role, section = roles.get(t["name"], {}).get(key, ("", ""))
            if not role:   # the data files disagree: a bug, never user input
                raise RuntimeError(f"no role for {t['name']} {key} in param_roles.json")
            params.append(Param(
                key=key, name=p["name"], short_key=p["key"],
                param_index=p["param_index"], offset=p["offset"], size=p["size"],
                min_raw=p["min_raw"], max_raw=p["max_raw"], unit=p["unit"], kind=sc["type"],
                default_raw=p.get("default_raw", p["min_raw"]), role=role, section=section,
                **kw))
        by_key = {p.key: p for p in params}
        if len(by_key) != len(params):  # a bug in the derivation, never user input
            raise RuntimeError(f"duplicate parameter keys in effect type {t['name']}")
        types.append(EffectType(
            id=t["id"], name=t["name"], category=t.get("category", ""),
            aliases=tuple(t.get("aliases", ())), params=tuple(params),
            default_knobs=tuple(k["param_index"] for k in t.get("default_knobs", ())),
            by_key=MappingProxyType(by_key),
            by_index=MappingProxyType({p.param_index: p for p in params})))
    return tuple(types), MappingProxyType(tables)


EFFECT_TYPES: tuple = _load()[0]
TABLES: Mapping = _load()[1]
_BY_ID = {t.id: t for t in EFFECT_TYPES}
_BY_NAME = {}
for _t in EFFECT_TYPES:
    for _n in (_t.name, *_t.aliases):
        _BY_NAME.setdefault(re.sub(r"[^0-9a-z]", "", _n.lower()), _t)


def effect_type(ref) -> EffectType:
    """Look up an effect type by id (``55``, ``"0x37"``, ``"55"``), name or alias.

    Raises
    ------
    UnknownEffectTypeError
        naming what was given and how to list the valid types.
    """
    if isinstance(ref, EffectType):
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        if ref in _BY_ID:
            return _BY_ID[ref]
    elif isinstance(ref, str):
        text = ref.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text)
            if number in _BY_ID:
                return _BY_ID[number]
        except ValueError:
            found = _BY_NAME.get(re.sub(r"[^0-9a-z]", "", text.lower()))
            if found:
                return found
    raise UnknownEffectTypeError(
        f"unknown effect type {ref!r}; expected an id 0-63 (e.g. 0x37) or a name such as "
        f"'Amp Multi (Chorus)' (list them with: magicstomp types)",
        field="effect_type", value=ref, allowed="0x00-0x3F")
