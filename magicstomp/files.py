"""Patch files: .syx (raw SysEx), .ub9 (Yamaha editor library) and patch JSON.

Read
    read_syx(path)      -> [AssembledPatch]   (target, slot, payload), strict framing
    read_ub9(path)      -> [Patch] x 99
    read_mid(path)      -> [AssembledPatch]   SysEx inside a standard MIDI file
    read_patches(path)  -> [Patch]            any of .syx, .ub9, .mid, .json (by suffix or content)
    load_patch(path)    -> Patch              the first patch of any of those
Write (atomically: temp file in the same folder, fsync, os.replace)
    write_syx(path, patch, *, slot=None)      one patch, edit buffer or user slot
    write_bank_syx(path, patches)             99 patches in the bulk-all bracket (21711 bytes)
    write_ub9(path, patches)                  1..99 patches, 17408 bytes
    atomic_write_bytes(path, data), atomic_write_text(path, text)

.ub9 layout (``SYSEX.md`` section 8): "UB99 V1.00" at 0x000 and 0x040 (each
zero-padded to 64 bytes), 99 x 12-byte names at 0x080, 99 x 159-byte payloads
at 0x600, zero padding to 0x4400.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import MagicstompError, PatchFormatError, SysexError
from .patch import NAME_CHARS, NAME_OFFSET, PAYLOAD_BYTES, Patch, parse_json_bytes, read_limited
from .sysex import SLOT_COUNT, SYSEX_START, PatchAssembler, bank_messages, patch_messages, \
    split_messages

UB9_BYTES = 0x4400
UB9_MAGIC = b"UB99 V1.00"
UB9_HEADER_BYTES = 0x40
UB9_NAME_TABLE = 0x080
UB9_PAYLOADS = 0x600
#: What fills the slots of a .ub9 written with fewer than 99 patches (as wolery/ub99
#: writes an empty library): the Amp Simulator init patch with a blank name.
UB9_FILLER_TYPE = 0x08


def _with_path(exc: MagicstompError, path: Path) -> MagicstompError:
    """The same error class, its message prefixed with the file name."""
    new = exc.__class__.__new__(exc.__class__)
    new.__dict__.update(exc.__dict__)
    new.args = (f"{path}: {exc}",)
    return new


def _read_bytes(path) -> tuple:
    path = Path(path)
    if not path.is_file():
        raise PatchFormatError(f"{path}: no such file; check the path")
    data = read_limited(path)
    if not data:
        raise SysexError(f"{path}: the file is empty; expected a patch file")
    return path, data


# -- .syx ---------------------------------------------------------------------
def parse_syx_bytes(data: bytes) -> list:
    """The patches held by concatenated SysEx bytes (see :func:`read_syx`)."""
    assembler = PatchAssembler()
    patches = []
    for msg in split_messages(data):
        patches.extend(assembler.feed(msg))
    assembler.finish()
    if not patches:
        raise SysexError("the data holds no complete patch (start, common block, effect block, "
                         "end)")
    return patches


def read_syx(path) -> list:
    """Read a .syx file (single patch, edit buffer or 99-patch bank).

    Returns
    -------
    list of AssembledPatch
        in file order; each has ``target`` ("edit"/"slot"), ``slot`` and ``payload``.

    Raises
    ------
    SysexError
        (prefixed with the file name) for stray bytes, a truncated message, a
        wrong header, count or checksum, or an incomplete patch group.
    """
    path, data = _read_bytes(path)
    try:
        return parse_syx_bytes(data)
    except SysexError as exc:
        raise _with_path(exc, path) from None


def write_syx(path, patch, *, slot: int | None = None) -> Path:
    """Write one patch as 4 messages (219 bytes): edit buffer, or user ``slot`` 1..99."""
    return atomic_write_bytes(path, b"".join(patch_messages(patch, slot=slot)))


def write_bank_syx(path, patches_or_payloads) -> Path:
    """Write 99 patches (or payloads) in the bulk-all bracket (21711 bytes)."""
    return atomic_write_bytes(path, b"".join(bank_messages(patches_or_payloads)))


def read_mid(path) -> list:
    """Read the patches of a standard MIDI file whose tracks carry the SysEx messages
    (MagicstompFrenzy exports "Send All" this way); same checks as :func:`read_syx`."""
    import mido   # lazy; MidiFile parsing opens no device

    path = Path(path)
    try:
        midi_file = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise SysexError(f"{path}: not a readable standard MIDI file ({exc})") from None
    data = b"".join(bytes([0xF0, *msg.data, 0xF7]) for track in midi_file.tracks
                    for msg in track if msg.type == "sysex")
    try:
        return parse_syx_bytes(data)
    except SysexError as exc:
        raise _with_path(exc, path) from None


# -- .ub9 ---------------------------------------------------------------------
def _ub9_payloads(path: Path, data: bytes) -> list:
    if len(data) != UB9_BYTES:
        raise SysexError(f"{path}: a .ub9 library is exactly {UB9_BYTES} bytes; this file is "
                         f"{len(data)} (truncated, or not a Magicstomp library)")
    for start in (0, UB9_HEADER_BYTES):
        if data[start:start + len(UB9_MAGIC)] != UB9_MAGIC:
            raise SysexError(f"{path}: no {UB9_MAGIC.decode()!r} header at offset 0x{start:03X}; "
                             "this is not a Magicstomp .ub9 library")
    return [data[UB9_PAYLOADS + i * PAYLOAD_BYTES:UB9_PAYLOADS + (i + 1) * PAYLOAD_BYTES]
            for i in range(SLOT_COUNT)]


def read_ub9(path) -> list:
    """Read the 99 patches of a .ub9 library, in slot order.

    Raises
    ------
    SysexError
        wrong size or header; PatchFormatError (naming the slot) for a payload
        that does not decode.
    """
    path, data = _read_bytes(path)
    patches = []
    for slot, payload in enumerate(_ub9_payloads(path, data), start=1):
        try:
            patches.append(Patch.from_payload(payload))
        except PatchFormatError as exc:
            raise PatchFormatError(f"{path}: slot {slot}: {exc}") from None
    return patches


def ub9_bytes(patches) -> bytes:
    """The 17408 bytes of a .ub9 library holding ``patches`` (1..99; the rest are filler)."""
    patches = list(patches)
    if not 1 <= len(patches) <= SLOT_COUNT:
        raise PatchFormatError(f"a .ub9 library holds 1 to {SLOT_COUNT} patches; got {len(patches)}")
    filler = Patch.init(UB9_FILLER_TYPE)
    filler.name = ""
    payloads = [p.to_payload() if isinstance(p, Patch) else bytes(p) for p in patches]
    payloads += [filler.to_payload()] * (SLOT_COUNT - len(payloads))
    out = bytearray(UB9_BYTES)
    out[0:len(UB9_MAGIC)] = UB9_MAGIC
    out[UB9_HEADER_BYTES:UB9_HEADER_BYTES + len(UB9_MAGIC)] = UB9_MAGIC
    for i, payload in enumerate(payloads):
        if len(payload) != PAYLOAD_BYTES:
            raise PatchFormatError(f"patch {i + 1} is {len(payload)} bytes; expected {PAYLOAD_BYTES}")
        name_at = UB9_NAME_TABLE + i * NAME_CHARS
        out[name_at:name_at + NAME_CHARS] = payload[NAME_OFFSET:NAME_OFFSET + NAME_CHARS]
        out[UB9_PAYLOADS + i * PAYLOAD_BYTES:UB9_PAYLOADS + (i + 1) * PAYLOAD_BYTES] = payload
    return bytes(out)


def write_ub9(path, patches) -> Path:
    """Write a .ub9 library (exactly 17408 bytes) from 1..99 patches or payloads."""
    return atomic_write_bytes(path, ub9_bytes(patches))


# -- any patch file -------------------------------------------------------------
def _looks_like(data: bytes) -> str:
    if data[:1] == bytes([SYSEX_START]):
        return ".syx"
    if data[:len(UB9_MAGIC)] == UB9_MAGIC:
        return ".ub9"
    if data.lstrip()[:1] in (b"{", b"["):
        return ".json"
    if data[:4] == b"MThd":
        return ".mid"
    return ""


def load_patch(path) -> Patch:
    """The patch of a patch JSON file, or the first patch of a .syx, .ub9 or .mid file.

    Raises
    ------
    PatchFormatError
        for a missing file, an unknown format or a patch that does not decode;
        SysexError for a broken .syx/.ub9.
    """
    path = Path(path)
    if not path.is_file():
        raise PatchFormatError(f"patch file {str(path)!r} does not exist")
    if path.suffix.lower() == ".json":
        return Patch.load(path)
    return read_patches(path)[0]


def read_patches(path) -> list:
    """Read every patch of a .syx, .ub9, .mid or patch-JSON file (a JSON list gives several).

    The suffix decides; a file with another suffix is recognised by its content.

    Raises
    ------
    PatchFormatError
        for a missing file, an unknown format or a patch that does not decode;
        SysexError for a broken .syx/.ub9.
    """
    path, data = _read_bytes(path)
    kind = path.suffix.lower() if path.suffix.lower() in (".syx", ".ub9", ".json", ".mid") \
        else _looks_like(data)
    if kind == ".mid":
        try:
            return [item.patch() for item in read_mid(path)]
        except PatchFormatError as exc:
            raise _with_path(exc, path) from None
    if kind == ".syx":
        try:
            return [item.patch() for item in parse_syx_bytes(data)]
        except (SysexError, PatchFormatError) as exc:
            raise _with_path(exc, path) from None
    if kind == ".ub9":
        return read_ub9(path)
    if kind == ".json":
        doc = parse_json_bytes(data, str(path))
        docs = doc if isinstance(doc, list) else [doc]
        if not docs:
            raise PatchFormatError(f"{path}: the JSON list holds no patch")
        try:
            return [Patch.from_dict(d) for d in docs]
        except MagicstompError as exc:
            raise _with_path(exc, path) from None
    raise PatchFormatError(f"{path}: unknown patch file format; expected .syx, .ub9, .mid or "
                           ".json")


# -- atomic writes ----------------------------------------------------------------
def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, os.replace.

    A reader sees either the old file or the complete new one, never a partial
    write. The parent folder is created if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(data))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename in (None, tmp_name):
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None  # name ours
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))
