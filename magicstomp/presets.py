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
from pathlib import Path

from .errors import PatchFormatError
from .files import load_patch
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
    for preset in pool:       # "tape echo" for TapeEcho: the display has no room for spaces
        if preset.name.lower().replace(" ", "") == wanted.replace(" ", ""):
            return preset
    raise PatchFormatError(f"no factory preset named {name!r}{_close_hint(wanted, pool)}")


def _close_hint(wanted: str, pool) -> str:
    """"; did you mean A, B?" with the presets' own spelling (or how names look)."""
    by_lower = {p.name.lower(): p.name for p in pool}
    squeezed = {k.replace(" ", ""): v for k, v in by_lower.items()}
    close = get_close_matches(wanted.replace(" ", ""), sorted(squeezed), n=3, cutoff=0.6)
    if close:
        return f"; did you mean {', '.join(squeezed[c] for c in close)}?"
    return ("; names are as on the unit's display (e.g. HeavyHiGain, TapeEcho), or pick by "
            "bank and number (e.g. 'guitar 54'); `magicstomp presets` lists them all")


#: Suffixes that make a name a file (a missing file is then an error, not a preset lookup).
PATCH_FILE_SUFFIXES = (".json", ".syx", ".ub9", ".mid")


def patch_from_file_or_preset(ref) -> tuple[Patch, str]:
    """A user's patch file (.json/.syx/.ub9/.mid: its first patch) or a factory preset by name.

    Returns ``(patch, label)``, the label saying where the patch came from. A name
    with a patch-file suffix, or naming an existing file, is read as a file; any
    other name is looked up among the factory presets (see :func:`find_preset`).

    Raises
    ------
    PatchFormatError
        a missing or broken file, or a name that is neither a file nor a preset
        (the message names close matches).
    """
    path = Path(str(ref)).expanduser()
    if path.suffix.lower() in PATCH_FILE_SUFFIXES or path.is_file():
        return load_patch(path), str(path)
    try:
        preset = find_preset(str(ref))
    except PatchFormatError as exc:
        hint = str(exc).partition(";")[2].strip()
        raise PatchFormatError(f"{str(ref)!r} is neither a patch file nor a factory preset; "
                               f"{hint}") from None
    return preset.patch(), f"factory preset {preset.label}"
