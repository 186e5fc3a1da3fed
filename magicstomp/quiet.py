"""Keep the C libraries' stderr chatter out of the user's terminal.

    quiet_stderr(what)   context manager: inside it, file descriptor 2 goes to a
                         temporary file; what the libraries wrote there is logged
                         at DEBUG afterwards

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
