"""Keep the C libraries' stderr chatter out of the user's terminal.

    restore_stderr()     fd 2 back at once (before printing the one-line error)
    quiet_stderr(what)   context manager: inside it, file descriptor 2 goes to a
                         temporary file; what the libraries wrote there is logged
                         at DEBUG afterwards
    close_within(func, what, wait_s)   run a closing call in a daemon thread, wait at most
                         ``wait_s`` (a stalled JACK server blocks client closes ~20 s)
    route_jack_messages() every loaded libjack (the system's, used by PortAudio and
                         JACK-Client, and the copy bundled with python-rtmidi) sends
                         its error and info lines to the DEBUG log instead of stderr:
                         they come from libjack's own threads at any time (e.g.
                         "Cannot read socket fd = 17" when the JACK server stops)

libjack ("Cannot connect to server socket ...", "JackShmReadWritePtr ..."), ALSA
("ALSA lib seq_hw.c:466 ... /dev/snd/seq failed") and PortAudio ("Expression
... failed in pa_jack.c") write straight to fd 2 when a device is opened, closed
or goes away, before the toolkit's own one-line error. The MIDI (``magicstomp.midi``)
and audio (``hil.io``) layers run their library calls inside :func:`quiet_stderr`,
so each problem prints as one line. When DEBUG logging is on (``--verbose``) nothing
is redirected: the chatter shows live, where it happens.

Python's own ``sys.stderr`` writes inside the block are captured too, so keep the
blocks around library calls only (no logging inside).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_lock = threading.RLock()
_state = {"depth": 0, "saved_fd": None, "sink": None}


def _noise_wanted() -> bool:
    return logging.getLogger("magicstomp").isEnabledFor(logging.DEBUG)


def _begin() -> bool:
    """Point fd 2 at a temporary file (outermost block only); False when that failed."""
    if _state["depth"] == 0:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        try:
            sink = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:
            return False
        os.dup2(sink.fileno(), 2)
        _state.update(saved_fd=saved, sink=sink)
    _state["depth"] += 1
    return True


def _end(what: str) -> None:
    if _state["depth"] == 0:          # restore_stderr() already put fd 2 back
        return
    _state["depth"] -= 1
    if _state["depth"] > 0:
        return
    saved, sink = _state["saved_fd"], _state["sink"]
    _state.update(saved_fd=None, sink=None)
    os.dup2(saved, 2)
    os.close(saved)
    try:
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    finally:
        sink.close()
    for line in text.splitlines():
        if line.strip():
            log.debug("%s: library said: %s", what or "device", line.rstrip())


def restore_stderr() -> None:
    """Put fd 2 back at once, even inside a block that has not ended (a library call that
    hangs in another thread must not swallow the command's error line)."""
    with _lock:
        if _state["depth"] > 0:
            os.dup2(_state["saved_fd"], 2)
            os.close(_state["saved_fd"])
            _state["sink"].close()
            _state.update(depth=0, saved_fd=None, sink=None)


@contextlib.contextmanager
def quiet_stderr(what: str = ""):
    """Silence C-library output on fd 2 inside the block (unless DEBUG logging is on).

    Parameters
    ----------
    what : str
        What the block does, for the DEBUG log of the captured lines.
    """
    if _noise_wanted():
        yield
        return
    with _lock:
        active = _begin()
    try:
        yield
    finally:
        if active:
            with _lock:
                _end(what)


_ROUTED: dict = {}      # libjack path -> (library, callback): kept alive


def _jack_message(message: bytes) -> None:
    log.debug("libjack said: %s", message.decode("utf-8", "replace") if message else "")


def route_jack_messages() -> None:
    """Point every libjack loaded in this process at the DEBUG log (Linux; idempotent).

    Call after the library is loaded (after opening a JACK MIDI port or a JACK
    client). Elsewhere (no ``/proc/self/maps``) it does nothing.
    """
    import ctypes
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return
    paths = {line.split()[-1] for line in maps.splitlines()
             if line.split()[-1].startswith("/") and Path(line.split()[-1]).name.startswith("libjack")}
    proto = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
    for path in sorted(paths - set(_ROUTED)):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        callback = proto(_jack_message)
        for name in ("jack_set_error_function", "jack_set_info_function"):
            setter = getattr(library, name, None)
            if setter is not None:
                setter.argtypes, setter.restype = [proto], None
                setter(callback)
        _ROUTED[path] = (library, callback)


def close_within(func, what: str, wait_s: float = 2.0) -> bool:
    """Call ``func()`` (a close) in a daemon thread; True when it returned within ``wait_s``.

    A JACK server that lost a client stalls for about 20 s, and every client close
    blocks until then; the caller moves on and the close finishes in the background
    (or the process exits first).
    """
    def work():      # not inside quiet_stderr: a stuck close would keep fd 2 redirected
        try:
            func()
        except Exception:   # noqa: BLE001 - a port of a vanished server cannot close cleanly
            log.debug("%s failed", what, exc_info=True)

    closer = threading.Thread(target=work, name=what, daemon=True)
    closer.start()
    closer.join(wait_s)
    if closer.is_alive():
        log.debug("%s did not finish within %g s; it goes on in the background", what, wait_s)
        return False
    return True
