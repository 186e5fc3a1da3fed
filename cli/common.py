"""What every command shares: error translation, --verbose, logging set-up."""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback

import click

from magicstomp.errors import MagicstompError

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
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


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
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            fail(f"{exc.strerror or exc}{where}; check the path and its permissions", code=1)

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # no real file descriptor (e.g. CliRunner)
        pass


verbose_option = click.option("--verbose", "-v", is_flag=True, default=False,
                              help="Show DEBUG logs and tracebacks.")
