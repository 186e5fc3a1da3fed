"""A Magicstomp patch: effect type, name, knob assignments and parameter values.

The patch payload is 159 bytes: a 32-byte common block (type, knobs, name)
followed by the 127-byte effect block whose layout depends on the type
(``magicstomp/effects.py``). ``Patch.from_payload(b).to_payload() == b`` for
every real factory patch.

JSON form (``to_dict``/``from_dict``), version 1::

    {"format": "magicstomp-patch", "version": 1,
     "effect_type": {"id": 13, "name": "Mono Delay"},
     "name": "MyDelay",
     "knobs": ["delay_time_ms", "feedback_gain_pct", "mix_pct"],
     "params": {"delay_time_ms": 350.0, "feedback_gain_pct": 30, ...}}

``params`` hold physical values (the unit is in each key's suffix; enums are
labels). Missing params take the type's init value; ``knobs`` entries are
parameter keys or null (not assigned).
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from functools import lru_cache
from pathlib import Path

from .effects import KNOB_NONE, EffectType, effect_type
from .errors import ParameterError, PatchFormatError

PAYLOAD_BYTES = 159
COMMON_BYTES = 32
EFFECT_BYTES = 127
NAME_OFFSET = 16
NAME_CHARS = 12
JSON_FORMAT = "magicstomp-patch"
JSON_VERSION = 1
#: limits checked before a patch file is parsed (a 99-patch JSON bank is about 150 kB)
MAX_FILE_BYTES = 4_000_000
MAX_JSON_DEPTH = 16
MAX_NUMBER_CHARS = 40
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@lru_cache(maxsize=1)
def _init_payloads() -> dict:
    doc = json.loads(resources.files(__package__).joinpath("data/init_patches.json")
                     .read_text(encoding="utf-8"))
    return {int(k, 16): bytes.fromhex(v) for k, v in doc["payload_hex"].items()}


def check_name(name) -> str:
    """Return ``name`` if it is a valid patch name (at most 12 printable ASCII characters)."""
    if not isinstance(name, str):
        raise ParameterError(f"name={name!r} must be a string of at most {NAME_CHARS} characters",
                             field="name", value=name)
    if len(name) > NAME_CHARS:
        raise ParameterError(
            f"name={name!r} is {len(name)} characters long; allowed at most {NAME_CHARS}",
            field="name", value=name, allowed=f"<= {NAME_CHARS} characters")
    bad = [c for c in name if not 0x20 <= ord(c) <= 0x7E]
    if bad:
        raise ParameterError(
            f"name={name!r} contains {bad[0]!r}, which is not printable ASCII; "
            "allowed characters are space to '~' (0x20-0x7E)",
            field="name", value=name, allowed="printable ASCII")
    return name


#: characters seen in the names of real patch dumps (SYSEX.md, section 5); others are replaced
DISPLAY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 &'+-.=>")


def patch_name_from(text, *, default: str = "") -> str:
    """A patch name (at most 12 characters) made from free text such as a session name.

    Accents are dropped (``Überdrive`` -> ``Uberdrive``), ``_`` becomes a space,
    any other character outside :data:`DISPLAY_CHARS` (the characters seen in
    real patch names) becomes ``-``; runs of spaces collapse, and the result is
    cut to 12 characters. ``default`` is returned when nothing usable is left.
    """
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    chars = [" " if c == "_" else (c if c in DISPLAY_CHARS else "-") for c in ascii_text]
    name = " ".join("".join(chars).split())[:NAME_CHARS].strip()
    if not any(c.isalnum() for c in name):
        return default
    return check_name(name)


class Patch:
    """One patch of one effect type; values are held raw, read and set physically."""

    def __init__(self, effect_type_ref, *, name: str = "", knobs=None, raw=None,
                 unmapped_bytes=None):
        self.effect_type: EffectType = effect_type(effect_type_ref)
        self.name = check_name(name.rstrip(" ") if isinstance(name, str) else name)
        defaults = Patch._defaults(self.effect_type)
        self._raw = dict(defaults)
        for key, value in (raw or {}).items():
            self.set_raw(key, value)
        knobs = list(knobs) if knobs is not None else [KNOB_NONE] * 3
        if len(knobs) != 3:
            raise ParameterError(f"knobs={knobs!r} must list exactly 3 assignments",
                                 field="knobs", value=knobs)
        self.knobs = tuple(self._knob_index(k) for k in knobs)
        self.unmapped_bytes = dict(unmapped_bytes or {})

    @staticmethod
    def _defaults(t: EffectType) -> dict:
        payload = _init_payloads().get(t.id)
        if payload is None:
            return {p.key: p.default_raw for p in t.params}
        return {p.key: _read(payload, p.payload_offset, p.size) for p in t.params}

    def _knob_index(self, knob) -> int:
        if knob is None:
            return KNOB_NONE
        if isinstance(knob, str):
            return self.effect_type.param(knob).param_index
        if isinstance(knob, int) and 0 <= knob <= 0x3FFF:
            return knob
        raise ParameterError(f"knob assignment {knob!r} must be a parameter key or null",
                             field="knobs", value=knob)

    # -- construction ----------------------------------------------------
    @classmethod
    def init(cls, effect_type_ref) -> "Patch":
        """The init patch of a type, as the unit and its editors define it."""
        t = effect_type(effect_type_ref)
        payload = _init_payloads().get(t.id)
        if payload is None:
            return cls(t, name=t.name[:NAME_CHARS], knobs=list(t.default_knobs) or None)
        return cls.from_payload(payload)

    @classmethod
    def from_payload(cls, payload: bytes) -> "Patch":
        """Decode a 159-byte payload.

        Raises
        ------
        PatchFormatError
            wrong length, a byte above 0x7F, an unknown type or an out-of-range value.
        """
        payload = bytes(payload)
        if len(payload) != PAYLOAD_BYTES:
            raise PatchFormatError(
                f"patch payload is {len(payload)} bytes; expected {PAYLOAD_BYTES} "
                "(32-byte common block + 127-byte effect block)")
        high = [i for i, b in enumerate(payload) if b > 0x7F]
        if high:
            raise PatchFormatError(
                f"patch byte {high[0]} is 0x{payload[high[0]]:02X}; SysEx data bytes must be "
                "0x00-0x7F (is the file corrupt?)")
        type_id = _read(payload, 0, 2)
        try:
            t = effect_type(type_id)
        except ParameterError:
            raise PatchFormatError(
                f"unknown effect type id {type_id} (0x{type_id:02X}) in the patch; "
                "expected 0x00-0x3F") from None
        raw = {}
        covered = set(range(NAME_OFFSET, NAME_OFFSET + NAME_CHARS)) | set(range(0, 8))
        for p in t.params:
            value = _read(payload, p.payload_offset, p.size)
            if not p.min_raw <= value <= p.max_raw:
                raise PatchFormatError(
                    f"{t.name}: {p.key} has raw value {value} at payload byte {p.payload_offset}; "
                    f"allowed {p.describe_raw_range()} (is the patch from another firmware?)")
            raw[p.key] = value
            covered.update(range(p.payload_offset, p.payload_offset + p.size))
        name_bytes = payload[NAME_OFFSET:NAME_OFFSET + NAME_CHARS]
        name = name_bytes.rstrip(b" \x00").decode("ascii")
        if any(not 0x20 <= c <= 0x7E for c in name.encode("ascii")):
            raise PatchFormatError(f"patch name {name_bytes!r} holds non-printable bytes")
        knobs = [_read(payload, o, 2) for o in (2, 4, 6)]
        unmapped = {i: b for i, b in enumerate(payload) if i not in covered and b != 0}
        return cls(t, name=name, knobs=knobs, raw=raw, unmapped_bytes=unmapped)

    # -- values ----------------------------------------------------------
    def get(self, key: str):
        """Physical value of a parameter."""
        p = self.effect_type.param(key)
        return p.to_physical(self._raw[p.key])

    def get_raw(self, key: str) -> int:
        return self._raw[self.effect_type.param(key).key]

    def set(self, key: str, value) -> "Patch":
        """Set a parameter from its physical value (snapped to the unit's step); returns self."""
        p = self.effect_type.param(key)
        self._raw[p.key] = p.to_raw(value)
        return self

    def set_raw(self, key: str, raw: int) -> "Patch":
        p = self.effect_type.param(key)
        p.check_raw(raw)
        self._raw[p.key] = raw
        return self

    def values(self) -> dict:
        """All parameters as ``{key: physical value}``, in offset order."""
        return {p.key: p.to_physical(self._raw[p.key]) for p in self.effect_type.params}

    def raw_values(self) -> dict:
        return dict(self._raw)

    def copy(self) -> "Patch":
        return Patch(self.effect_type, name=self.name, knobs=self.knobs, raw=self._raw,
                     unmapped_bytes=self.unmapped_bytes)

    def with_values(self, **values) -> "Patch":
        """A copy with some parameters set from physical values."""
        new = self.copy()
        for key, value in values.items():
            new.set(key, value)
        return new

    def __eq__(self, other) -> bool:
        return isinstance(other, Patch) and self.to_payload() == other.to_payload()

    def __repr__(self) -> str:
        return f"Patch({self.effect_type.name!r}, name={self.name!r})"

    # -- encoding ----------------------------------------------------------
    def to_payload(self) -> bytes:
        """The 159-byte payload (7-bit bytes)."""
        out = bytearray(PAYLOAD_BYTES)
        _write(out, 0, 2, self.effect_type.id)
        for i, knob in enumerate(self.knobs):
            _write(out, 2 + 2 * i, 2, knob)
        out[NAME_OFFSET:NAME_OFFSET + NAME_CHARS] = self.name.ljust(NAME_CHARS).encode("ascii")
        for offset, value in self.unmapped_bytes.items():
            out[int(offset)] = int(value)
        for p in self.effect_type.params:
            _write(out, p.payload_offset, p.size, self._raw[p.key])
        return bytes(out)

    def common_block(self) -> bytes:
        return self.to_payload()[:COMMON_BYTES]

    def effect_block(self) -> bytes:
        return self.to_payload()[COMMON_BYTES:]

    def knob_keys(self) -> list:
        """Knob assignments as parameter keys (None = not assigned, int = unknown index)."""
        out = []
        for k in self.knobs:
            p = self.effect_type.by_index.get(k)
            out.append(None if k == KNOB_NONE else (p.key if p else k))
        return out

    # -- JSON --------------------------------------------------------------
    def to_dict(self) -> dict:
        doc = {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "effect_type": {"id": self.effect_type.id, "name": self.effect_type.name},
            "name": self.name,
            "knobs": self.knob_keys(),
            "params": self.values(),
        }
        if self.unmapped_bytes:
            doc["unmapped_bytes"] = {str(k): v for k, v in sorted(self.unmapped_bytes.items())}
        return doc

    @classmethod
    def from_dict(cls, doc) -> "Patch":
        """Build a patch from its JSON form; missing params take the type's init values."""
        if not isinstance(doc, dict):
            raise PatchFormatError("a patch JSON document must be an object with "
                                   "'effect_type' and 'params'")
        if doc.get("format", JSON_FORMAT) != JSON_FORMAT:
            raise PatchFormatError(f"format {doc.get('format')!r} is not {JSON_FORMAT!r}")
        if doc.get("version", JSON_VERSION) != JSON_VERSION:
            raise PatchFormatError(f"patch JSON version {doc.get('version')!r} is not supported; "
                                   f"this toolkit reads version {JSON_VERSION}")
        if "effect_type" not in doc:
            raise PatchFormatError("the patch JSON has no 'effect_type' (an id or a name)")
        ref = doc["effect_type"]
        if isinstance(ref, dict):
            ref = ref.get("id", ref.get("name"))
        patch = cls.init(ref)
        if "name" in doc:
            if not isinstance(doc["name"], str):
                raise PatchFormatError(f"'name' is {doc['name']!r}; expected a string of at most "
                                       f"{NAME_CHARS} printable ASCII characters")
            patch.name = check_name(doc["name"].rstrip(" "))
        params = doc.get("params", {})
        if not isinstance(params, dict):
            raise PatchFormatError("'params' must be an object of {key: value}")
        for key, value in params.items():
            patch.set(key, value)
        if "knobs" in doc:
            knobs = doc["knobs"]
            if not isinstance(knobs, list) or len(knobs) != 3:
                raise ParameterError(f"knobs={knobs!r} must list exactly 3 assignments",
                                     field="knobs", value=knobs)
            patch.knobs = tuple(patch._knob_index(k) for k in knobs)
        if "unmapped_bytes" in doc:
            patch.unmapped_bytes = _check_unmapped(doc["unmapped_bytes"])
        return patch

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Patch":
        """A patch from JSON text (nesting depth and number lengths checked, see
        :func:`parse_json_text`)."""
        return cls.from_dict(parse_json_text(text))

    @classmethod
    def load(cls, path) -> "Patch":
        """Read a patch JSON file. Every format (.syx, .ub9, .mid too): ``files.load_patch``.

        The file's size, encoding (UTF-8), nesting depth and number lengths are
        checked before it is parsed; each problem is a :class:`PatchFormatError`.
        """
        path = Path(path)
        if not path.is_file():
            raise PatchFormatError(f"patch file {str(path)!r} does not exist")
        if path.suffix.lower() != ".json":
            raise PatchFormatError(f"{path} is not a patch .json; read .syx, .ub9 and .mid "
                                   "files with magicstomp.files.load_patch")
        try:
            return cls.from_dict(parse_json_bytes(read_limited(path), str(path)))
        except PatchFormatError as exc:
            if str(exc).startswith(str(path)):
                raise
            raise PatchFormatError(f"{path}: {exc}") from None


def read_limited(path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a patch file, refused above ``limit`` before anything is read."""
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise PatchFormatError(f"{path} is {size} bytes; a patch file is at most {limit} bytes "
                               "(a 99-patch bank is far smaller): check that it is a patch file")
    return path.read_bytes()


def parse_json_bytes(data: bytes, source: str = "the patch") -> object:
    """Decode patch-file bytes as UTF-8 JSON, checked (see :func:`parse_json_text`)."""
    if len(data) > MAX_FILE_BYTES:
        raise PatchFormatError(f"{source} is {len(data)} bytes; a patch file is at most "
                               f"{MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PatchFormatError(f"{source} is not UTF-8 text (byte 0x{data[exc.start]:02X} at "
                               f"offset {exc.start}); expected a patch JSON file as written by "
                               "`magicstomp decode`") from None
    return parse_json_text(text, source)


def parse_json_text(text: str, source: str = "the patch") -> object:
    """``json.loads`` with limits: nesting at most 16 levels (checked before parsing),
    numbers of at most 40 characters, finite, and no NaN/Infinity constants.

    Raises
    ------
    PatchFormatError
        with one sentence naming what was found.
    """
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise PatchFormatError(f"{source} nests objects or lists more than {MAX_JSON_DEPTH} "
                                   "levels deep; a patch JSON is 3 levels deep (check the file)")

    def number(kind):
        def parse(token: str):
            value = float(token) if kind is float else int(token) if len(token) <= 20 else None
            if len(token) > MAX_NUMBER_CHARS or value is None or not math.isfinite(value):
                shown = token if len(token) <= 24 else f"{token[:12]}...({len(token)} characters)"
                raise PatchFormatError(f"{source} holds the number {shown}, too long or too "
                                       "large for a parameter; expected values in the "
                                       "parameters' ranges (see `magicstomp types TYPE`)")
            return value
        return parse

    def constant(token: str):
        raise PatchFormatError(f"{source} holds {token}, which is not a number; expected finite "
                               "values in the parameters' ranges")

    try:
        return json.loads(text, parse_int=number(int), parse_float=number(float),
                          parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise PatchFormatError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno})") \
            from None


def _check_unmapped(items) -> dict:
    """``{"offset": value}`` from JSON -> ``{offset: value}``, offsets 0-158 and values 0-127."""
    if not isinstance(items, dict):
        raise PatchFormatError("'unmapped_bytes' must be an object of {payload offset: byte}")
    out = {}
    for key, value in items.items():
        try:
            offset, byte = int(key), int(value)
        except (TypeError, ValueError):
            offset = byte = -1
        if not (0 <= offset < PAYLOAD_BYTES and 0 <= byte <= 0x7F):
            raise PatchFormatError(
                f"unmapped_bytes entry {key!r}: {value!r} is not a payload offset 0-"
                f"{PAYLOAD_BYTES - 1} with a byte 0-127; remove it or fix it")
        out[offset] = byte
    return out


def _read(buf: bytes, offset: int, size: int) -> int:
    if size == 2:
        return (buf[offset] << 7) | buf[offset + 1]
    return buf[offset]


def _write(buf: bytearray, offset: int, size: int, value: int) -> None:
    if size == 2:
        buf[offset] = (value >> 7) & 0x7F
        buf[offset + 1] = value & 0x7F
    else:
        buf[offset] = value & 0x7F
