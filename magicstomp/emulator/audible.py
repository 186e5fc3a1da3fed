"""Patches with every effect section audible, for tests and benchmarks of the emulator.

The factory init patches leave some sections silent (a multi's chorus, delay and
reverb levels at 0, EQ gains at 0 dB, feedback at 0 %), so their other
parameters have nothing to act on. :func:`audible_patch` raises exactly those
values and keeps everything else at the init values.
"""

from __future__ import annotations

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
