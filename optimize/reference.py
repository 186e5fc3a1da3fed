"""The bypass reference: how far the unprocessed DI is from the target.

A loss figure means little on its own (is 0.61 good?). The natural yardstick
is what the loss gives for doing nothing: the DI itself scored against the
target, as if it were a take of a flat patch (same excerpt, same alignment,
same level matching, same loss). It costs no take: the DI is scored directly.

    bypass_loss(loss, di_segment)            -> float (the loss of the dry DI)
    compare_to_bypass(final_loss, bypass)     -> BypassComparison (ratio and verdict)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: final / bypass below this: "much closer to the target than doing nothing"
MUCH_CLOSER_RATIO = 0.5
#: final / bypass below this (and at least MUCH_CLOSER_RATIO): "closer"; above: "barely closer"
CLOSER_RATIO = 0.9


def bypass_loss(loss, di_segment) -> float:
    """The loss of the dry DI against the target (the same ``loss`` object the takes use).

    Parameters
    ----------
    loss : callable
        ``loss(take) -> LossValue or float``, built on the target excerpt.
    di_segment : array_like
        The DI samples that line up with that target excerpt (no pre-roll).

    Returns
    -------
    float
        The loss total (``inf`` when the loss is not finite).
    """
    value = loss(np.asarray(di_segment, dtype=np.float64))
    total = float(getattr(value, "total", value))
    return total if math.isfinite(total) else math.inf


@dataclass(frozen=True)
class BypassComparison:
    """The final loss read against the bypass loss.

    ``verdict`` is one of ``"much closer"`` (final below half of bypass),
    ``"closer"`` (below 90 %), ``"barely closer"`` (below bypass) and
    ``"not better"`` (at or above bypass: the patch is no closer to the target
    than the dry DI), or ``"unknown"`` when either loss is not a positive finite number.
    """

    final_loss: float
    bypass_loss: float
    ratio: float
    verdict: str

    @property
    def percent(self) -> float:
        """The final loss as a percentage of the bypass loss."""
        return 100.0 * self.ratio


def compare_to_bypass(final_loss: float, bypass: float) -> BypassComparison:
    """Classify ``final_loss`` against the bypass loss (see :class:`BypassComparison`)."""
    usable = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (final_loss, bypass))
    if not usable or bypass <= 0:
        return BypassComparison(final_loss, bypass, math.nan, "unknown")
    ratio = float(final_loss) / float(bypass)
    if ratio < MUCH_CLOSER_RATIO:
        verdict = "much closer"
    elif ratio < CLOSER_RATIO:
        verdict = "closer"
    elif ratio < 1.0:
        verdict = "barely closer"
    else:
        verdict = "not better"
    return BypassComparison(float(final_loss), float(bypass), ratio, verdict)
