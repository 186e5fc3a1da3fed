"""How every benchmark times a call: one untimed warm-up, then wall-clock and CPU time per repeat.

CPU time (``time.process_time``) is kept beside the wall clock because the 2 cores of
this machine are shared: under load the wall clock also counts time spent waiting.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds: the warm-up call, then each timed repeat (wall clock and CPU)."""

    first_s: float
    wall_s: tuple
    cpu_s: tuple

    @property
    def median_wall_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def min_wall_s(self) -> float:
        return min(self.wall_s)

    @property
    def max_wall_s(self) -> float:
        return max(self.wall_s)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(self.cpu_s)

    @property
    def min_cpu_s(self) -> float:
        return min(self.cpu_s)


def time_call(fn, repeats: int, *, before=None) -> Timing:
    """Time ``fn()``: one warm-up call (imports, caches, JIT), then ``repeats`` timed calls.

    ``before``, when given, runs untimed before each timed call (e.g. a processor's reset).
    """
    start = time.perf_counter()
    fn()
    first_s = time.perf_counter() - start
    wall, cpu = [], []
    for _ in range(repeats):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(first_s, tuple(wall), tuple(cpu))
