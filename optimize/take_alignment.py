"""Takes aligned to the target before scoring: the effect's latency and polarity.

The target is aligned to the DI, but every take carries the effect chain's own
latency and polarity (the virtual amps delay the DI by 10-60 samples and invert
it), so a target rendered with a patch was placed 4-61 samples off its own take
and the true patch scored 0.09-0.13 against a replicate floor of 0.007.

:class:`TakeAligner` measures, on the first take of each *family* of patches
(the effect type and every choice-valued field: amp, distortion, speaker
type...), the lag and polarity that best align that take with the target
(:func:`analyzers.alignment.align_to_take`), and applies it to every later take
of the family: the start patch's take sets the first alignment, and it is
refined when the patch changes enough to move it (a new amp or speaker model).
The target itself never moves, so losses stay comparable across the search.
"""

from __future__ import annotations

import numpy as np

from analyzers.alignment import TAKE_MAX_LAG_MS, align_to_take, apply_take_alignment


def patch_family(patch) -> tuple:
    """The effect type and the raw value of every choice-valued (enum) field of ``patch``."""
    t = patch.effect_type
    return (t.id,) + tuple(patch.get_raw(p.key) for p in t.params if p.kind == "enum")


class TakeAligner:
    """Shift and polarity-correct takes onto a fixed target, one measurement per patch family.

    Parameters
    ----------
    target : np.ndarray
        Mono target (n,), aligned to the DI.
    sample_rate : int
        Rate in Hz.
    max_lag_ms : float
        The largest lag searched (±).
    """

    def __init__(self, target, sample_rate: int, *, max_lag_ms: float = TAKE_MAX_LAG_MS):
        self.target = np.asarray(target, dtype=np.float64)
        self.sample_rate = int(sample_rate)
        self.max_lag_ms = float(max_lag_ms)
        self.margin_samples = int(np.ceil(max_lag_ms * 1e-3 * sample_rate))
        self.alignments: dict = {}

    def __call__(self, patch, take, *, pre_samples: int = 0) -> np.ndarray:
        """The take (mono) placed on the target: ``len(target)`` samples.

        ``take[pre_samples]`` faces ``target[0]``; give at least ``margin_samples``
        before and after the target's span so the take can shift both ways.
        """
        x = np.asarray(take, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        family = patch_family(patch)
        found = self.alignments.get(family)
        if found is None:
            found = self.alignments[family] = align_to_take(
                self.target, x, self.sample_rate, pre_samples=pre_samples,
                max_lag_ms=self.max_lag_ms)
        return apply_take_alignment(x, found, self.target.size, pre_samples=pre_samples)

    def describe(self) -> list:
        """The alignments measured so far: [{family, lag_samples, polarity, correlation}]."""
        return [{"family": list(k), "lag_samples": a.lag_samples, "polarity": a.polarity,
                 "correlation": round(a.correlation, 4)} for k, a in self.alignments.items()]
