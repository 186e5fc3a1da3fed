"""Unit variants: plausible real units that differ from the emulator's assumptions.

A :class:`UnitVariant` holds one value per spread of
:data:`~magicstomp.emulator.mappings.ASSUMPTION_SPREADS` (a factor of a frequency,
a rate or a taper, or a level offset in dB). Render through it with
``render(patch, audio, rate, variant=v)``, ``VirtualRig(variant=v)`` or
``python -m hil.virtual_unit --variant SEED|FILE`` so the model a search uses can
differ from the unit it plays through, as it will on hardware.

    UnitVariant.draw(7)               every value drawn from its spread (same seed, same unit)
    UnitVariant.nominal()             every value nominal: renders equal the nominal model's
    UnitVariant.from_dict(d)          {"seed": 7, "values": {"hi_mid_hz": 1.12, ...}};
                                      a missing value is nominal, only a seed draws them all
    UnitVariant.load("7" | "u.json")  a seed or a JSON file (the --variant option)
    v.to_dict() / v.to_json()         round trip

Each value is drawn from its own stream (seed, name), so adding a spread later
does not change the values earlier seeds drew for the others.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import EmulationError
from .mappings import ASSUMPTION_SPREADS, SPREADS_BY_NAME

#: widest value a variant may hold, in units of the spread's amount (a fitted unit may
#: lie outside the documented spread, but not absurdly far)
MAX_SPREADS = 2.0
#: decimals kept when drawing (the JSON then shows exactly the values in use)
DRAW_DECIMALS = 4


@dataclass(frozen=True)
class UnitVariant:
    """One plausible unit: spread name -> value (missing names are nominal)."""

    values: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    seed: int | None = None

    def __post_init__(self):
        checked = {name: _check_value(name, value) for name, value in dict(self.values).items()}
        object.__setattr__(self, "values", MappingProxyType(checked))

    def __reduce__(self):          # picklable (for worker processes) despite the read-only view
        return (type(self), (dict(self.values), self.seed))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def nominal(cls) -> "UnitVariant":
        """Every assumption at its nominal value (renders equal the nominal model's)."""
        return cls({s.name: s.nominal for s in ASSUMPTION_SPREADS})

    @classmethod
    def draw(cls, seed: int) -> "UnitVariant":
        """Draw every value uniformly within its documented spread; the same seed, the same unit."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise EmulationError(f"unit variant seed {seed!r} is not a non-negative integer; "
                                 "pass e.g. 7")
        values = {}
        for s in ASSUMPTION_SPREADS:
            rng = np.random.default_rng([int(seed), zlib.crc32(s.name.encode())])
            values[s.name] = round(s.nominal + s.amount * rng.uniform(-1.0, 1.0), DRAW_DECIMALS)
        return cls(values, seed=int(seed))

    @classmethod
    def from_dict(cls, data) -> "UnitVariant":
        """From ``{"seed": N, "values": {...}}``: values given are used (others nominal);
        a seed alone draws every value."""
        if not isinstance(data, dict):
            raise EmulationError(f"a unit variant must be a JSON object with 'seed' and/or "
                                 f"'values'; got {type(data).__name__}")
        unknown = sorted(set(data) - {"seed", "values"})
        if unknown:
            raise EmulationError(f"unit variant field(s) {', '.join(unknown)} are unknown; "
                                 "expected 'seed' and/or 'values'")
        seed, values = data.get("seed"), data.get("values")
        if values is None:
            if seed is None:
                raise EmulationError("a unit variant needs 'values' or a 'seed'; got neither")
            return cls.draw(seed)
        if not isinstance(values, dict):
            raise EmulationError(f"unit variant 'values' must be an object of name: number; "
                                 f"got {type(values).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise EmulationError(f"unit variant seed {seed!r} is not an integer")
        return cls(values, seed=seed)

    @classmethod
    def from_json(cls, text: str) -> "UnitVariant":
        """From the text written by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EmulationError(f"the unit variant is not valid JSON ({exc.msg} at line "
                                 f"{exc.lineno}); write {{\"values\": {{\"hi_mid_hz\": 1.1}}}}") \
                from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, spec) -> "UnitVariant | None":
        """A variant from a seed (an integer or its text) or a JSON file; None/"none" = nominal."""
        if spec is None or isinstance(spec, UnitVariant):
            return spec
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            return cls.draw(int(spec))
        text = str(spec).strip()
        if text.lower() in ("", "none", "nominal"):
            return None
        if text.lstrip("+").isdigit():
            return cls.draw(int(text))
        path = Path(text)
        if not path.is_file():
            raise EmulationError(f"unit variant {text!r} is neither a seed (a non-negative "
                                 "integer) nor an existing JSON file; pass e.g. 7 or unit.json")
        try:
            return cls.from_json(path.read_text())
        except EmulationError as exc:
            raise EmulationError(f"{path}: {exc}") from None

    # -- use ----------------------------------------------------------------------------
    def value(self, name: str) -> float:
        """The value of spread ``name`` (nominal when this variant does not set it)."""
        return self.values.get(name, SPREADS_BY_NAME[name].nominal)

    def to_dict(self) -> dict:
        """``{"seed": ..., "values": {name: value}}`` (every spread, in table order)."""
        return {"seed": self.seed,
                "values": {s.name: self.value(s.name) for s in ASSUMPTION_SPREADS}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def describe(self) -> str:
        """One line: the values that differ from nominal."""
        moved = [f"{s.name} {_fmt(s, self.value(s.name))}" for s in ASSUMPTION_SPREADS
                 if self.value(s.name) != s.nominal]
        label = f"variant seed {self.seed}" if self.seed is not None else "variant"
        return f"{label}: " + (", ".join(moved) if moved else "nominal")


def _fmt(spread, value: float) -> str:
    return f"{value:+.2f} dB" if spread.kind == "db" else f"x{value:.3f}"


def _check_value(name, value) -> float:
    spread = SPREADS_BY_NAME.get(name)
    if spread is None:
        raise EmulationError(f"unit variant value {name!r} is unknown; expected one of "
                             f"{', '.join(s.name for s in ASSUMPTION_SPREADS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)):
        raise EmulationError(f"unit variant value {name}={value!r} is not a finite number")
    lo = spread.nominal - MAX_SPREADS * spread.amount
    hi = spread.nominal + MAX_SPREADS * spread.amount
    if not lo <= float(value) <= hi:
        unit = " dB" if spread.kind == "db" else ""
        raise EmulationError(f"unit variant value {name}={value}{unit} is outside {lo:g} to "
                             f"{hi:g}{unit} (twice its documented spread of +/-{spread.amount:g})")
    return float(value)
