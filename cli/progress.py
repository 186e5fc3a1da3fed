"""Progress of a search: a bar on a terminal, plain log lines otherwise.

``Progress(budget_takes)`` is an ``on_take(take, recorder)`` callback. On a
terminal (stderr is a TTY) it redraws one line: the take's number (take 0 =
the starting patch, as in the history, report and plots), takes done / budget,
best loss, seconds per take and time left. Elsewhere (CI, a pipe, a log file) it
logs one INFO line every ``log_every`` takes and on every new best.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("magicstomp.progress")

BAR_CHARS = 24


class Progress:
    """Callback showing takes, best loss and time left.

    Parameters
    ----------
    budget_takes : int
        The take budget (100 %).
    stream : file, optional
        Where the bar goes (default stderr).
    tty : bool, optional
        Force the bar (True) or log lines (False); default: ``stream.isatty()``.
    log_every : int
        Log-line interval when not on a terminal.
    """

    def __init__(self, budget_takes: int, *, stream=None, tty: bool | None = None,
                 log_every: int = 10):
        self.budget_takes = int(budget_takes)
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.log_every = max(1, int(log_every))
        self.started = time.monotonic()
        self._best = float("inf")
        self._drawn = False

    def eta_s(self, done: int) -> float:
        """Seconds left at the mean pace so far (takes left x mean seconds per take)."""
        if done <= 0:
            return float("nan")
        per_take = (time.monotonic() - self.started) / done
        return per_take * max(0, self.budget_takes - done)

    def __call__(self, take, recorder) -> None:
        done = take.index + 1
        new_best = recorder.best_loss < self._best
        self._best = recorder.best_loss
        eta = self.eta_s(done)
        if self.tty:
            filled = int(BAR_CHARS * done / max(self.budget_takes, 1))
            bar = "#" * filled + "-" * (BAR_CHARS - filled)
            self.stream.write(f"\r[{bar}] take {take.index} ({done}/{self.budget_takes} "
                              f"takes)  best {self._best:.5g}  {take.seconds:.2f} s/take  "
                              f"~{eta:.0f} s left ")
            self.stream.flush()
            self._drawn = True
        elif new_best or done % self.log_every == 0 or done == self.budget_takes:
            log.info("take %d%s: loss %.5g, best %.5g%s (%d of %d takes, about %.0f s left)",
                     take.index, " (starting patch)" if take.index == 0 else "", take.loss,
                     self._best, " (new best)" if new_best else "", done, self.budget_takes, eta)

    def close(self) -> None:
        """End the bar's line."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
