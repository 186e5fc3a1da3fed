"""Which amps and cabinets deserve a take: the screening's options ranked on the model.

The ``ours`` strategy screens the discrete choices of a type (cabinet, amp model)
one take per option. With a model of the unit (the virtual Magicstomp, see
:meth:`optimize.search.Recorder.model_loss`), every option is first rendered on
the model, and only the :data:`MODEL_SCREEN_KEEP` best get takes (the model
proposes, takes confirm). An amp model is judged at its own gain: amps differ in
how much drive a gain setting gives, so each is rendered at the incumbent's gain
and at :data:`GAIN_GRID` positions of the amp section's drive knob, and the take
measures it at its best model gain. Without a model (or once the model budget is
spent) the cabinets are predicted from the take's spectrum difference
(:mod:`optimize.cabinets`) and the amps are all measured, as before.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: options of a screened field measured on the rig after the model ranked them all
MODEL_SCREEN_KEEP = 3
#: fields that choose an amp voicing; rendered at several drive settings on the model
AMP_MODEL_KEYS = ("amplifier_type", "distortion_type")
#: normalized positions of the drive knob each amp is rendered at (plus the incumbent's)
GAIN_GRID = (0.15, 0.35, 0.55, 0.75, 0.95)


class ScreenRanker:
    """``rank(key, patch)`` and ``candidate(key, raw, patch)`` for
    :func:`optimize.screening.screen_discrete`.

    Parameters
    ----------
    recorder : optimize.search.Recorder
        Its ``model_loss`` (None without a model) and ``spectrum_of``.
    space : ParameterSpace
        Where the amp section's drive knob is found (a field with role "drive" in the
        space, in the amp's section).
    predict_cabinet : bool
        Without a model, measure only the cabinets predicted from the spectrum.
    """

    def __init__(self, recorder, space, *, predict_cabinet: bool = True):
        self.recorder, self.space, self.predict_cabinet = recorder, space, predict_cabinet
        self._adjusted: dict = {}

    def rank(self, key: str, patch):
        """The options of ``key`` worth a take from ``patch``, best first; None = all."""
        from .cabinets import CAB_CANDIDATES, rank_cabinets

        ranked = self._model_ranked(key, patch)
        if ranked is not None:
            return ranked[:MODEL_SCREEN_KEEP]
        spectrum = self.recorder.spectrum_of(patch)
        if key != "speaker_type" or spectrum is None or not self.predict_cabinet:
            return None
        return rank_cabinets(patch, spectrum, key=key)[:CAB_CANDIDATES]

    def shortlist(self, patch, measured: dict, top: int) -> dict:
        """``{key: [raw, ...]}`` to re-screen at ``patch`` (the fitted knobs): each field's
        ``top`` best options ranked on the model again, else ``measured`` (the first
        screening's shortlist, from takes) when there is no model."""
        out = {}
        for key, raws in measured.items():
            ranked = self._model_ranked(key, patch)
            out[key] = raws if ranked is None else ranked[:int(top)]
        return out

    def candidate(self, key: str, raw: int, patch):
        """The patch to measure for option ``raw``: at its best model drive, if ranked."""
        found = self._adjusted.get((key, raw, patch.to_payload()))
        return found.copy() if found is not None else patch.copy().set_raw(key, raw)

    def _drive_index(self, key: str, patch):
        section = patch.effect_type.param(key).section
        for i, d in enumerate(self.space.dimensions):
            if d.param.role == "drive" and d.param.section == section:
                return i
        return None

    def _model_ranked(self, key: str, patch):
        """Every option of ``key``, best model loss first (None without a model)."""
        param = patch.effect_type.param(key)
        drive = self._drive_index(key, patch) if key in AMP_MODEL_KEYS else None
        scored = []
        for raw in range(param.min_raw, param.max_raw + 1):
            best = self._best_drive(patch.copy().set_raw(key, raw), drive)
            if best is None:
                return None
            loss, adjusted = best
            self._adjusted[(key, raw, patch.to_payload())] = adjusted
            scored.append((loss, raw))
        scored.sort()
        log.debug("model ranking of %s: %s", key,
                  ", ".join(f"{param.to_physical(r)} {f:.4f}" for f, r in scored[:5]))
        return [raw for _, raw in scored]

    def _best_drive(self, patch, drive):
        """(model loss, patch) at the best drive position (the patch's own if no drive)."""
        trials = [patch]
        if drive is not None:
            u = self.space.to_unit(patch)
            for position in GAIN_GRID:
                moved = u.copy()
                moved[drive] = position
                trials.append(self.space.from_unit(patch, np.clip(moved, 0.0, 1.0)))
        best = None
        for trial in trials:
            loss = self.recorder.model_loss(trial)
            if loss is None:
                return None
            if best is None or loss < best[0]:
                best = (loss, trial)
        return best
