"""The session name's lock and the leftovers of runs that died, beside the sessions in ``out/``.

    SessionLock(out_dir, name)       ``out/.<name>.lock``: acquire() claims the name, release()
    remove_leftovers(out_dir, name)  partial and replaced folders, and locks, of dead runs

Used by :class:`cli.session.SessionWriter` when a run starts and ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from pathlib import Path

try:                      # POSIX: a lock the system frees when its process ends
    import fcntl
except ImportError:       # pragma: no cover - Windows: exclusive create and a pid check
    fcntl = None

from magicstomp.errors import ParameterError

from .interrupts import pid_alive

log = logging.getLogger("cli.session")

#: what runs leave beside the sessions: ``.<name>.partial-<pid>-XXXX``, ``.<name>.replaced-<pid>``
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:partial-(?P<ppid>\d+)-.*|replaced-(?P<rpid>\d+)"
                       r"|partial-[^-]*)$")
_STALE_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")


class SessionLock:
    """``out_dir/.<name>.lock``: the pid of the run that owns the session name.

    On POSIX the file is held with ``flock``, which the system releases when the
    process ends however it ends, so a lock of a run that died is simply taken
    over; elsewhere the file is created exclusively and a lock whose pid is no
    longer alive is taken over.
    """

    def __init__(self, out_dir: Path, name: str):
        self.path = Path(out_dir) / f".{name}.lock"
        self.name = name
        self.held = False
        self._fd = None

    def acquire(self) -> None:
        """Claim the name.

        Raises
        ------
        ParameterError
            when a live run holds the name.
        """
        for _ in range(20):
            claimed = self._flock() if fcntl is not None else self._exclusive()
            if claimed:
                self.held = True
                return
        raise ParameterError(f"the session name {self.name!r} could not be claimed ({self.path} "
                             "keeps changing); choose another --session-name",
                             field="session_name", value=self.name)

    def _refuse(self, owner) -> None:
        who = f"pid {owner}" if owner is not None else "another process"
        raise ParameterError(
            f"the session name {self.name!r} is in use by another run ({who}, lock "
            f"{self.path}); wait for it to finish or choose another --session-name",
            field="session_name", value=self.name)

    def _flock(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._refuse(self.owner())
            try:        # the last owner may have removed the file between our open and lock
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return False
            previous = self.owner()
            if previous is not None and previous != os.getpid():
                log.info("took over the session name %r from a run that ended (pid %s)",
                         self.name, previous)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def _exclusive(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = self.owner()
            if owner is not None and owner != os.getpid() and pid_alive(owner):
                self._refuse(owner)
            log.info("took over the session name %r from a run that ended (pid %s)",
                     self.name, owner)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        return True

    def owner(self) -> int | None:
        """The pid in the lock file (None when it is unreadable or garbled)."""
        try:
            return int(self.path.read_text(encoding="ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def release(self) -> None:
        """Remove the lock file (while still holding it) and free the name."""
        if self.held and (self._fd is not None or self.owner() == os.getpid()):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.held = False


def remove_leftovers(out_dir: Path, name: str) -> list:
    """Remove partial and replaced folders, and locks, of runs that ended; returns the names
    removed.

    A folder of the session ``name`` (whose lock the caller holds) is always a
    leftover; one of another session only when the pid in its name is not alive.
    """
    removed = []
    for entry in Path(out_dir).iterdir():
        lock = _STALE_LOCK.match(entry.name)
        if lock and lock.group("name") != name and entry.is_file():
            if _remove_stale_lock(SessionLock(out_dir, lock.group("name"))):
                removed.append(entry.name)
            continue
        m = _LEFTOVER.match(entry.name)
        if m is None or not entry.is_dir() or entry.is_symlink():
            continue
        pid = m.group("ppid") or m.group("rpid")
        if m.group("name") != name and (pid is None or int(pid) == os.getpid()
                                        or pid_alive(int(pid))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
        log.info("removed %s, left by a run that ended", entry.name)
    return removed


def _remove_stale_lock(lock: SessionLock) -> bool:
    """Remove another session's lock whose pid is gone (and, on POSIX, that nobody holds)."""
    owner = lock.owner()
    if owner is None or owner == os.getpid() or pid_alive(owner):
        return False
    try:
        fd = os.open(lock.path, os.O_RDWR)
    except OSError:
        return False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock.path)
        return True
    finally:
        os.close(fd)
