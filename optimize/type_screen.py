"""Choosing the effect type by measurement: a short screen on the model, then the rig.

``suggest_effect_type`` (``magicstomp/neutral.py``) is a fixed rule; it sends most
real recordings to a Distortion or Amp Multi. This module measures instead:

* :func:`candidate_types` - the rule's suggestion, the single-effect types of what
  the analysis heard (amp simulator / distortion, delay, reverb, the modulation kind,
  EQ when the tone differs, compressor when the crest factor dropped) and the multis
  whose sections can carry it, among the types the virtual Magicstomp emulates;
* :func:`screen_types` - each candidate's starting patch (``to_patch`` of the
  analysis) rendered on the **model** (the virtual Magicstomp, no take) and scored
  with the match loss; the best few then get a few coarse moves (for a type with an
  amp or distortion model, two other models; then its drive, level and mix knobs,
  found by parameter role, by 35 % of their range, then 15 %), so a type is not
  judged by one badly-set knob; returns the ranking, the loss of each type and the
  model evaluations spent (a budget apart from the rig's takes);
* :func:`confirm_on_rig` - the best few of the ranking measured on the rig (one
  take each, counted in the take budget); the lowest rig loss is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from magicstomp.effects import effect_type
from magicstomp.emulator import EMULATED_TYPES, render, to_mono
from magicstomp.errors import ParameterError
from magicstomp.neutral import (AMP_MULTI, SINGLE_MOD, SOME_GAIN, NeutralPatch,
                                suggest_effect_type, to_patch)

DIST_MULTI_ALL = {"chorus": 0x3B, "flange": 0x3C, "tremolo": 0x3D, "phaser": 0x3E}
AMP_SIMULATOR, DISTORTION, COMPRESSOR, EQ3 = 0x08, 0x2F, 0x36, 0x33
MONO_DELAY, REVERB, SPRING_REVERB = 0x0D, 0x09, 0x34
#: a crest factor this much lower in the target than in the DI is heard as compression
COMPRESSION_CREST_DROP_DB = 3.0
#: roles whose coarse moves decide whether a type can reach the target's balance
AMOUNT_ROLES = ("drive", "level", "mix")
#: coarse moves, as fractions of the knob's range (down, then up; the smaller one when the
#: larger one found nothing better)
MOVE_FRACTIONS = (0.35, 0.15)
#: one single effect per family, screened even when the analysis did not hear it: on short
#: clean excerpts it misses chorus, phaser and reverb (they cost one fast render each)
PROBES = (MONO_DELAY, REVERB, 0x12, 0x15, 0x17, 0x13)
#: amp or distortion models tried by the refinement of a type that has one
VOICINGS = 2
DEFAULT_MAX_EVALUATIONS = 40
DEFAULT_REFINE = 4
DEFAULT_MOVES_PER_TYPE = 7
DEFAULT_MAX_CANDIDATES = 13


@dataclass
class TypeCandidate:
    """One screened effect type: its best patch on the model and what it cost."""

    type_id: int
    reason: str
    start_loss: float = float("inf")
    loss: float = float("inf")
    evaluations: int = 0
    patch: object = None
    rig_loss: float | None = None

    @property
    def name(self) -> str:
        return effect_type(self.type_id).name

    def to_dict(self) -> dict:
        return {"type_id": self.type_id, "type": self.name, "reason": self.reason,
                "model_start_loss": _round(self.start_loss), "model_loss": _round(self.loss),
                "model_evaluations": self.evaluations, "rig_loss": _round(self.rig_loss)}


@dataclass
class TypeScreen:
    """The ranking (best model loss first), the rule's type and the model budget spent."""

    ranking: list
    suggested_id: int
    evaluations: int
    max_evaluations: int
    seconds: float
    chosen_id: int | None = None
    rig_takes: int = 0
    notes: list = field(default_factory=list)

    @property
    def best(self) -> TypeCandidate:
        return self.ranking[0]

    def top(self, n: int) -> list:
        return self.ranking[:max(1, int(n))]

    def to_dict(self) -> dict:
        return {"suggested_by_rule": effect_type(self.suggested_id).name,
                "chosen": None if self.chosen_id is None else effect_type(self.chosen_id).name,
                "model_evaluations": self.evaluations, "max_model_evaluations":
                self.max_evaluations, "rig_takes": self.rig_takes,
                "seconds": round(self.seconds, 2),
                "ranking": [c.to_dict() for c in self.ranking]}

    def describe(self) -> str:
        """One line for the report: why this type."""
        parts = []
        for c in self.ranking:
            rig = "" if c.rig_loss is None else f", rig {c.rig_loss:.3f}"
            parts.append(f"{c.name} {c.loss:.3f}{rig}")
        chosen = effect_type(self.chosen_id if self.chosen_id is not None
                             else self.best.type_id).name
        return (f"effect type {chosen} chosen by measurement (the rule suggested "
                f"{effect_type(self.suggested_id).name}): model loss of {len(self.ranking)} "
                f"types in {self.evaluations} model evaluations, best first: "
                f"{'; '.join(parts)}; the best {self.rig_takes} measured on the rig "
                "(takes in the budget; the kept type's take is take 0); choose another "
                "with --effect-type")


def _round(value):
    return None if value is None or not np.isfinite(value) else round(float(value), 5)


def candidate_types(neutral: NeutralPatch, *, max_candidates: int = DEFAULT_MAX_CANDIDATES,
                    allowed=None) -> list:
    """``[(type id, reason), ...]``: the types worth screening for ``neutral``, rule first.

    ``allowed(type_id) -> bool`` drops types (e.g. those lacking ``--optimize-params``).
    """
    active = neutral.active()
    kind = neutral.mod_kind
    heard = [k for k in ("delay", "reverb", "modulation") if active[k]]
    out = [(suggest_effect_type(neutral), "rule")]
    if neutral.amp_gain >= SOME_GAIN or len(heard) > 1 or active["booster"]:
        out.append((AMP_MULTI[kind or "chorus"], "multi: amp and every effect heard"))
    if neutral.amp_gain >= SOME_GAIN:
        out.append((DIST_MULTI_ALL[kind or "chorus"], "multi: distortion and every effect heard"))
        out.append((AMP_SIMULATOR, "amp drive heard"))
        out.append((DISTORTION, "amp drive heard"))
    if kind is not None:
        out.append((SINGLE_MOD[kind], f"{kind} heard"))
    if active["delay"]:
        out.append((MONO_DELAY, "echo heard"))
    if active["reverb"]:
        out += [(REVERB, "reverb heard"), (SPRING_REVERB, "reverb heard")]
    if active["amp_treble"] or active["amp_presence"]:
        out.append((EQ3, "tone differs from the DI"))
    crest_drop = (neutral.features.get("derived") or {}).get("crest_drop_db") or 0.0
    if crest_drop >= COMPRESSION_CREST_DROP_DB:
        out.append((COMPRESSOR, f"crest factor {crest_drop:.1f} dB lower"))
    out.append((AMP_MULTI[kind or "chorus"], "probe: a multi shapes tone, echo and reverb "
                                             "at once"))
    out += [(t, "probe: the analysis may have missed it") for t in PROBES]
    seen, kept = set(), []
    for type_id, reason in out:
        if type_id in seen or type_id not in EMULATED_TYPES or \
                (allowed is not None and not allowed(type_id)):
            continue
        seen.add(type_id)
        kept.append((type_id, reason))
    return kept[:max(1, int(max_candidates))]


def _movable(patch, neutral: NeutralPatch) -> list:
    """Keys of the amount knobs worth a coarse move: the amp's drive, then the level or mix of
    each section the analysis heard, then the other sections' (the analysis may miss one)."""
    t = patch.effect_type
    heard = {k for k, on in neutral.active().items() if on} | {"amp"}
    amounts = [p for p in t.params if p.kind != "enum" and p.role in AMOUNT_ROLES]
    keys = [p.key for p in amounts if p.section in heard] + \
        [p.key for p in amounts if p.section not in heard]
    if not keys and t.category == "modulation":      # a tremolo: its depth is its amount
        keys = [p.key for p in t.params if p.role == "depth" and p.kind != "enum"]
    return keys


def _moves(patch, key: str, fraction: float) -> list:
    """The patch moved down and up by ``fraction`` of ``key``'s range (raw steps)."""
    p = patch.effect_type.param(key)
    raw = patch.get_raw(key)
    step = max(1, int(round(fraction * (p.max_raw - p.min_raw))))
    out = []
    for new in (raw - step, raw + step):
        new = min(max(new, p.min_raw), p.max_raw)
        if new != raw:
            out.append(patch.copy().set_raw(key, new))
    return out


class _Model:
    """Scores patches on the virtual Magicstomp, counting evaluations against a budget."""

    def __init__(self, loss, di, sample_rate: int, preroll: int, max_evaluations: int,
                 variant=None):
        self.loss, self.di, self.sample_rate, self.variant = loss, di, int(sample_rate), variant
        self.preroll, self.max_evaluations, self.evaluations = int(preroll), max_evaluations, 0

    @property
    def left(self) -> int:
        return self.max_evaluations - self.evaluations

    def __call__(self, patch) -> float:
        self.evaluations += 1
        take = to_mono(render(patch, self.di, self.sample_rate,
                              variant=self.variant))[self.preroll:]
        value = self.loss(take)
        return float(getattr(value, "total", value))


def _voicing_key(t):
    """The amp section's first choice (the amp or distortion model), or None."""
    return next((p.key for p in t.params if p.role == "choice" and p.section == "amp"), None)


def _voicings(patch) -> list:
    """The patch with VOICINGS other amp/distortion models, spread evenly over the list."""
    key = _voicing_key(patch.effect_type)
    if key is None:
        return []
    p = patch.effect_type.param(key)
    n, current = p.max_raw - p.min_raw + 1, patch.get_raw(key)
    raws = dict.fromkeys(p.min_raw + int((i + 0.5) * n / VOICINGS) for i in range(VOICINGS))
    return [patch.copy().set_raw(key, raw) for raw in raws if raw != current]


def _refine(candidate: TypeCandidate, model: _Model, neutral, moves: int) -> None:
    """Greedy coarse moves within ``moves`` evaluations: other amp/distortion models (the best
    kept), then each amount knob down or up (the first better one kept)."""
    groups = [("best", lambda: _voicings(candidate.patch))] + \
        [("first", lambda key=key: [t for f in MOVE_FRACTIONS
                                    for t in _moves(candidate.patch, key, f)])
         for key in _movable(candidate.patch, neutral)]
    spent = 0
    for keep, trials in groups:
        for trial in trials():
            if spent >= moves or model.left <= 0:
                return
            loss = model(trial)
            spent += 1
            candidate.evaluations += 1
            if loss < candidate.loss:
                candidate.patch, candidate.loss = trial, loss
                if keep == "first":
                    break                  # this knob moved: on to the next one


def screen_types(target, di, neutral: NeutralPatch, sample_rate: int, *, preroll: int = 0,
                 loss=None, max_evaluations: int = DEFAULT_MAX_EVALUATIONS,
                 refine: int = DEFAULT_REFINE, moves_per_type: int = DEFAULT_MOVES_PER_TYPE,
                 candidates=None, allowed=None, variant=None) -> TypeScreen:
    """Rank candidate effect types by their match loss on the model (no take).

    Parameters
    ----------
    target : array_like
        The target excerpt (mono), aligned to the DI.
    di : array_like
        The DI played for it: ``preroll`` samples before the excerpt, then the excerpt.
    neutral : NeutralPatch
        The analysis; each type's start is ``to_patch(neutral, type)``.
    sample_rate : int
        Of both signals (a rate the emulator supports).
    loss : callable, optional
        ``loss(take) -> LossValue or float``; default ``MatchLoss(target, sample_rate, di=...)``.
    max_evaluations : int
        Most model renders in all (at least one per candidate start; the rest refine).
    refine, moves_per_type : int
        How many of the best starts get coarse moves (plus the best single type and the best
        multi with an amp or distortion model, when not among them), and how many
        evaluations each.
    candidates : iterable, optional
        ``[(type id, reason), ...]``; default :func:`candidate_types`.
    variant : UnitVariant, optional
        The unit the model renders (``magicstomp.emulator.variants``); None = nominal.

    Returns
    -------
    TypeScreen
        ``ranking`` best first; ties keep the candidates' order (the rule's type first).
    """
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) or \
            max_evaluations < 1:
        raise ParameterError(f"max_evaluations={max_evaluations!r} is not allowed; expected a "
                             "whole number of at least 1", field="max_evaluations",
                             value=max_evaluations)
    started = time.perf_counter()
    di = np.asarray(di, dtype=np.float64)
    if loss is None:
        from .objective import MatchLoss
        loss = MatchLoss(target, int(sample_rate), di=di[int(preroll):])
    model = _Model(loss, di, sample_rate, preroll, max_evaluations, variant=variant)
    pool = [TypeCandidate(int(t), reason) for t, reason in
            (candidate_types(neutral, allowed=allowed) if candidates is None else candidates)]
    if not pool:
        raise ParameterError("no candidate effect type has every field to optimize "
                             "(--optimize-params); name the "
                             "type with --effect-type (magicstomp types lists each type's "
                             "fields)", field="effect_type")
    for c in pool:
        if model.left <= 0:
            break
        c.patch, _ = to_patch(neutral, c.type_id)
        c.start_loss = c.loss = model(c.patch)
        c.evaluations = 1
    pool = [c for c in pool if c.evaluations]
    order = sorted(range(len(pool)), key=lambda i: (pool[i].loss, i))
    chosen = order[:max(0, int(refine))]
    for multi in (False, True):       # an amp judged at its analysed model and gain only
        voiced = [i for i in order if _voicing_key(pool[i].patch.effect_type) is not None and
                  pool[i].patch.effect_type.category.startswith("multi") == multi]
        if refine and voiced and voiced[0] not in chosen:   # would be judged unfairly: the
            chosen.append(voiced[0])                         # best single amp and best multi
    for i in chosen:
        _refine(pool[i], model, neutral, moves_per_type)
    order = sorted(range(len(pool)), key=lambda i: (pool[i].loss, i))
    return TypeScreen(ranking=[pool[i] for i in order], suggested_id=suggest_effect_type(neutral),
                      evaluations=model.evaluations, max_evaluations=max_evaluations,
                      seconds=time.perf_counter() - started)


def confirm_on_rig(screen: TypeScreen, evaluate, *, top: int = 2) -> tuple:
    """Measure the ``top`` best types on the rig, one take each; keep the lowest rig loss.

    ``evaluate(patch) -> LossValue or float`` is one take. Returns ``(patch, value)``:
    the kept type's patch and its take's value (reusable as the search's take 0).
    Records each rig loss in the ranking and sets ``screen.chosen_id``.
    """
    best = None
    for c in screen.top(top):
        value = evaluate(c.patch)
        screen.rig_takes += 1
        c.rig_loss = float(getattr(value, "total", value))
        if best is None or c.rig_loss < best[0].rig_loss:
            best = (c, value)
    screen.chosen_id = best[0].type_id
    return best[0].patch.copy(), best[1]


def choose_effect_type(target, di, neutral: NeutralPatch, sample_rate: int, *, evaluate,
                       preroll: int = 0, loss=None, rig_top: int = 2, allowed=None,
                       **screen_opts) -> tuple:
    """Screen the types on the model, then measure the best ``rig_top`` on the rig.

    Returns ``(patch, screen, value, notes)``: the kept type's starting patch, the
    :class:`TypeScreen`, the rig take's value of that patch (reusable as take 0,
    see :func:`reuse_take`) and the report's notes (the ranking, fields the type
    cannot express).
    """
    screen = screen_types(target, di, neutral, sample_rate, preroll=preroll, loss=loss,
                          allowed=allowed, **screen_opts)
    patch, value = confirm_on_rig(screen, evaluate, top=rig_top)
    notes = [screen.describe()]
    _, unexpressed = to_patch(neutral, patch.effect_type)
    if unexpressed:
        notes.append(f"{patch.effect_type.name} cannot express these analysed fields: "
                     f"{', '.join(map(str, unexpressed))}")
    return patch, screen, value, notes


def reuse_take(evaluate, patch, value):
    """``evaluate`` whose first call on ``patch`` returns ``value`` (a take already made)."""
    pending = [patch.copy()]

    def wrapped(candidate):
        if pending and candidate == pending[0]:
            pending.clear()
            return value
        return evaluate(candidate)

    return wrapped
