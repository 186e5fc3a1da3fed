"""The session folder ``out/<session>/``: written whole or not at all.

Every file is written into a hidden sibling folder ``out/.<session>.partial-XXXX``
(each file atomically), and the folder is renamed to ``out/<session>`` only by
:meth:`SessionWriter.commit`. An error or Ctrl-C before that removes the
partial folder, so a failed run never leaves a half-written session, and an
existing session is replaced only with ``force`` (and only once the new one is
complete).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from magicstomp.errors import ParameterError
from magicstomp.files import atomic_write_bytes, atomic_write_text, write_syx

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_session_name(name: str | None) -> str:
    """A folder name safe on every OS: letters, digits, ``.``, ``_``, ``-`` only.

    Path separators, ``..`` and other characters become ``_``; leading dots are
    dropped (no hidden folders, no path escapes). ``None`` or an empty name gives
    ``session-YYYYmmdd-HHMMSS`` (UTC).

    Raises
    ------
    ParameterError
        when nothing usable is left of the name.
    """
    if name is None or not str(name).strip():
        return datetime.now(timezone.utc).strftime("session-%Y%m%d-%H%M%S")
    safe = _UNSAFE.sub("_", str(name).strip()).strip("._")[:MAX_NAME_CHARS].strip("._")
    if not safe or not re.search(r"[A-Za-z0-9]", safe):
        raise ParameterError(
            f"--session-name {name!r} has no letters or digits to make a folder name; "
            "use e.g. --session-name my_tone", field="session_name", value=name)
    if safe != str(name).strip():
        log.info("session name %r sanitised to %r", name, safe)
    return safe


class SessionWriter:
    """Collects the files of one session and publishes them in one rename.

    Parameters
    ----------
    out_dir : str or Path
        The parent folder (created if missing).
    name : str
        A sanitised session name (see :func:`sanitize_session_name`).
    force : bool
        Replace an existing ``out_dir/name`` on commit.

    Raises
    ------
    ParameterError
        when the session exists and ``force`` is false.
    OSError
        when ``out_dir`` cannot be created or written.
    """

    def __init__(self, out_dir, name: str, *, force: bool = False):
        self.out_dir = Path(out_dir)
        self.name = name
        self.final_dir = self.out_dir / name
        self.force = bool(force)
        self.check_free()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=self.out_dir))
        self.files: list = []
        self.committed = False

    def check_free(self) -> None:
        """Refuse an existing session unless ``force``."""
        if self.final_dir.exists() and not self.force:
            raise ParameterError(
                f"the session folder {self.final_dir} already exists; choose another "
                "--session-name, or add --force to replace it", field="session_name",
                value=self.name)

    # -- writing --------------------------------------------------------------
    def path(self, suffix: str) -> Path:
        """Where ``<name><suffix>`` goes inside the (partial) session folder."""
        return self.dir / f"{self.name}{suffix}"

    def register(self, path: Path) -> Path:
        """Record a file written into the session folder by another module; returns ``path``."""
        self.files.append(path.name)
        log.debug("wrote %s", path.name)
        return path

    def write_text(self, suffix_or_name: str, text: str, *, bare: bool = False) -> Path:
        target = self.dir / suffix_or_name if bare else self.path(suffix_or_name)
        return self.register(atomic_write_text(target, text))

    def write_json(self, suffix: str, doc, *, bare: bool = False) -> Path:
        return self.write_text(suffix, json.dumps(_plain(doc), indent=2) + "\n", bare=bare)

    def write_patch(self, tag: str, patch) -> tuple:
        """``<s>_<tag>.json`` and ``<s>_<tag>.syx`` (edit-buffer dump)."""
        json_path = self.write_text(f"_{tag}.json", patch.to_json())
        syx_path = self.register(write_syx(self.path(f"_{tag}.syx"), patch))
        return json_path, syx_path

    def write_wav(self, suffix_or_name: str, samples, sample_rate: int, *,
                  bare: bool = False) -> Path:
        """Mono 32-bit float WAV (keeps levels above full scale intact)."""
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, np.asarray(samples, dtype=np.float32), int(sample_rate), format="WAV",
                 subtype="FLOAT")
        target = self.dir / suffix_or_name if bare else self.path(suffix_or_name)
        return self.register(atomic_write_bytes(target, buf.getvalue()))

    def write_history(self, history, keys) -> Path:
        """``<s>_history.csv``: one row per take: index, label, seconds, loss, terms, parameters."""
        term_names = sorted({name for take in history for name in take.terms})
        header = ["index", "label", "seconds", "loss"] + term_names + list(keys)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for take in history:
            writer.writerow([take.index, take.label, f"{take.seconds:.4f}", _num(take.loss)]
                            + [_num(take.terms.get(n, "")) for n in term_names]
                            + [take.params.get(k, "") for k in keys])
        return self.write_text("_history.csv", buf.getvalue())

    def write_png(self, suffix: str, figure) -> Path:
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=90)
        return self.register(atomic_write_bytes(self.path(suffix), buf.getvalue()))

    # -- publishing -----------------------------------------------------------
    def commit(self) -> Path:
        """Publish the session as ``out_dir/name`` (replacing an old one with ``force``)."""
        self.check_free()
        old = None
        if self.final_dir.exists():
            old = self.out_dir / f".{self.name}.replaced-{os.getpid()}"
            os.replace(self.final_dir, old)
        os.chmod(self.dir, 0o777 & ~_umask())
        os.replace(self.dir, self.final_dir)
        self.committed = True
        self.dir = self.final_dir
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final_dir

    def discard(self) -> None:
        """Remove the partial folder (nothing is published)."""
        if not self.committed:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.discard()
        return False


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _num(value):
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return value


def _plain(obj):
    """JSON-safe copy: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
