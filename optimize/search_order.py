"""The order in which ``ours`` visits knobs: search stages by section, roles inside.

stage_of      amp/EQ, modulation, delay or reverb, from the parameter's section
is_timing     echo times and LFO rates (their loss ripples: scanned first)
is_level      levels and mixes (the knobs that make a section heard)
staged_order  indices by stage, then levels, timing knobs and the other roles
"""

from __future__ import annotations

STAGE_ORDER = ("amp", "modulation", "delay", "reverb")
#: search stage of each section (magicstomp/data/param_roles.json); any other section
#: (amp, eq, dynamics, filter, pitch, output) is searched with the amp
_STAGE_OF_SECTION = {"modulation": "modulation", "delay": "delay", "reverb": "reverb"}
#: inside a stage, after levels and timing knobs: roles in order of how much they shape the sound
ROLE_ORDER = ("drive", "band_gain", "tone", "volume", "depth", "feedback", "decay", "rate",
              "time", "predelay", "pitch", "filter", "tap", "character", "eq_frequency",
              "eq_width")


def stage_of(param) -> str:
    """Which search stage a parameter belongs to (amp/EQ, modulation, delay or reverb)."""
    return _STAGE_OF_SECTION.get(param.section, "amp")


def is_timing(param) -> bool:
    """True for an echo-time or LFO-rate knob: its loss has many local minima, so it is scanned.

    A wrong echo time or LFO rate drifts out of step with the target over the take,
    so the loss ripples as the knob moves; a scan finds the right valley first.
    """
    stage = stage_of(param)
    return (stage == "delay" and param.role == "time") or \
        (stage == "modulation" and param.role == "rate")


def is_level(param) -> bool:
    """True for a level or mix: the knob that makes its section heard at all."""
    return param.role in ("level", "mix")


def staged_order(params) -> list:
    """Indices of ``params`` by stage (amp/EQ first, reverb last); inside a stage levels
    first, then echo times and LFO rates, then the other roles as :data:`ROLE_ORDER` lists
    them (what changes the sound most first)."""
    params = list(params)

    def rank(i):
        p = params[i]
        inner = 0 if is_level(p) else (1 if is_timing(p) else 2)
        role = ROLE_ORDER.index(p.role) if p.role in ROLE_ORDER else len(ROLE_ORDER)
        return (STAGE_ORDER.index(stage_of(p)), inner, role)
    return sorted(range(len(params)), key=rank)
