"""Search strategies beyond the seed's: ``random``, ``seed_coordinate`` and ``ours``.

Every strategy follows the contract of :mod:`optimize.search`:
``f(space, start, recorder, *, rng, **opts) -> None``; it asks the recorder for
losses (one take each) and returns when converged; the recorder stops it at the
budget. Coordinates are the space's normalized 0..1 ones.

random           equal-budget baseline: uniform random candidates in the unit cube.
seed_coordinate  the seed's coordinate search, faithfully: fixed steps that never
                 shrink, +step then -step per parameter, first improvement kept,
                 stop after a pass with no improvement.
ours             the default: analysis start + a few random warm starts, then a
                 staged adaptive pattern search (amp/EQ, modulation, delay,
                 reverb) with per-parameter steps that grow on success, halve on
                 failure, and a parabolic step to the bottom of each 1-D valley;
                 the incumbent is re-measured before the end, so one lucky noisy
                 take cannot win.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from magicstomp.errors import ParameterError

from .screening import discrete_keys, screen_discrete
from .search import register_strategy

log = logging.getLogger(__name__)

STAGE_ORDER = ("amp", "modulation", "delay", "reverb")
_MOD_WORDS = ("chorus", "flanger", "phaser", "tremolo", "speed", "depth", "mod_", "rate")


def stage_of(key: str) -> str:
    """Which search stage a parameter key belongs to (amp/EQ, modulation, delay or reverb)."""
    if key.startswith("reverb") or "decay" in key and "gate" not in key:
        return "reverb"
    if any(word in key for word in _MOD_WORDS):
        return "modulation"
    if "delay" in key or key.startswith(("tap", "feedback")):
        return "delay"
    return "amp"


def is_timing(key: str) -> bool:
    """True for an echo-time or LFO-rate knob: its loss has many local minima, so it is scanned.

    A wrong echo time or LFO rate drifts out of step with the target over the take,
    so the loss ripples as the knob moves; a scan finds the right valley first.
    """
    stage = stage_of(key)
    if stage == "delay":
        return "time" in key
    return stage == "modulation" and any(w in key for w in ("speed", "frequency", "rate"))


def staged_order(keys) -> list:
    """Indices of ``keys`` by stage (amp/EQ first, reverb last); levels first inside a stage."""
    keys = list(keys)

    def rank(i):
        key = keys[i]
        inner = 0 if ("level" in key or "mix" in key) else (1 if is_timing(key) else 2)
        return (STAGE_ORDER.index(stage_of(key)), inner)
    return sorted(range(len(keys)), key=rank)


def _check_positive(name: str, value, *, integer: bool = False, upper: float | None = None):
    bad = isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
    if not bad:
        bad = (integer and int(value) != value) or not value > 0 or \
            (upper is not None and value > upper)
    if bad:
        limit = f" and at most {upper}" if upper is not None else ""
        raise ParameterError(f"{name}={value!r} is not allowed; expected a positive "
                             f"{'whole ' if integer else ''}number{limit}",
                             field=name, value=value)


def remeasure(recorder, patch, label: str = "remeasure") -> float:
    """Measure ``patch`` again (a new take, never the cached loss) and return the loss."""
    if hasattr(recorder, "remeasure"):
        return recorder.remeasure(patch, label)
    cache = getattr(recorder, "_cache", None)
    if cache is not None:
        cache.pop(patch.to_payload(), None)
    return recorder.evaluate(patch, label)


# ---------------------------------------------------------------------------
@register_strategy("random")
def random_search(space, start, recorder, *, rng, **_ignored) -> None:
    """Uniform random candidates in the unit cube until the budget is spent."""
    while True:
        recorder.evaluate_unit(start, rng.uniform(0.0, 1.0, len(space.keys)), "random")


@register_strategy("seed_coordinate")
def seed_coordinate(space, start, recorder, *, rng=None, max_passes: int = 1000,
                    **_ignored) -> None:
    """The seed's coordinate search exactly: fixed steps, first improvement, no halving.

    For each parameter: try ``+step`` and keep it if the loss drops, otherwise
    try ``-step``. Steps are the space's (the seed's) steps and never shrink;
    the search stops after a pass with no improvement or ``max_passes`` passes.
    """
    steps = np.asarray(space.steps_unit, dtype=float)
    base, current, best = start, space.to_unit(start), recorder.best_loss
    for _ in range(int(max_passes)):
        improved = False
        for i, key in enumerate(space.keys):
            for sign, tag in ((1.0, "+"), (-1.0, "-")):
                trial = current.copy()
                trial[i] = min(1.0, max(0.0, trial[i] + sign * steps[i]))
                if trial[i] == current[i]:
                    continue
                patch = space.from_unit(base, trial)
                loss = recorder.evaluate(patch, f"{key}{tag}")
                if loss < best:
                    best, base, current, improved = loss, patch, space.to_unit(patch), True
                    break
        if not improved:
            return


# ---------------------------------------------------------------------------
class _Incumbent:
    """The best point so far, its measured losses and its mean."""

    def __init__(self, patch, unit, loss):
        self.patch, self.unit, self.losses = patch, unit, [loss]

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses))


@register_strategy("ours")
def ours(space, start, recorder, *, rng, screen: bool = True, warm_starts: int = 0,
         initial_step: float = 0.2, max_step: float = 0.4, final_remeasures: int = 2,
         scan_points: int = 24, **_ignored) -> None:
    """Screening, warm starts, then a staged adaptive pattern search with step halving.

    Parameters
    ----------
    space, start, recorder, rng
        As for every strategy (see :mod:`optimize.search`).
    screen : bool
        First try every amp model and speaker simulation the type has (one take
        each, greedy; :func:`optimize.screening.screen_discrete`) unless they are
        in the space.
    warm_starts : int
        Uniform random candidates measured after the start; the best point so far
        becomes the incumbent (0 disables).
    initial_step : float
        First step of every parameter, in normalized units.
    max_step : float
        Largest step a parameter may grow to after repeated success.
    scan_points : int
        Echo-time knobs (many local minima) are first scanned on this many
        evenly spaced values (fewer when less than 4 takes per point are left);
        the local search then starts from the best.
    final_remeasures : int
        Takes kept at the end to re-measure the incumbent; the result is the
        incumbent with its mean loss, not the luckiest single take.
    """
    _check_positive("initial_step", initial_step, upper=1.0)
    _check_positive("max_step", max_step, upper=1.0)
    if isinstance(warm_starts, bool) or not isinstance(warm_starts, (int, np.integer)) \
            or warm_starts < 0:
        raise ParameterError(f"warm_starts={warm_starts!r} is not allowed; expected a whole "
                             "number of at least 0", field="warm_starts", value=warm_starts)
    n = len(space.keys)
    inc = _Incumbent(start, space.to_unit(start), recorder.initial_loss)
    reserve = max(0, int(final_remeasures))
    try:
        if screen:
            keys = [k for k in discrete_keys(start.effect_type) if k not in space.keys]
            found = screen_discrete(start, lambda p: recorder.evaluate(p, "screen"),
                                    start_loss=inc.loss, keys=keys,
                                    max_takes=max(0, recorder.takes_left - reserve - 1))
            start = found.patch
            inc = _Incumbent(start, space.to_unit(start), found.loss)
        for _ in range(int(warm_starts)):
            if recorder.takes_left <= reserve:
                break
            patch = space.from_unit(start, rng.uniform(0.0, 1.0, n))
            loss = recorder.evaluate(patch, "warm start")
            if loss < inc.loss:
                inc = _Incumbent(patch, space.to_unit(patch), loss)
        _pattern_search(space, recorder, inc, reserve=reserve, initial_step=initial_step,
                        max_step=max_step, scan_points=int(scan_points))
    finally:
        _settle(recorder, inc, reserve)


def _pattern_search(space, recorder, inc: _Incumbent, *, reserve: int, initial_step: float,
                    max_step: float, scan_points: int) -> None:
    n = len(space.keys)
    steps = np.full(n, float(initial_step))
    direction = np.ones(n)
    resolution = np.maximum(np.asarray(space.resolution_unit, dtype=float), 1e-4)
    order = staged_order(space.keys)

    def measure(u, label):
        if recorder.takes_left <= reserve:
            raise _OutOfTakes
        patch = space.from_unit(inc.patch, np.clip(u, 0.0, 1.0))
        return patch, recorder.evaluate(patch, label)

    def accept(patch, loss):
        nonlocal inc
        inc.patch, inc.unit, inc.losses = patch, space.to_unit(patch), [loss]

    scanned = set()
    try:
        takes_at_restart = -1
        while True:
            if not np.any(steps >= 0.5 * resolution):     # converged: restart with fresh steps
                if recorder.takes_used == takes_at_restart:
                    return                                 # a whole pass measured nothing new
                takes_at_restart = recorder.takes_used
                steps = np.maximum(np.full(n, 0.25 * initial_step), resolution)
            for i in order:
                if is_timing(space.keys[i]) and i not in scanned and scan_points > 1:
                    scanned.add(i)
                    points = int(min(scan_points, max(3, (recorder.takes_left - reserve) // 4)))
                    grid = (np.arange(points) + 0.5) / points
                    for value in grid:
                        trial = inc.unit.copy()
                        trial[i] = value
                        p, f = measure(trial, f"{space.keys[i]} scan")
                        if f < inc.loss:
                            accept(p, f)
                    steps[i] = 0.5 / points
                    continue
                if steps[i] < 0.5 * resolution[i]:
                    continue
                key, s, d = space.keys[i], steps[i], direction[i]
                f0 = inc.loss
                trial = inc.unit.copy()
                trial[i] += d * s
                p1, f1 = measure(trial, f"{key}{'+' if d > 0 else '-'}")
                if f1 < f0:
                    accept(p1, f1)
                    trial = inc.unit.copy()
                    trial[i] += d * s
                    p2, f2 = measure(trial, f"{key} extrapolate")
                    if f2 < inc.loss:
                        accept(p2, f2)
                        steps[i] = min(max_step, 2.0 * s)
                    continue
                trial = inc.unit.copy()
                trial[i] -= d * s
                p2, f2 = measure(trial, f"{key}{'-' if d > 0 else '+'}")
                if f2 < f0:
                    accept(p2, f2)
                    direction[i] = -d
                    continue
                steps[i] = 0.5 * s
                t = _parabola_vertex(f2, f0, f1)      # in units of s along d
                if t is not None and 0.15 <= abs(t) <= 0.85:
                    trial = inc.unit.copy()
                    trial[i] += d * t * s
                    p3, f3 = measure(trial, f"{key} vertex")
                    if f3 < f0:
                        accept(p3, f3)
                        direction[i] = math.copysign(1.0, d * t)
            log.debug("ours: pass done, loss %.5f, steps %s", inc.loss,
                      np.array2string(steps, precision=3))
    except _OutOfTakes:
        return


class _OutOfTakes(Exception):
    """Internal: only the re-measurement reserve is left."""


def _parabola_vertex(f_minus: float, f_zero: float, f_plus: float):
    """Vertex offset (in steps) of the parabola through (-1, f-), (0, f0), (+1, f+), or None."""
    curvature = f_plus - 2.0 * f_zero + f_minus
    if not curvature > 0 or not all(map(math.isfinite, (f_minus, f_zero, f_plus))):
        return None
    return 0.5 * (f_minus - f_plus) / curvature


def _settle(recorder, inc: _Incumbent, reserve: int) -> None:
    """Re-measure the incumbent with the reserved takes and report it by its mean loss."""
    for _ in range(min(reserve, recorder.takes_left)):
        inc.losses.append(remeasure(recorder, inc.patch))
    if len(inc.losses) > 1:
        recorder.best_patch = inc.patch.copy()
        recorder.best_loss = inc.loss
        for take in reversed(recorder.history):
            if take.params == inc.patch.values():
                recorder.best_index = take.index
                break
