"""Analysis hints for the search: measured echo times as candidate knob values.

The loss of an echo-time knob has many narrow valleys (a wrong time drifts out
of step with the target), so a coarse scan can miss the right one, above all
when drive and reverb blur the echoes. The analysis measures candidate echo
times from the rig's impulse response (:func:`analyzers.heuristics.echo_candidates`);
this module turns them into normalized coordinates of the space's delay-time
knobs, which :func:`optimize.strategies.ours` tries before its even scan, together
with the echo time and LFO rate the analysis measured for the starting patch.
"""

from __future__ import annotations

from .constraints import _is_delay_time


def echo_time_hints(space, candidates_ms) -> dict:
    """``{key: [u, ...]}`` for every delay-time knob (ms) of ``space``.

    Candidates outside a knob's allowed range are dropped (clamping them would
    put a wrong echo at the range's edge); repeats after snapping are merged.
    """
    times = [float(c["time_ms"] if isinstance(c, dict) else c) for c in candidates_ms or ()]
    hints = {}
    for dim in space.dimensions:
        if not _is_delay_time(dim.param) or not times:
            continue
        lo, hi = sorted((dim.param.to_physical(dim.lo_raw), dim.param.to_physical(dim.hi_raw)))
        values = []
        for t in times:
            if lo <= t <= hi:
                u = dim.unit_at(dim.param.to_raw(t))
                if u not in values:
                    values.append(u)
        if values:
            hints[dim.key] = values
    return hints


def analysis_hints(space, features: dict | None, start=None) -> dict:
    """All hints the analysis' ``features`` hold for ``space`` (empty when there are none).

    With the analysis-based ``start`` patch, the echo time and LFO rate it was
    given from a measurement (a strict echo, a stable modulation) come first:
    a scan would otherwise trade them for a value that only scores better while
    the other knobs are still wrong.
    """
    features = features or {}
    hints = echo_time_hints(space, features.get("echo_candidates"))
    if start is None:
        return hints
    from .search_order import is_timing, stage_of
    u = space.to_unit(start)
    measured = {"delay": features.get("delay"), "modulation": features.get("modulation")}
    for i, (key, dim) in enumerate(zip(space.keys, space.dimensions)):
        if measured.get(stage_of(dim.param)) and is_timing(dim.param):
            rest = [v for v in hints.get(key, []) if v != u[i]]
            hints[key] = [float(u[i])] + rest
    return hints
