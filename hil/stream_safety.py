"""Keeping a process alive when an audio device or its JACK server goes away mid-take.

    mark_fault(reason, server_gone=False)   note that a device failed or vanished
    audio_fault_seen()                      -> bool   (the commands then leave with os._exit)
    audio_stalled()                         -> bool   a stream left open or still closing
    release_audio(timeout_s)                terminate PortAudio when that is safe
    close_stream(stream, finished, server_alive)   close, or leave open, a finished take's stream

Found by the fault drills (tests/test_hardware_faults.py): closing a stream whose
JACK server is gone makes PortAudio's pa_jack.c fail an assertion (SIGABRT in
``CleanUpStream``, or in ``Terminate`` at exit); a stalled server (a client was
killed) blocks PortAudio for about 20 s; and the interpreter's normal finalisation
after such a fault crashed with SIGSEGV in libjack's threads. So: a stream that did
not finish, or whose server is gone, is left open; other streams close in a daemon
thread; PortAudio is terminated only while its server answers.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

log = logging.getLogger("hil.io")

_FAULT = {"reason": None, "server_gone": False}
_CLOSERS: list = []          # threads closing streams of vanished devices
_LEFT_OPEN: list = []        # streams never closed (see close_stream); kept referenced


def _safe_call(func) -> bool:
    try:
        return bool(func())
    except Exception:   # noqa: BLE001 - a check that fails says "not alive"
        log.debug("server check failed", exc_info=True)
        return False


def mark_fault(reason: str, *, server_gone: bool = False) -> None:
    """Note that an audio device failed or vanished (``server_gone``: its JACK server)."""
    if _FAULT["reason"] is None:
        log.debug("audio fault: %s", reason)
        _FAULT["reason"] = reason
    _FAULT["server_gone"] = _FAULT["server_gone"] or server_gone


def release_audio(*, timeout_s: float = 2.0) -> bool:
    """Terminate PortAudio (closing its JACK client, so a JACK server does not stall on a
    vanished client) unless its server is gone or a stream is still closing; gives up
    after ``timeout_s`` (a stalled server). True when PortAudio was released."""
    sd = sys.modules.get("sounddevice")
    if sd is None or not sd._initialized:
        return True
    if _FAULT["server_gone"] or _closing() or _LEFT_OPEN:
        return False

    def work():
        with contextlib.suppress(Exception):
            while sd._initialized:
                sd._terminate()

    worker = threading.Thread(target=work, name="release-audio", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()


def audio_fault_seen() -> bool:
    """True once an audio device failed or vanished in this process (see :func:`mark_fault`)."""
    return _FAULT["reason"] is not None


def audio_stalled() -> bool:
    """True when a stream was left open or is still closing (its server may be stalled)."""
    return bool(_LEFT_OPEN) or _closing()


def _closing(wait_s: float = 0.0) -> bool:
    """True while a stream is still closing in the background (after ``wait_s`` more)."""
    for thread in list(_CLOSERS):
        thread.join(wait_s)
        if not thread.is_alive():
            _CLOSERS.remove(thread)
    return bool(_CLOSERS)


def _skip_terminate_if_wedged() -> None:
    sd = sys.modules.get("sounddevice")
    if (_closing() or _LEFT_OPEN) and sd is not None:
        sd._initialized = 0          # sounddevice's exit handler then skips Pa_Terminate

def close_stream(stream, *, finished: bool, server_alive=None, wait_s: float = 5.0) -> None:
    """Close ``stream`` without ever hanging or aborting the caller.

    A stream that did not finish (its device or server stalled or vanished), or whose
    JACK server is gone (``server_alive()`` False), is left open: PortAudio's JACK
    host API asserts (SIGABRT) when its port calls fail while closing, and blocks for
    20 s on a stalled server. Otherwise the closing runs in a daemon thread, left to
    finish in the background after ``wait_s``.
    """
    gone = server_alive is not None and not _safe_call(server_alive)
    if not finished or gone:
        _LEFT_OPEN.append(stream)
        mark_fault("a stream was left open: " + ("its JACK server is gone" if gone
                                                 else "it did not finish"), server_gone=gone)
        return

    def work():
        try:    # not inside quiet_stderr: a stuck close would keep fd 2 redirected
            stream.close(ignore_errors=True)
        except Exception:   # noqa: BLE001 - a vanished device cannot be closed cleanly
            log.debug("closing the stream failed", exc_info=True)

    closer = threading.Thread(target=work, name="close-audio-stream", daemon=True)
    closer.start()
    closer.join(wait_s)
    if closer.is_alive():
        _CLOSERS.append(closer)
        mark_fault("a stream did not close")
        log.debug("the audio stream did not close within %.0f s; it closes in the background",
                  wait_s)
