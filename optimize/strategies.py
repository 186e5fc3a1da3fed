"""Search strategies beyond the seed's: ``random``, ``seed_coordinate`` and ``ours``.

Every strategy follows the contract of :mod:`optimize.search`:
``f(space, start, recorder, *, rng, **opts) -> None``; it asks the recorder for
losses (one take each) and returns when converged; the recorder stops it at the
budget. Coordinates are the space's normalized 0..1 ones.

random           equal-budget baseline: uniform random candidates in the unit cube.
seed_coordinate  the seed's coordinate search, faithfully: fixed steps that never
                 shrink, +step then -step per parameter, first improvement kept,
                 stop after a pass with no improvement.
ours             the default: analysis start, screening of amp and cabinet (the
                 cabinets predicted from the take's spectrum), then a staged
                 adaptive pattern search (amp/EQ, modulation, delay, reverb) with
                 per-parameter steps that grow on success, halve on failure, and
                 a parabolic step to the bottom of each 1-D valley; echo times
                 and LFO rates try the analysis' hints before an even scan; the
                 best amps and cabinets are re-screened after two passes;
                 coupled pairs (a level with its depth, time...) also move
                 jointly (optimize/joint_moves.py); in a space wider than the
                 seed's knobs those knobs search first; then CMA-ES on the
                 model proposes patches for takes (optimize/model_search.py);
                 the incumbent is re-measured before the end, so one lucky
                 noisy take cannot win.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from . import model_search
from .joint_moves import JointMoves, section_silent
from .model_screen import AMP_MODEL_KEYS, ScreenRanker
from .screening import discrete_keys, screen_discrete
from .search import step_coordinate
from .search_order import is_level, is_timing, stage_of, staged_order
from .strategy_registry import check_count, check_positive

log = logging.getLogger(__name__)

#: with a space wider than the seed's knobs, the share of the search's takes those knobs
#: get first (until converged); the other fields then get one pass, then all move
CORE_SHARE = 0.6
HINT_STEP = 0.02           # first local step after a hinted value won (2 % of the range)
HINT_TOLERANCE = 1.02      # a measured hint is kept when at most 2 % worse than the incumbent


# ---------------------------------------------------------------------------
def random_search(space, start, recorder, *, rng, max_repeats: int = 200) -> None:
    """Uniform random candidates in the unit cube until the budget is spent.

    Stops early (converged) when ``max_repeats`` draws in a row hit patches already
    measured: a small space (one knob of 101 values) can be exhausted before the budget.
    """
    repeats, seen = 0, recorder.takes_used
    while repeats < max_repeats:
        recorder.evaluate_unit(start, rng.uniform(0.0, 1.0, len(space.keys)), "random")
        repeats = repeats + 1 if recorder.takes_used == seen else 0
        seen = recorder.takes_used


def seed_coordinate(space, start, recorder, *, rng=None, max_passes: int = 1000) -> None:
    """The seed's coordinate search exactly: fixed steps, first improvement, no halving.

    For each parameter: try ``+step`` and keep it if the loss drops, otherwise
    try ``-step``. Steps are the space's (the seed's) steps and never shrink;
    the search stops after a pass with no improvement or ``max_passes`` passes.
    """
    steps = np.asarray(space.steps_unit, dtype=float)
    base, current, best = start, space.to_unit(start), recorder.best_loss
    for _ in range(int(max_passes)):
        improved = False
        for i in range(len(space.keys)):
            found = step_coordinate(space, recorder, base=base, current=current, index=i,
                                    step_unit=steps[i], threshold=best)
            if found is not None:
                best, base = found
                current, improved = space.to_unit(base), True
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


def ours(space, start, recorder, *, rng, screen: bool = True, warm_starts: int = 0,
         initial_step: float = 0.2, max_step: float = 0.4, final_remeasures: int = 2,
         scan_points: int = 16, hints: dict | None = None, rescreen_top: int = 2,
         predict_cabinet: bool = True, joint_moves: bool = True,
         model_proposals: int = 3) -> None:
    """Screening, warm starts, then a staged adaptive pattern search with step halving.

    Parameters
    ----------
    space, start, recorder, rng
        As for every strategy (see :mod:`optimize.search`).
    screen : bool
        After one pass over the amp/EQ knobs, try every cabinet and amp model the
        type has (one take each, greedy; :func:`optimize.screening.screen_discrete`)
        unless they are in the space.
    warm_starts : int
        Uniform random candidates measured after the start; the best point so far
        becomes the incumbent (0 disables).
    initial_step : float
        First step of every parameter, in normalized units.
    max_step : float
        Largest step a parameter may grow to after repeated success.
    scan_points : int
        Echo-time and LFO-rate knobs (many local minima) are first scanned on this
        many evenly spaced values, with the levels of their effect raised to at
        least half way so the effect is audible (fewer points when less than 6
        takes per point are left); the local search then starts from the best.
    predict_cabinet : bool
        Screen only the cabinets that best explain the incumbent take's long-term
        spectrum difference (:mod:`optimize.cabinets`; needs a loss that reports
        it, as MatchLoss does), instead of all of them.
    rescreen_top : int
        After two passes of the continuous search, the ``rescreen_top`` best
        options of each screened field are measured again (0 disables): the first
        screening judged them through the starting gain and tone; with a model, the
        options are ranked on it again at the fitted knobs instead. A shortlisted
        amp model first gets one pass over the amp/EQ knobs of its own.
    hints : dict, optional
        ``{key: [u, ...]}``: values (normalized) the analysis measured for scanned
        knobs, e.g. echo times (:func:`optimize.hints.analysis_hints`). They are
        tried first, the same way as scan points; when one beats the incumbent, or
        scores within 2 % of it (the hint is independent evidence), it is kept, the
        even scan of that knob is skipped and the local search refines it from there.
    joint_moves : bool
        After a pass in which neither knob of a coupled pair (a level with its
        section's time, feedback, depth, rate or decay; a feedback with its time)
        improved, try the pair's four diagonal moves (:mod:`optimize.joint_moves`);
        knobs of a section whose levels are all at their minimum are then moved only
        jointly with a level (alone they are inaudible). False: one knob at a time.
    model_proposals : int
        With a model, once the seed's knobs have converged (or CORE_SHARE of the takes
        are spent) the model evaluations left are spent by CMA-ES on the model from the
        incumbent (:mod:`optimize.model_search`); its ``model_proposals`` best patches
        get one take each and the search goes on from the best one a take confirms
        (0 disables).
    final_remeasures : int
        Takes kept at the end to re-measure the incumbent; the result is the
        incumbent with its mean loss, not the luckiest single take.
    """
    check_positive("initial_step", initial_step, upper=1.0)
    check_positive("max_step", max_step, upper=1.0)
    check_count("warm_starts", warm_starts)
    check_count("rescreen_top", rescreen_top)
    check_count("model_proposals", model_proposals)
    n = len(space.keys)
    inc = _Incumbent(start, space.to_unit(start), recorder.initial_loss)
    reserve = max(0, int(final_remeasures))
    search = _PatternSearch(space, recorder, inc, reserve=reserve, initial_step=initial_step,
                            max_step=max_step, scan_points=int(scan_points), hints=hints,
                            joint=bool(joint_moves))
    core = _core_indices(space)
    try:
        amp = [i for i in search.stage_indices("amp") if i in core]
        shortlist = {}
        if screen:
            keys = [k for k in discrete_keys(start.effect_type) if k not in space.keys]
            if keys and amp:
                search.run(only=amp, passes=1)    # screen amps at a sensible gain and tone
            ranker = ScreenRanker(recorder, space, predict_cabinet=predict_cabinet)
            found = screen_discrete(inc.patch, lambda p: recorder.evaluate(p, "screen"),
                                    start_loss=inc.loss, keys=keys,
                                    max_takes=max(0, recorder.takes_left - reserve - 1),
                                    rank=ranker.rank, candidate=ranker.candidate)
            if found.patch is not inc.patch:
                search.accept(found.patch, found.loss)
            shortlist = found.shortlist(rescreen_top) if rescreen_top else {}
        for _ in range(int(warm_starts)):
            if recorder.takes_left <= reserve:
                break
            patch = space.from_unit(inc.patch, rng.uniform(0.0, 1.0, n))
            loss = recorder.evaluate(patch, "warm start")
            if loss < inc.loss:
                search.accept(patch, loss)
        if shortlist:
            search.run(only=core, passes=2)
            search.rescreen(ranker.shortlist(inc.patch, shortlist, rescreen_top), amp)
        # the seed's knobs first (all knobs when they are the space), then the model's
        # proposals from there, then one pass over the other fields, then every field
        search.run(only=core, stop_at=reserve + int((1 - CORE_SHARE) * recorder.takes_left))
        if model_proposals:
            search.try_proposals(model_search.propose(space, recorder, inc.patch, rng=rng,
                                                      keep=model_proposals))
        if len(core) < n:
            search.run(only=[i for i in range(n) if i not in core], passes=1)
        search.run()
    except _OutOfTakes:
        pass
    finally:
        _settle(recorder, inc, reserve)


def _core_indices(space) -> list:
    """Indices of the space's fields that are the type's default (seed) knobs, or all."""
    from .constraints import default_keys
    core = [i for i, k in enumerate(space.keys) if k in default_keys(space.effect_type)]
    return core or list(range(len(space.keys)))


class _PatternSearch:
    """Adaptive coordinate pattern search around a shared incumbent (see :func:`ours`)."""

    def __init__(self, space, recorder, inc: _Incumbent, *, reserve: int, initial_step: float,
                 max_step: float, scan_points: int, hints: dict | None = None,
                 joint: bool = False):
        self.space, self.recorder, self.inc, self.reserve = space, recorder, inc, reserve
        self.hints = {k: [float(np.clip(u, 0.0, 1.0)) for u in v if math.isfinite(u)]
                      for k, v in (hints or {}).items() if k in space.keys}
        n = len(space.keys)
        self.initial_step, self.max_step, self.scan_points = initial_step, max_step, scan_points
        self.steps = np.full(n, float(initial_step))
        self.direction = np.ones(n)
        self.resolution = np.maximum(np.asarray(space.resolution_unit, dtype=float), 1e-4)
        self.params = [d.param for d in space.dimensions]
        self.scanned: set = set()
        self.version = 0                       # bumped whenever the incumbent changes
        self.responsive: set = set()           # knobs whose moves changed the loss at all
        self.joint = JointMoves(self, is_timing) if joint else None

    def measure(self, u, label):
        if self.recorder.takes_left <= self.reserve:
            raise _OutOfTakes
        patch = self.space.from_unit(self.inc.patch, np.clip(u, 0.0, 1.0))
        return patch, self.recorder.evaluate(patch, label)

    def accept(self, patch, loss):
        self.inc.patch, self.inc.unit, self.inc.losses = patch, self.space.to_unit(patch), [loss]
        self.version += 1

    def run(self, *, only=None, passes=None, stop_at: int = 0) -> None:
        """Passes over ``only`` (indices, default all, staged order) until converged, or
        until at most ``stop_at`` takes are left (checked before each knob)."""
        order = [i for i in staged_order(self.params) if only is None or i in only]
        done, takes_at_restart = 0, -1
        while (passes is None or done < passes) and self.recorder.takes_left > stop_at:
            active = [i for i in order if self.steps[i] >= 0.5 * self.resolution[i]
                      and not (self.joint and section_silent(self.params[i], self.inc.patch))]
            if not active:                        # converged: restart with fresh steps
                if passes is not None or self.recorder.takes_used == takes_at_restart:
                    return                        # a whole pass measured nothing new
                takes_at_restart = self.recorder.takes_used
                self.steps = np.maximum(np.full(len(self.steps), 0.25 * self.initial_step),
                                        self.resolution)
                continue
            self._pass(order, stop_at)
            done += 1
            log.debug("ours: pass done, loss %.5f", self.inc.loss)

    def _pass(self, order, stop_at: int = 0) -> None:
        """One pass over ``order`` (cut short once at most ``stop_at`` takes are left); then
        joint moves of the pairs where both knobs stalled."""
        stalled, takes0 = set(), self.recorder.takes_used
        for i in order:
            if self.recorder.takes_left <= self.reserve:
                raise _OutOfTakes
            if self.recorder.takes_left <= stop_at:
                return
            loss = self.inc.loss
            if is_timing(self.params[i]) and i not in self.scanned and self.scan_points > 1:
                self.scan(i)
            elif self.joint is not None and section_silent(self.params[i], self.inc.patch):
                pass                              # inaudible alone: moved only jointly
            elif self.steps[i] >= 0.5 * self.resolution[i]:
                self.step(i)
            if not self.inc.loss < loss:
                stalled.add(i)
        if self.joint is not None:
            self.joint.after_pass(order, stalled, self.recorder.takes_used - takes0)

    def try_proposals(self, patches) -> None:
        """One take per proposed patch; the best one that beats the incumbent is kept."""
        for patch in patches:
            if self.recorder.takes_left <= self.reserve:
                raise _OutOfTakes
            loss = self.recorder.evaluate(patch, "model proposal")
            if loss < self.inc.loss:
                self.accept(patch, loss)

    def stage_indices(self, stage: str) -> list:
        """Indices of the space's knobs in search ``stage`` ("amp", "modulation"...)."""
        return [i for i, p in enumerate(self.params) if stage_of(p) == stage]

    def rescreen(self, shortlist: dict, amp: list) -> None:
        """Measure each field's shortlisted options again at the incumbent's knobs.

        An amp model is judged with its own gain and tone: each shortlisted amp gets
        one pass over the amp/EQ knobs (from the incumbent's values, on a copy of the
        search state) before it is compared, since amps differ in how much drive a
        gain setting gives and the incumbent's knobs were fitted to the current amp.
        ``amp``: the indices of those knobs.
        """
        for key, raws in shortlist.items():
            for raw in raws:
                if raw == self.inc.patch.get_raw(key):
                    continue
                if self.recorder.takes_left <= self.reserve:
                    raise _OutOfTakes
                patch = self.inc.patch.copy().set_raw(key, raw)
                loss = self.recorder.evaluate(patch, "rescreen")
                if key in AMP_MODEL_KEYS and amp:
                    trial = _Incumbent(patch, self.space.to_unit(patch), loss)
                    sub = _PatternSearch(self.space, self.recorder, trial, reserve=self.reserve,
                                         initial_step=0.5 * self.initial_step,
                                         max_step=self.max_step, scan_points=0)
                    sub.run(only=amp, passes=1)
                    patch, loss = trial.patch, trial.loss
                if loss < self.inc.loss:
                    self.accept(patch, loss)

    def scan(self, i: int) -> None:
        """Try knob ``i``'s hinted values, then (unless one won) evenly spaced values."""
        self.scanned.add(i)
        key = self.space.keys[i]
        hinted = self.hints.get(key, [])[:max(0, (self.recorder.takes_left - self.reserve) // 4)]
        if hinted and self._try_values(i, hinted, "hint", tolerance=HINT_TOLERANCE):
            self.steps[i] = HINT_STEP          # refine around the measured value
            return
        points = int(min(self.scan_points,
                         max(3, (self.recorder.takes_left - self.reserve) // 6)))
        self._try_values(i, list((np.arange(points) + 0.5) / points), "scan")
        self.steps[i] = 0.5 / points

    def _try_values(self, i: int, values, label: str, tolerance: float = 1.0) -> bool:
        """Measure knob ``i`` at ``values`` with its stage made audible; True if one won.

        The other knobs of the stage are raised to at least half way (a silent
        effect cannot be scanned); the best value is then measured once more at
        the incumbent's own levels and adopted when its loss is at most
        ``tolerance`` times the incumbent's (above 1 for measured hints: with
        the other knobs still wrong, the true echo time can score a hair worse
        than a wrong one). A value wins when it improved the incumbent or, with
        a tolerance, when the incumbent now holds it.
        """
        key, inc, start_loss = self.space.keys[i], self.inc, self.inc.loss
        base = inc.unit.copy()
        stage = stage_of(self.params[i])
        for j, other in enumerate(self.params):
            if j != i and stage_of(other) == stage and not is_timing(other):
                base[j] = max(base[j], 0.5)
        best_u, best_f = None, math.inf
        for value in values:
            trial = base.copy()
            trial[i] = value
            p, f = self.measure(trial, f"{key} {label}")
            if f < best_f:
                best_u, best_f = trial, f
            if f < inc.loss:
                self.accept(p, f)
        if best_u is not None and inc.unit[i] != best_u[i]:
            trial = inc.unit.copy()               # the best time at the incumbent's levels
            trial[i] = best_u[i]
            p, f = self.measure(trial, f"{key} {label} best")
            # a silent effect hardly moves the loss: keep the scanned time for later, but
            # never trade an audible echo for a coarse scan value that is not better
            levels = [inc.unit[j] for j, other in enumerate(self.params)
                      if stage_of(other) == stage and is_level(other)]
            silent = bool(levels) and max(levels) < 0.2
            if f <= inc.loss * max(tolerance, 1.02 if silent else 1.0):
                self.accept(p, f)
        held = best_u is not None and \
            self.space.dimensions[i].raw_at(best_u[i]) == inc.patch.get_raw(key)
        return inc.loss < start_loss or (tolerance > 1.0 and held)

    def step(self, i: int) -> None:
        """One adaptive move of knob ``i``: +/- step, extrapolation, parabola vertex."""
        inc, key, s, d = self.inc, self.space.keys[i], self.steps[i], self.direction[i]
        f0 = inc.loss
        trial = inc.unit.copy()
        trial[i] += d * s
        p1, f1 = self.measure(trial, f"{key}{'+' if d > 0 else '-'}")
        if f1 != f0:
            self.responsive.add(i)
        if f1 < f0:
            self.accept(p1, f1)
            trial = inc.unit.copy()
            trial[i] += d * s
            p2, f2 = self.measure(trial, f"{key} extrapolate")
            if f2 < inc.loss:
                self.accept(p2, f2)
                self.steps[i] = min(self.max_step, 2.0 * s)
            return
        trial = inc.unit.copy()
        trial[i] -= d * s
        p2, f2 = self.measure(trial, f"{key}{'-' if d > 0 else '+'}")
        if f2 != f0:
            self.responsive.add(i)
        if f2 < f0:
            self.accept(p2, f2)
            self.direction[i] = -d
            return
        self.steps[i] = 0.5 * s
        t = _parabola_vertex(f2, f0, f1)      # in units of s along d
        if t is not None and 0.15 <= abs(t) <= 0.85:
            trial = inc.unit.copy()
            trial[i] += d * t * s
            p3, f3 = self.measure(trial, f"{key} vertex")
            if f3 < f0:
                self.accept(p3, f3)
                self.direction[i] = math.copysign(1.0, d * t)


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
        inc.losses.append(recorder.remeasure(inc.patch))
    if len(inc.losses) > 1:
        recorder.adopt_best(inc.patch, inc.loss)
