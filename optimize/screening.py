"""Screening of discrete choices before the continuous search.

Knobs such as the amp model, the speaker simulation or the effect-type variant
(Amp Multi with Chorus, Flange, Tremolo or Phaser) are not continuous: a
pattern search cannot walk between them. A short screening stage measures each
option once, greedily, one choice at a time, and keeps the best:

* :func:`screen_discrete` - the enum fields of the patch's own type that change
  the tone (``amplifier_type``, ``distortion_type``, ``speaker_type``); used by
  the ``ours`` strategy inside its budget;
* :func:`screen_variants` - sibling effect types (same parameter keys where they
  share them), for a caller that may change the type before building the
  parameter space.

``evaluate(patch) -> float`` is one take; both functions return the best patch,
its loss and how many takes they spent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from magicstomp.effects import effect_type
from magicstomp.errors import ParameterError
from magicstomp.patch import Patch

log = logging.getLogger(__name__)

#: Enum fields screened, in this order. The cabinet comes first (it shapes the whole
#: spectrum, so an amp picked through the wrong cabinet is often wrong), then the amp
#: voicing; the first field is screened again when a later one changed.
DISCRETE_KEYS = ("speaker_type", "amplifier_type", "distortion_type")

#: Effect types that are variants of one another (same amp/delay/reverb, another modulation).
VARIANT_FAMILIES = ((0x37, 0x38, 0x39, 0x3A), (0x3B, 0x3C, 0x3D, 0x3E))


@dataclass
class ScreenResult:
    """The outcome of a screening stage."""

    patch: Patch
    loss: float
    takes: int
    tried: list = field(default_factory=list)   # (label, loss) of every take
    options: list = field(default_factory=list)  # (key, raw, loss) of every take

    def shortlist(self, top: int = 2) -> dict:
        """``{key: [raw, ...]}``: each field's ``top`` best options as measured (best first).

        Worth trying again once the continuous knobs have moved: an option measured
        through a wrong gain or tone can lose to a worse one.
        """
        out = {}
        for key in dict.fromkeys(k for k, _, _ in self.options):
            ranked = sorted(((loss, raw) for k, raw, loss in self.options if k == key))
            out[key] = list(dict.fromkeys(raw for _, raw in ranked))[:int(top)]
        return out


def discrete_keys(type_ref) -> tuple:
    """The screened enum fields that the effect type has, in screening order."""
    keys = effect_type(type_ref).keys()
    return tuple(k for k in DISCRETE_KEYS if k in keys)


def variants_of(type_ref) -> tuple:
    """The sibling types of ``type_ref`` (itself first), or just itself."""
    t = effect_type(type_ref)
    for family in VARIANT_FAMILIES:
        if t.id in family:
            return (t.id,) + tuple(i for i in family if i != t.id)
    return (t.id,)


def _check_budget(max_takes):
    if max_takes is not None and (isinstance(max_takes, bool) or not isinstance(max_takes, int)
                                  or max_takes < 0):
        raise ParameterError(f"max_takes={max_takes!r} is not allowed; expected a whole number "
                             "of at least 0 (or None for no limit)", field="max_takes",
                             value=max_takes)


def screen_discrete(start: Patch, evaluate, *, start_loss: float, keys=None,
                    max_takes: int | None = None, rank=None, candidate=None) -> ScreenResult:
    """Try every option of each discrete field in turn, keep the best (greedy).

    Parameters
    ----------
    start : Patch
        The patch to start from (its loss is ``start_loss``; it is not re-measured).
    evaluate : callable
        ``evaluate(patch) -> float``, one take per call.
    start_loss : float
        The measured loss of ``start``.
    keys : iterable of str, optional
        Fields to screen; default: :func:`discrete_keys` of the patch's type.
    max_takes : int, optional
        Stop trying options after this many takes.
    rank : callable, optional
        ``rank(key, patch) -> [raw, ...] or None``: the options of ``key`` worth
        measuring from ``patch``, best guess first (e.g. cabinets predicted from
        the take's spectrum, :func:`optimize.cabinets.rank_cabinets`); None
        tries every option.
    candidate : callable, optional
        ``candidate(key, raw, patch) -> Patch``: the patch measured for option ``raw``
        (e.g. an amp at the drive the model found best for it,
        :class:`optimize.model_screen.ScreenRanker`); default ``patch`` with ``key``
        set to ``raw``.

    Returns
    -------
    ScreenResult
    """
    _check_budget(max_takes)
    t = start.effect_type
    keys = discrete_keys(t) if keys is None else tuple(keys)
    best, best_loss, takes, tried, options = start, float(start_loss), 0, [], []
    if len(keys) > 1:
        keys = keys + keys[:1]        # the first choice again, in the light of the others
    for pass_index, key in enumerate(keys):
        if pass_index == len(keys) - 1 and len(keys) > 1 and \
                all(best.get_raw(k) == start.get_raw(k) for k in keys[1:-1]):
            break                     # nothing else changed: the first choice stands
        param = t.param(key)          # raises ParameterError for an unknown key
        if param.kind != "enum":
            raise ParameterError(f"{key} is not a discrete choice of {t.name}; screen only "
                                 f"enum fields such as {', '.join(discrete_keys(t)) or 'none'}",
                                 field="keys", value=key)
        current = best.get_raw(key)
        ranked = rank(key, best) if rank is not None else None
        for raw in (range(param.min_raw, param.max_raw + 1) if ranked is None else ranked):
            if raw == current:
                continue
            if max_takes is not None and takes >= max_takes:
                return ScreenResult(best, best_loss, takes, tried, options)
            trial = best.copy().set_raw(key, raw) if candidate is None else \
                candidate(key, raw, best)
            loss = float(evaluate(trial))
            takes += 1
            tried.append((f"{key}={param.to_physical(raw)}", loss))
            options.append((key, raw, loss))
            if loss < best_loss:
                best, best_loss = trial, loss
        options.append((key, best.get_raw(key), best_loss))
        log.debug("screening %s: kept %s (loss %.5f)", key, best.get(key), best_loss)
    return ScreenResult(best, best_loss, takes, tried, options)


def convert_type(patch: Patch, type_ref) -> Patch:
    """A patch of another type carrying over every field the two types share (by key)."""
    out = Patch.init(type_ref)
    shared = set(out.effect_type.keys()) & set(patch.effect_type.keys())
    for key in out.effect_type.keys():
        if key in shared:
            out.set_raw(key, patch.get_raw(key))
    return out


def screen_variants(start: Patch, evaluate, *, start_loss: float, types=None) -> ScreenResult:
    """Measure the start's values on each sibling effect type and keep the best type.

    ``types`` defaults to :func:`variants_of` the start's type. Fields the types
    share keep their values; the others take the type's init values.
    """
    types = variants_of(start.effect_type.id) if types is None else tuple(types)
    best, best_loss, takes, tried = start, float(start_loss), 0, []
    for type_id in types:
        if effect_type(type_id).id == start.effect_type.id:
            continue
        candidate = convert_type(start, type_id)
        loss = float(evaluate(candidate))
        takes += 1
        tried.append((candidate.effect_type.name, loss))
        if loss < best_loss:
            best, best_loss = candidate, loss
    return ScreenResult(best, best_loss, takes, tried)
