"""What one match does, fixed before it starts: :class:`MatchPlan`, and the model budget.

A :class:`MatchPlan` is frozen and checked when it is built: every bad value is refused
with one sentence (a :class:`~magicstomp.errors.ParameterError` naming the field), so
a match never starts on a misspelt optimizer, loss, parameter or option.

Two budgets are kept apart (see README, "How a match runs"):

* **takes** (``budget_takes``): renders or re-amps through the rig, each scored; a
  hardware take of a 5 s excerpt costs about 5.4 s;
* **model evaluations** (``model_budget``): renders of the virtual Magicstomp used as
  a model of the unit (the effect-type screen, the residual EQ's fit), about 20-40 ms
  each, counted by :class:`ModelBudget`. They propose and rank; takes confirm.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from magicstomp.errors import ParameterError

#: takes when the plan gives none
DEFAULT_BUDGET_TAKES = 40
#: most takes one run may ask for (5000 virtual takes are over an hour; hardware ones, half a day)
MAX_BUDGET_TAKES = 5000
#: model evaluations when the plan gives none: the type screen (40) and a residual-EQ fit
#: (about 10) fit many times over; a few seconds of a 5 s excerpt on the model
DEFAULT_MODEL_BUDGET = 400
MAX_MODEL_BUDGET = 100_000
MAX_SEED = 2**32 - 1
MAX_PASSES = 100
ANALYZERS = ("librosa", "essentia")
#: what moves when no --optimize-params is given (see MatchPlan.search_space)
SEARCH_SPACES = ("wide", "seed")


class ModelBudgetExhausted(Exception):
    """Internal: a model evaluation was asked for after the model budget was spent."""


class ModelBudget:
    """Counts evaluations of the virtual Magicstomp used as a model, per stage, within a limit.

    ``render(patch, audio, sample_rate)`` renders through the plan's unit variant
    (None = the nominal model) and counts one; past the limit it raises
    :class:`ModelBudgetExhausted`. A stage that counts its own renders (the type
    screen) reports them with :meth:`charge`.
    """

    def __init__(self, limit: int, variant=None):
        self.limit, self.variant = int(limit), variant
        self.used = 0
        self.by_stage: dict = {}

    @property
    def left(self) -> int:
        return self.limit - self.used

    def charge(self, count: int, stage: str) -> None:
        """Record ``count`` evaluations made by ``stage``."""
        if count > self.left:
            raise ModelBudgetExhausted(f"{stage} asked for {count} model evaluations; "
                                       f"{self.left} are left")
        self.used += int(count)
        self.by_stage[stage] = self.by_stage.get(stage, 0) + int(count)

    def render(self, patch, audio, sample_rate: int, stage: str) -> np.ndarray:
        """One model evaluation: ``patch`` over ``audio``, mono."""
        from magicstomp.emulator import render, to_mono

        self.charge(1, stage)
        return to_mono(render(patch, audio, sample_rate, variant=self.variant))

    def to_dict(self) -> dict:
        return {"used": self.used, "budget": self.limit, "by_stage": dict(self.by_stage)}


def _whole(name: str, value, lo: int, hi: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
            not lo <= value <= hi:
        raise ParameterError(f"{name}={value!r} is not allowed; expected a whole number from "
                             f"{lo} to {hi} ({hint})", field=name, value=value,
                             allowed=f"{lo}..{hi}")
    return int(value)


@dataclass(frozen=True)
class MatchPlan:
    """Every choice of one match (see :func:`optimize.match.match`).

    Attributes
    ----------
    effect_type : EffectType, id or name, or None
        The type to match with; None = chosen by measurement (the type screen), or the
        start patch's type. Resolved to an ``EffectType`` when the plan is built.
    start_patch : Patch or None
        Start from this patch (its type kept) instead of the analysis' patch.
    start_label : str
        Where the start patch came from (a file, a preset name), for the report.
    optimize : bool
        Search (True) or only measure the starting patch (one take).
    optimizer : str
        A registered strategy (``optimize.strategy_registry``); ``coordinate`` runs
        when ``optimize`` is False.
    optimizer_options : mapping
        Options of that strategy; one it does not declare is refused.
    budget_takes : int or None
        Takes on the rig in total, take 0 included; None = ``max_iterations`` passes
        when given, else :data:`DEFAULT_BUDGET_TAKES`.
    max_iterations : int or None
        The seed's budget in passes: ``1 + 2 x parameters x passes`` takes.
    model_budget : int
        Evaluations of the virtual Magicstomp used as a model (0 = none: the analysis'
        rule picks the type and the residual EQ is not fitted).
    seed : int
        Seed of the search's random generator.
    residual_eq : bool
        Fit the residual spectrum onto the patch's EQ controls after the search.
    optimize_params : tuple of str or None
        Only these fields move (keys or the seed's names); None = ``search_space``.
    search_space : str
        The fields that move when ``optimize_params`` is None: ``"wide"``, every field
        the parameter roles call audible in the start (``optimize.constraints.wide_keys``),
        or ``"seed"``, the original project's eleven knobs (``default_keys``).
    loss : str
        ``match`` or ``seed`` (``optimize.loss.LOSSES``).
    loss_options : mapping
        Extra options of the loss class.
    analyzer : str
        Feature backend of the analysis (and of the seed loss).
    excerpt_s : float or None
        Match on the busiest seconds of the DI; None = all of it.
    patch_name : str or None
        Name of the published patch (None = the start's).
    model_variant : UnitVariant or None
        The unit the model renders (``magicstomp.emulator.variants``); None = nominal.
    virtual_first : bool
        Search on the model (rendered with ``model_variant``, e.g. a unit profile's)
        within the model budget, then confirm the best candidates on the rig and refine
        with the takes left (:func:`optimize.virtual_first.virtual_first`).
    """

    effect_type: object = None
    start_patch: object = None
    start_label: str = "--start-patch"
    optimize: bool = True
    optimizer: str = "ours"
    optimizer_options: MappingProxyType = field(default_factory=dict)
    budget_takes: int | None = None
    max_iterations: int | None = None
    model_budget: int = DEFAULT_MODEL_BUDGET
    seed: int = 0
    residual_eq: bool = True
    optimize_params: tuple | None = None
    search_space: str = "wide"
    loss: str = "match"
    loss_options: MappingProxyType = field(default_factory=dict)
    analyzer: str = "librosa"
    excerpt_s: float | None = None
    patch_name: str | None = None
    model_variant: object = None
    virtual_first: bool = False

    def __post_init__(self):
        from .loss import get_loss
        from .strategy_registry import check_options

        put = object.__setattr__
        for name in ("optimize", "residual_eq", "virtual_first"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name}={getattr(self, name)!r} is not allowed; expected "
                                     "True or False", field=name, value=getattr(self, name))
        put(self, "optimizer_options", MappingProxyType(
            check_options(self.strategy, self.optimizer_options)))
        get_loss(self.loss)
        put(self, "loss", str(self.loss).strip().lower())
        put(self, "loss_options", MappingProxyType(dict(self.loss_options or {})))
        if self.budget_takes is not None:
            _whole("budget_takes", self.budget_takes, 1, MAX_BUDGET_TAKES, "try 40")
        if self.max_iterations is not None:
            _whole("max_iterations", self.max_iterations, 1, MAX_PASSES, "passes, try 2")
        _whole("model_budget", self.model_budget, 0, MAX_MODEL_BUDGET, "try 400")
        _whole("seed", self.seed, 0, MAX_SEED, "any whole number")
        if self.analyzer not in ANALYZERS:
            raise ParameterError(f"analyzer {self.analyzer!r} is unknown; expected one of "
                                 f"{', '.join(ANALYZERS)}", field="analyzer", value=self.analyzer)
        if self.excerpt_s is not None and (isinstance(self.excerpt_s, bool) or not isinstance(
                self.excerpt_s, (int, float)) or not math.isfinite(self.excerpt_s)
                or self.excerpt_s <= 0):
            raise ParameterError(f"excerpt_s={self.excerpt_s!r} is not allowed; expected a "
                                 "positive number of seconds such as 4", field="excerpt_s",
                                 value=self.excerpt_s)
        if self.search_space not in SEARCH_SPACES:
            raise ParameterError(f"search_space={self.search_space!r} is not allowed; expected "
                                 f"{' or '.join(SEARCH_SPACES)}", field="search_space",
                                 value=self.search_space, allowed=list(SEARCH_SPACES))
        self._check_variant()
        self._resolve_type()

    def _check_variant(self) -> None:
        from magicstomp.emulator.variants import UnitVariant

        if self.model_variant is not None and not isinstance(self.model_variant, UnitVariant):
            raise ParameterError(f"model_variant={self.model_variant!r} is not allowed; expected "
                                 "a UnitVariant (magicstomp.emulator.variants) or None for "
                                 "the nominal model", field="model_variant")

    def _resolve_type(self) -> None:
        """The type (from the start patch when given) and the fields to move, checked."""
        from magicstomp.effects import effect_type
        from magicstomp.patch import Patch

        from .constraints import ParameterSpace, check_names

        put = object.__setattr__
        t = effect_type(self.effect_type) if self.effect_type is not None else None
        if self.start_patch is not None:
            if not isinstance(self.start_patch, Patch):
                raise ParameterError(f"start_patch={self.start_patch!r} is not allowed; expected "
                                     "a Patch (magicstomp.patch) or None", field="start_patch")
            if t is not None and t.id != self.start_patch.effect_type.id:
                raise ParameterError(
                    f"effect type {t.name!r} differs from the start patch's type "
                    f"{self.start_patch.effect_type.name!r}; give only the start patch (it "
                    "sets the type)", field="effect_type", value=t.name)
            t = self.start_patch.effect_type
        put(self, "effect_type", t)
        if self.optimize_params is not None:
            names = tuple(str(n) for n in self.optimize_params)
            put(self, "optimize_params", names or None)
        if self.optimize_params and t is not None:
            ParameterSpace(t, list(self.optimize_params))
        elif self.optimize_params:        # the type comes from the screen: known names only
            check_names(list(self.optimize_params))

    def __reduce__(self):           # picklable (for worker processes) despite the read-only maps
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values.update(optimizer_options=dict(self.optimizer_options),
                      loss_options=dict(self.loss_options),
                      effect_type=None if self.effect_type is None else self.effect_type.id)
        return (_plan_from, (values,))

    # -- derived ---------------------------------------------------------------------------
    @property
    def strategy(self) -> str:
        """The strategy that runs: ``optimizer``, or ``coordinate`` without a search."""
        return self.optimizer if self.optimize else "coordinate"

    def takes_for(self, space_size: int) -> int:
        """Takes in total for a space of ``space_size`` fields: 1 without a search;
        ``budget_takes``; the seed's ``max_iterations`` passes; else the default."""
        if not self.optimize:
            return 1
        if self.budget_takes is None and self.max_iterations:
            takes = 1 + 2 * int(space_size) * self.max_iterations
            if takes > MAX_BUDGET_TAKES:
                raise ParameterError(
                    f"--max-iterations {self.max_iterations} over {space_size} parameters asks "
                    f"for {takes} takes; the maximum is {MAX_BUDGET_TAKES} (use fewer passes "
                    "or --budget)", field="max_iterations", value=self.max_iterations)
            return takes
        return self.budget_takes or DEFAULT_BUDGET_TAKES

    def to_dict(self) -> dict:
        """The plan as JSON-ready values (the session records it)."""
        t = self.effect_type
        return {"effect_type": None if t is None else t.name,
                "start_patch": None if self.start_patch is None else self.start_label,
                "optimize": self.optimize, "optimizer": self.strategy,
                "optimizer_options": dict(self.optimizer_options),
                "budget_takes": self.budget_takes, "max_iterations": self.max_iterations,
                "model_budget": self.model_budget, "seed": self.seed,
                "residual_eq": self.residual_eq,
                "optimize_params": None if self.optimize_params is None
                else list(self.optimize_params), "search_space": self.search_space,
                "loss": self.loss, "analyzer": self.analyzer, "excerpt_s": self.excerpt_s,
                "model_variant": None if self.model_variant is None
                else self.model_variant.to_dict(), "virtual_first": self.virtual_first}


def _plan_from(values: dict) -> MatchPlan:
    """Unpickle a :class:`MatchPlan` (checked again)."""
    return MatchPlan(**values)
