"""Audible sections and audible parameters, decided by the emulator.

The factory init patches leave some sections silent (a multi's chorus, delay and
reverb levels at 0, EQ gains at 0 dB, feedback at 0 %), so their other
parameters have nothing to act on. :func:`audible_patch` raises exactly those
values and keeps everything else at the init values.

:func:`audible_keys` is the audibility rule of the match-quality benchmark: a
field is audible in a patch when moving it by 0.1 of its raw range changes the
emulator's render by more than -40 dB relative to the render's level (after a
least-squares gain match, so a pure level control is not counted as tone).
"""

from __future__ import annotations

import numpy as np

from ..effects import effect_type
from ..patch import Patch

#: Fraction of the raw range a silent level, mix or depth is raised to.
RAISED_FRACTION = 0.7
#: Gain given to EQ bands left at 0 dB.
RAISED_EQ_GAIN_DB = 6.0
#: Roles (magicstomp/data/param_roles.json) raised from their minimum, and EQ gain roles.
RAISED_ROLES = ("level", "mix", "depth")
EQ_GAIN_ROLES = ("band_gain", "tone")


def audible_patch(type_ref) -> Patch:
    """The init patch of a type with its silent sections made audible.

    Parameters
    ----------
    type_ref : int or str
        Effect type id, hex string or name.

    Returns
    -------
    Patch
        Levels, mixes and depths at their minimum are raised to 70 % of their
        range, feedbacks at 0 % to half their maximum, and EQ gains at 0 dB to
        +6 dB. Gates are left as they are.
    """
    patch = Patch.init(effect_type(type_ref).id)
    for p in patch.effect_type.params:
        key, value = p.key, patch.get(p.key)
        if not p.is_numeric:
            continue
        if value == p.to_physical(p.min_raw) and p.role in RAISED_ROLES:
            patch.set_raw(key, p.min_raw + round(RAISED_FRACTION * (p.max_raw - p.min_raw)))
        elif p.role == "feedback" and value == 0:
            patch.set_raw(key, p.to_raw(p.to_physical(p.max_raw) * 0.5))
        elif (p.role in EQ_GAIN_ROLES and p.unit == "dB" and value == 0
              and p.to_physical(p.max_raw) > RAISED_EQ_GAIN_DB):
            patch.set_raw(key, p.to_raw(RAISED_EQ_GAIN_DB))
    return patch


# -- which parameters a patch makes audible ------------------------------------------------
#: A move of this fraction of a field's raw range is the probe (at least one raw step).
PROBE_FRACTION = 0.1
#: A field is audible when the probe changes the render by more than this, in dB
#: relative to the render's own level (RMS of the difference over RMS of the render).
AUDIBLE_THRESHOLD_DB = -40.0


def probe_raws(param, raw: int, fraction: float = PROBE_FRACTION) -> list:
    """The raw values ``fraction`` of ``param``'s range above and below ``raw`` (in range).

    At least one raw step either way; a move that would leave the range is dropped.
    """
    step = max(1, int(round(fraction * (param.max_raw - param.min_raw))))
    return [r for r in (raw + step, raw - step) if param.min_raw <= r <= param.max_raw]


def change_db(reference, other, *, match_gain: bool = True) -> float:
    """RMS of ``other - reference`` over the RMS of ``reference``, in dB (-inf when equal).

    With ``match_gain`` the other render is first scaled by the least-squares gain onto
    the reference, so a pure output-level change (master volume) counts as no change:
    the matching loss and the re-amp chain are level-matched, so level is not tone.
    """
    ref = np.asarray(reference, dtype=float).reshape(-1)
    oth = np.asarray(other, dtype=float).reshape(-1)
    ref_power = float(np.mean(ref ** 2))
    if ref_power <= 0.0:
        return 0.0 if float(np.mean(oth ** 2)) > 0.0 else -np.inf
    if match_gain:
        power = float(np.dot(oth, oth))
        if power > 0.0:
            oth = oth * (float(np.dot(oth, ref)) / power)
    diff = float(np.mean((oth - ref) ** 2))
    return -np.inf if diff == 0.0 else 10.0 * np.log10(diff / ref_power)


def audibility(patch, audio, sample_rate: int, *, keys=None, fraction: float = PROBE_FRACTION,
               match_gain: bool = True) -> dict:
    """``{key: change in dB}``: the largest change a +/-``fraction`` move of each field makes.

    Each field of ``patch`` (or of ``keys``) is moved up and down by ``fraction`` of
    its raw range, the patch is rendered on ``audio`` by the emulator, and the change
    is measured against the unmoved render with :func:`change_db`. Renders are the
    mono fold (0.5 (L + R)) from a fresh processor each (LFOs start at phase 0).
    """
    from . import render, to_mono

    base = to_mono(render(patch, audio, sample_rate))
    out = {}
    for p in patch.effect_type.params:
        if keys is not None and p.key not in keys:
            continue
        raw = patch.get_raw(p.key)
        changes = [change_db(base, to_mono(render(patch.copy().set_raw(p.key, r), audio,
                                                  sample_rate)), match_gain=match_gain)
                   for r in probe_raws(p, raw, fraction)]
        out[p.key] = max(changes) if changes else -np.inf
    return out


def audible_keys(patch, audio, sample_rate: int, *, threshold_db: float = AUDIBLE_THRESHOLD_DB,
                 fraction: float = PROBE_FRACTION, match_gain: bool = True) -> tuple:
    """The fields of ``patch`` that are audible on ``audio``, decided by the emulator.

    A field is audible when moving it by ``fraction`` (0.1) of its raw range, up or
    down, changes the render by more than ``threshold_db`` (-40 dB) relative to the
    render's level (:func:`audibility`). Keys come in the effect table's order.
    """
    changes = audibility(patch, audio, sample_rate, fraction=fraction, match_gain=match_gain)
    return tuple(k for k, v in changes.items() if v > threshold_db)
