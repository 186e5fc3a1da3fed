"""What every command shares; kept as the name the `cli` modules import.

The code lives in :mod:`magicstomp.console` (the lowest layer), so that
`python -m analyzers` and the JACK virtual unit in `hil` use it without
importing `cli`.
"""

from magicstomp.console import (EXIT_INTERRUPTED, EXIT_USAGE, FiniteFloatRange,  # noqa: F401
                                fail, handle_errors, log, os_error_sentence, run_one_line,
                                setup_logging, verbose_option)
