"""What every command shares: error translation, --verbose, logging set-up.

It lives in the lowest layer so that every package's command line (`python -m analyzers`,
the JACK virtual unit in `hil`, the `cli` entry points) can use it without importing `cli`.
"""

from __future__ import annotations

import errno
import functools
import logging
import math
import os
import sys
import traceback
from typing import Callable

import click

from .errors import MagicstompError

log = logging.getLogger("magicstomp")


def setup_logging(verbose: bool) -> None:
    """DEBUG logs with --verbose, INFO otherwise, to stderr."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s",
                        stream=sys.stderr, force=True)
    for noisy in ("numba", "matplotlib", "PIL", "asyncio"):   # their DEBUG is not ours
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fail(message: str, *, code: int = 1) -> None:
    """Print one line to stderr and exit with ``code``."""
    quiet = sys.modules.get("magicstomp.quiet")
    if quiet is not None:          # a library call still hanging must not swallow the line
        quiet.restore_stderr()
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run_one_line(super_main: Callable, *, usage_hint: Callable[[click.UsageError], str],
                 interrupted_message: str, standalone_mode: bool = True, **main_kwargs):
    """Run a click ``main`` so usage errors and interrupts are one line and a known exit code.

    Parameters
    ----------
    super_main : callable
        The parent class' ``main`` (bound), called with ``standalone_mode=False``.
    usage_hint : callable
        Maps the usage error to the text appended to its message, e.g. ``" (see --help)"``.
    interrupted_message : str or callable
        What is printed after ``Error: `` on Ctrl-C (exit 130), or a function returning it.
    standalone_mode : bool
        click's flag: when False the command's return value is returned, else the process exits.
    **main_kwargs
        Passed on to ``super_main`` (``args``, ``prog_name``, ``complete_var``, ...).

    Returns
    -------
    object
        The command's return value (only when ``standalone_mode`` is False).
    """
    try:
        try:
            rv = super_main(standalone_mode=False, **main_kwargs)
        except click.UsageError as exc:
            fail(f"{exc.format_message()}{usage_hint(exc)}", code=EXIT_USAGE)
        except click.Abort:
            fail(interrupted_message() if callable(interrupted_message) else interrupted_message,
                 code=EXIT_INTERRUPTED)
        except click.ClickException as exc:
            fail(exc.format_message(), code=exc.exit_code)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
    except SystemExit as exc:
        if main_kwargs.get("prog_name") is None:   # a real process (test runners name it)
            _exit_now_after_device_fault(exc.code)
        raise


def _exit_now_after_device_fault(code) -> None:
    """Leave at once (``os._exit``, after flushing) when an audio or MIDI device failed.

    PortAudio's JACK client, rtmidi's ports and libjack's threads are then in an
    unknown state, and the interpreter's normal finalisation (``Pa_Terminate``,
    libjack's and rtmidi's destructors) can crash the process with SIGSEGV or SIGABRT,
    or block for minutes on a stalled JACK server, after the session was written and
    the error printed. Everything the run owns is already on disk. (``hil.io`` is
    looked up, not imported: this module is below it.)
    """
    io_module = sys.modules.get("hil.io")
    midi_module = sys.modules.get("magicstomp.midi")
    audio_fault = io_module is not None and io_module.audio_fault_seen()
    if not audio_fault and not (midi_module is not None and midi_module.midi_fault_seen()):
        return
    code = code if isinstance(code, int) else (0 if code is None else 1)
    if audio_fault:
        io_module.release_audio()       # close PortAudio's JACK client when that is safe
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def handle_errors(func):
    """Run a command body; toolkit errors become one line and exit 1 (traceback with --verbose).

    The wrapped command must accept a ``verbose`` keyword (the ``--verbose`` flag)
    or find it in the click context object (``ctx.obj["verbose"]``).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        verbose = kwargs.get("verbose")
        if verbose is None and ctx is not None:
            root = ctx.find_root()
            verbose = bool((root.obj or {}).get("verbose")) if isinstance(root.obj, dict) else False
        try:
            return func(*args, **kwargs)
        except MagicstompError as exc:
            if verbose:
                traceback.print_exc()
            fail(str(exc), code=1)
        except BrokenPipeError:  # the reader went away (`magicstomp types | head`): not an error
            _silence_stdout()
            sys.exit(0)
        except OSError as exc:   # files and folders the user named
            if verbose:
                traceback.print_exc()
            fail(os_error_sentence(exc), code=1)

    return wrapper


def os_error_sentence(exc: OSError) -> str:
    """One sentence for a file error: which file, what happened, what to try."""
    name = getattr(exc, "filename", None)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"could not write {name}" if name else "could not write a file"
        return f"{what}: the disk is full; free some space or write elsewhere (--out)"
    if exc.errno == errno.EEXIST and name:       # mkdir over a file
        return f"{name} is a file where a folder is expected; choose another path (--out)"
    if exc.errno == errno.ENOTDIR and name:
        return (f"{name}: part of this path is a file where a folder is expected; choose "
                "another path (--out)")
    where = f" ({name})" if name else ""
    return f"{exc.strerror or exc}{where}; check the path and its permissions"


class FiniteFloatRange(click.FloatRange):
    """A float option within [min, max] that refuses NaN and infinity (click lets NaN through)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; expected {self._describe_range()}",
                      param, ctx)
        return number


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # no real file descriptor (e.g. CliRunner)
        pass


verbose_option = click.option("--verbose", "-v", is_flag=True, default=False,
                              help="Show DEBUG logs and tracebacks.")
