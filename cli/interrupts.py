"""Signals during a run: SIGTERM is Ctrl-C, and short critical sections are not cut.

    sigterm_as_interrupt()   SIGTERM raises KeyboardInterrupt, as Ctrl-C does (restored on exit)
    deferred_interrupts()    SIGINT/SIGTERM arriving inside are held and raised on leaving
    quiet_from_now()         after an interrupted run is saved: later signals are ignored
    pid_alive(pid)           is process ``pid`` still running (for stale locks and folders)

A critical section is a few file writes and renames (the best patch, the
essential session files, the publishing rename): a signal there is delivered
as soon as they are done, so a second Ctrl-C can never leave half of them.
Signal handlers can be set only from the main thread; elsewhere these context
managers change nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

_held: list = []
_depth = 0


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside, SIGTERM is handled like Ctrl-C (a KeyboardInterrupt)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _hold(signum, frame):
    _held.append(signum)


@contextlib.contextmanager
def deferred_interrupts():
    """Hold SIGINT and SIGTERM until the block is done, then raise KeyboardInterrupt.

    Nested blocks are one block (the outermost raises).
    """
    global _depth
    if not _main_thread():
        yield
        return
    if _depth == 0:
        saved = {sig: signal.signal(sig, _hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            wanted = [sig for sig in _held if saved[sig] is not signal.SIG_IGN]
            _held.clear()
            if wanted:
                raise KeyboardInterrupt


_saved_quiet: dict = {}


def quiet_from_now() -> None:
    """After an interrupted run's session is published: later SIGINT/SIGTERM are ignored,
    so a late second Ctrl-C cannot turn the exit (130) into a kill by signal while the
    interpreter shuts down (it resets Python-level handlers then, not SIG_IGN).
    :func:`restore_signals` undoes it (in-process callers; a process just exits)."""
    if not _main_thread() or _saved_quiet:
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        _saved_quiet[sig] = signal.signal(sig, signal.SIG_IGN)


def restore_signals() -> None:
    """Undo :func:`quiet_from_now` (nothing when it was not called)."""
    if not _main_thread():
        return
    for sig, handler in _saved_quiet.items():
        signal.signal(sig, handler)
    _saved_quiet.clear()
    _held.clear()


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (one we may not signal counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
