"""What every command shares; kept as the name the `cli` modules import.

The code lives in :mod:`magicstomp.console` (the lowest layer), so that
`python -m analyzers` and the JACK virtual unit in `hil` use it without
importing `cli`.
"""

from magicstomp.console import (EXIT_INTERRUPTED, EXIT_USAGE, FiniteFloatRange,  # noqa: F401
                                fail, handle_errors, log, os_error_sentence, run_one_line,
                                setup_logging, verbose_option)

import click  # noqa: E402

#: the highest sound-card channel the commands accept (--in-ch, --out-ch)
MAX_CHANNEL = 64


def parse_channels(text) -> list:
    """``--in-ch`` as 1-based channel numbers ("1" or "1,2"); anything else is a usage error."""
    try:
        channels = [int(c) for c in str(text).replace(",", " ").split()]
    except ValueError:
        channels = []
    if not channels or min(channels) < 1 or max(channels) > MAX_CHANNEL:
        raise click.UsageError(f"--in-ch {text!r} is not a channel list; expected 1-based "
                               f"numbers up to {MAX_CHANNEL} such as 1 or 1,2")
    return channels


def channel_options(command):
    """``--in-ch`` (parse it with :func:`parse_channels`) and ``--out-ch``, as every command
    that plays through the sound card takes them."""
    command = click.option("--out-ch", type=click.IntRange(1, MAX_CHANNEL), default=1,
                           show_default=True,
                           help="Output channel feeding the re-amp box, 1-based.")(command)
    return click.option("--in-ch", default="1", show_default=True,
                        help="Input channel(s), 1-based; '1,2' averages a stereo return."
                        )(command)
