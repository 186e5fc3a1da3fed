"""The stages of a match (:func:`optimize.match.match`) and the pieces they share.

    starting_patch(pair, effect_type=..., analyzer=..., start=...) -> (Patch, notes, neutral)
    make_evaluator(rig, loss, di, excerpt)            -> evaluate(patch) -> LossValue (one take)
    render_full(rig, patch, di)                       -> one take of the whole DI
    FaultGuard(evaluate)                              -> a vanished device stops the search
    screen_effect_type(state)                         -> the type chosen by measurement
    replicate_floor(rig, patch, pair, excerpt, ...)   -> loss between two takes of one patch

Each stage reads and updates a :class:`MatchState` (one per match): the pair, the
excerpt, the loss, the evaluator (one take per call), the patch so far, the notes
and the :class:`~optimize.match_plan.ModelBudget` shared by every stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from magicstomp.errors import DeviceError, MidiError, ParameterError

log = logging.getLogger("magicstomp.auto_match")


@dataclass
class MatchState:
    """What the stages of one match share (built by :func:`optimize.match.match`)."""

    plan: object
    pair: object
    rig: object
    excerpt: object
    loss: object
    loss_options: dict
    evaluate: object
    model: object
    patch: object = None
    neutral: object = None
    notes: list = field(default_factory=list)
    type_screen: object = None
    space: object = None
    budget_takes: int = 0
    floor: float = 0.0
    bypass: float | None = None
    rig_takes_before_search: int = 0

    @property
    def sample_rate(self) -> int:
        return self.pair.sample_rate

    @property
    def target_excerpt(self) -> np.ndarray:
        return self.pair.target[self.excerpt.start:self.excerpt.stop]

    @property
    def di_segment(self) -> np.ndarray:
        """The DI played for one take: the pre-roll, then the excerpt."""
        return self.pair.di[self.excerpt.start - self.excerpt.preroll:self.excerpt.stop]


def starting_patch(pair, *, effect_type=None, analyzer: str = "librosa", start=None) -> tuple:
    """The analysis' starting patch for the chosen (or suggested) effect type, or ``start``.

    ``start`` is ``(Patch, label)`` from ``--start-patch``: that patch (and its
    effect type) is the start; the analysis still runs for the search's hints.

    Returns
    -------
    (Patch, notes, NeutralPatch) : the patch, remarks for the report (fields
    the type cannot express, the suggested type) and the analysis' device-neutral patch.
    """
    from analyzers.heuristics import initial_patch
    from magicstomp.effects import effect_type as lookup
    from magicstomp.neutral import suggest_effect_type, to_patch

    neutral = initial_patch(pair.target, pair.sample_rate, di=pair.di, backend=analyzer)
    if start is not None:
        patch, label = start
        return patch.copy(), [f"started from {label} ({patch.effect_type.name}, "
                              "--start-patch) instead of the analysis' patch"], neutral
    notes = []
    if effect_type is None:
        t = lookup(suggest_effect_type(neutral))
        notes.append(f"effect type {t.name} (0x{t.id:02X}) suggested by the analysis "
                     "(choose another with --effect-type)")
    else:
        t = lookup(effect_type)
    patch, unexpressed = to_patch(neutral, t)
    if unexpressed:
        names = ", ".join(str(u) for u in unexpressed)
        notes.append(f"{t.name} cannot express these analysed fields: {names}")
    return patch, notes, neutral


def make_evaluator(rig, loss, di: np.ndarray, excerpt, aligner=None):
    """``evaluate(patch) -> LossValue``: one take of the excerpt (after its pre-roll), scored.

    With an ``aligner`` (:class:`optimize.take_alignment.TakeAligner`) the take
    runs a few ms past the excerpt and is placed on the target (the effect's own
    latency and polarity) before scoring.
    """
    margin = 0 if aligner is None else aligner.margin_samples
    segment = di[excerpt.start - excerpt.preroll:excerpt.stop + margin]

    def evaluate(patch):
        take = rig.render(patch, segment)
        if aligner is not None:
            return loss(aligner(patch, take, pre_samples=excerpt.preroll))
        return loss(take[excerpt.preroll:excerpt.preroll + excerpt.stop - excerpt.start])

    return evaluate


def render_full(rig, patch, di: np.ndarray) -> np.ndarray:
    """One take of the whole DI (for the session WAVs, plots and the metric panel)."""
    return np.asarray(rig.render(patch, di), dtype=np.float64)


class FaultGuard:
    """Wraps ``evaluate``: a DeviceError or MidiError (a unit, MIDI link or audio device
    gone) is kept in ``fault`` and stops the search as Ctrl-C does, so the search
    returns its best so far instead of losing it."""

    def __init__(self, evaluate):
        self._evaluate = evaluate
        self.fault: Exception | None = None

    def __call__(self, patch):
        if self.fault is not None:
            raise KeyboardInterrupt
        try:
            return self._evaluate(patch)
        except (DeviceError, MidiError) as exc:
            self.fault = exc
            log.debug("take failed: %s", exc)
            raise KeyboardInterrupt from None


def screen_effect_type(state: MatchState) -> None:
    """The effect type chosen by measurement (optimize/type_screen.py): the best types on
    the model (model evaluations), the best two of them on the rig (takes; one without a
    search). Sets the state's patch, notes, type screen and evaluator (which reuses the
    kept type's take as take 0). With no model evaluation left, the analysis' rule
    type is kept."""
    from .constraints import ParameterSpace
    from .type_screen import DEFAULT_MAX_EVALUATIONS, choose_effect_type, reuse_take

    plan = state.plan
    if state.model.left < 1:
        state.notes.append("the effect type was not screened: the model budget is 0 "
                           "evaluations (the analysis' rule chose it)")
        return

    def fits(type_id):      # the fields to optimize must be fields of the chosen type
        try:
            return ParameterSpace(type_id, list(plan.optimize_params)) is not None
        except ParameterError:
            return False

    from .match_plan import DEFAULT_BUDGET_TAKES

    budget = plan.budget_takes or DEFAULT_BUDGET_TAKES
    rig_top = min(2, max(1, budget - 2)) if plan.optimize else 1
    patch, screen, value, notes = choose_effect_type(
        state.target_excerpt, state.di_segment, state.neutral, state.sample_rate,
        evaluate=state.evaluate, preroll=state.excerpt.preroll, loss=state.loss,
        rig_top=rig_top, allowed=fits if plan.optimize_params else None,
        max_evaluations=min(DEFAULT_MAX_EVALUATIONS, state.model.left),
        variant=plan.model_variant)
    state.model.charge(screen.evaluations, "type screen")
    log.info("%s", notes[0])
    state.patch, state.type_screen, state.notes = patch, screen, notes
    state.evaluate = reuse_take(state.evaluate, patch, value)
    state.rig_takes_before_search = screen.rig_takes - 1     # the kept type's take is take 0


def replicate_floor(state: MatchState) -> float:
    """Loss between two takes of the starting patch (0 for a deterministic rig)."""
    from hil.calibration import replicate_floor as measure

    pre, sr = state.excerpt.preroll, state.sample_rate
    loss_cls = type(state.loss)

    def loss2(take, reference):
        return float(loss_cls(reference[pre:], sr, **state.loss_options)(take[pre:]).total)

    floor = measure(state.rig, state.patch, state.di_segment, loss2)
    log.debug("replicate floor: %.6g", floor)
    return floor
