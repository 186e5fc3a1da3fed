"""Yamaha's factory presets (292 real payloads: guitar, bass and acoustic banks).

The payloads ship in ``magicstomp/data/factory_presets.json`` (provenance and
licence in ``magicstomp/data/SOURCES.md``). Five guitar presets are withheld by
the source as private holdouts, so the guitar bank has 94 entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from difflib import get_close_matches
from functools import lru_cache
from importlib import resources

from .errors import PatchFormatError
from .patch import Patch

BANKS = ("guitar", "bass", "acoustic")


@dataclass(frozen=True)
class FactoryPreset:
    bank: str           # "guitar", "bass" or "acoustic"
    index: int          # 1-based slot in that bank
    name: str           # as stored, trailing spaces removed
    effect_type_id: int
    payload: bytes      # 159 bytes

    @property
    def label(self) -> str:
        return f"{self.bank} {self.index} {self.name}"

    def patch(self) -> Patch:
        return Patch.from_payload(self.payload)


@lru_cache(maxsize=1)
def factory_presets() -> tuple[FactoryPreset, ...]:
    """Every vendored factory preset, banks in the order guitar, bass, acoustic."""
    doc = json.loads(resources.files(__package__).joinpath("data/factory_presets.json")
                     .read_text(encoding="utf-8"))
    return tuple(FactoryPreset(bank, int(item["index"]), item["name"].strip(),
                               int(item["effect_type"]), bytes.fromhex(item["payload_hex"]))
                 for bank in BANKS for item in doc["banks"].get(bank, ()))


def find_preset(name: str) -> FactoryPreset:
    """The preset called ``name`` (case-insensitive; "bank:name" or "bank N" pick a bank).

    Raises PatchFormatError naming close matches when there is none.
    """
    wanted = name.strip().lower()
    bank = None
    for sep in (":", " "):
        head, _, tail = wanted.partition(sep)
        if head in BANKS and tail:
            bank, wanted = head, tail.strip()
            break
    pool = [p for p in factory_presets() if bank in (None, p.bank)]
    for preset in pool:
        if preset.name.lower() == wanted or (wanted.isdigit() and bank and preset.index == int(wanted)):
            return preset
    by_lower = {p.name.lower(): p.name for p in pool}
    close = [by_lower[c] for c in get_close_matches(wanted, sorted(by_lower), n=3, cutoff=0.6)]
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; `magicstomp presets` lists them"
    raise PatchFormatError(f"no factory preset named {name!r}{hint}")
