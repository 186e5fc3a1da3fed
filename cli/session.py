"""The session folder ``out/<session>/``: written whole, or its essentials, or not at all.

Every file is written into a hidden sibling folder ``out/.<session>.partial-<pid>-XXXX``
(each file atomically), and the folder is renamed to ``out/<session>`` only by
:meth:`SessionWriter.commit`. An error or Ctrl-C before the search found
anything removes the partial folder; an interrupt after it publishes the
essentials (:meth:`SessionWriter.publish_essentials`). An existing session is
replaced only with ``force`` (and only once the new one is written).

The name is claimed when the run starts (:mod:`cli.session_lock`): ``out/.<session>.lock``
holds the run's pid, and a second run with that name is refused while the first lives
(``--force`` included). Locks, partial folders and ``.<session>.replaced-<pid>``
folders left by runs that died (SIGKILL, power cut) are removed by the next run.
"""

from __future__ import annotations

import csv
import functools
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

from .interrupts import deferred_interrupts
from .session_lock import SessionLock, remove_leftovers

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


def public_error(exc: OSError, partial, final) -> OSError:
    """``exc`` with its file named where the session is (or would have been) published,
    not in the hidden partial folder (toolkit errors and other paths unchanged)."""
    from magicstomp.errors import MagicstompError

    name = str(getattr(exc, "filename", None) or "")
    if isinstance(exc, MagicstompError) or not name.startswith(str(partial)):
        return exc
    return OSError(exc.errno, exc.strerror, str(final) + name[len(str(partial)):])


def _public_names(method):
    """A writing method whose file errors name the published session's file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OSError as exc:
            raise public_error(exc, self.dir, self.final_dir) from None

    return wrapper


#: the folder the last :meth:`SessionWriter.commit` of this process published (None: none yet
#: in the current run); read by the interrupt message of ``auto_match_hil``
published: dict = {"dir": None}


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
        self.files: list = []
        self.committed = False
        published["dir"] = None
        self.check_free()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.lock = SessionLock(self.out_dir, name)
        self.lock.acquire()
        try:
            self.check_free()
            remove_leftovers(self.out_dir, name)
            self.dir = Path(tempfile.mkdtemp(prefix=f".{name}.partial-{os.getpid()}-",
                                             dir=self.out_dir))
        except BaseException:
            self.lock.release()
            raise

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
        if path.name not in self.files:
            self.files.append(path.name)
        log.debug("wrote %s", path.name)
        return path

    @_public_names
    def write_text(self, suffix_or_name: str, text: str, *, bare: bool = False) -> Path:
        target = self.dir / suffix_or_name if bare else self.path(suffix_or_name)
        return self.register(atomic_write_text(target, text))

    def write_json(self, suffix: str, doc, *, bare: bool = False) -> Path:
        return self.write_text(suffix, json.dumps(_plain(doc), indent=2) + "\n", bare=bare)

    @_public_names
    def write_patch(self, tag: str, patch) -> tuple:
        """``<s>_<tag>.json`` and ``<s>_<tag>.syx`` (edit-buffer dump), never half-written:
        a signal during the two writes is delivered after them."""
        with deferred_interrupts():
            json_path = self.write_text(f"_{tag}.json", patch.to_json())
            syx_path = self.register(write_syx(self.path(f"_{tag}.syx"), patch))
        return json_path, syx_path

    def best_patch_saver(self, tag: str = "optimized"):
        """An ``on_take`` callback writing ``<s>_<tag>.json/.syx`` whenever a take is a new best."""

        def save(take, recorder):
            if recorder.best_index == take.index and recorder.best_patch is not None:
                try:
                    self.write_patch(tag, recorder.best_patch)
                except OSError as exc:    # a full disk: the search goes on; the end tries again
                    log.warning("could not save the best patch so far: %s",
                                exc.strerror or exc)

        return save

    @_public_names
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

    @_public_names
    def write_png(self, suffix: str, figure) -> Path:
        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=90)
        return self.register(atomic_write_bytes(self.path(suffix), buf.getvalue()))

    # -- publishing -----------------------------------------------------------
    def commit(self) -> Path:
        """Publish the session as ``out_dir/name`` (replacing an old one with ``force``);
        a signal during the renames is delivered after them."""
        with deferred_interrupts():
            self.check_free()
            old = None
            if self.final_dir.exists():
                old = self.out_dir / f".{self.name}.replaced-{os.getpid()}"
                if old.exists():
                    shutil.rmtree(old, ignore_errors=True)
                os.replace(self.final_dir, old)
            os.chmod(self.dir, 0o777 & ~_umask())
            os.replace(self.dir, self.final_dir)
            self.committed = True
            published["dir"] = self.final_dir
            self.dir = self.final_dir
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return self.final_dir

    def has(self, suffix: str) -> bool:
        """Is ``<name><suffix>`` already written in the (partial) session folder?"""
        return self.path(suffix).is_file()

    def publish_essentials(self, write_minimal) -> Path | None:
        """After an interrupt or a write error: publish what is written, if the best patch is.

        ``write_minimal()`` writes a minimal ``<s>_session.json`` (skipped when it fails,
        e.g. on a full disk). Returns the published folder, or None when the best
        patch was never written (the partial folder is then discarded on exit).
        """
        with deferred_interrupts():
            if not (self.has("_optimized.json") and self.has("_optimized.syx")):
                return None
            try:
                write_minimal()
            except OSError as exc:
                log.warning("could not write %s_session.json (%s)", self.name, exc.strerror or exc)
            return self.commit()

    def discard(self) -> None:
        """Remove the partial folder (nothing is published) and free the session name."""
        try:
            if not self.committed and hasattr(self, "dir"):
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            self.lock.release()

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
