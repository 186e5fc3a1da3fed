"""``<s>_report.txt``: the seed's report, extended with the metric panel and the alignment.

The figures come straight from the search result: ``Takes`` is the number of
rows of the history, ``Initial loss`` the loss of take 0 (the starting patch,
unchanged) and ``Final loss`` the lowest loss in the history, each written
with the same 6 significant digits as ``<s>_history.csv``.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

_NO_UNIT = ("", "?", "0-10", "enum", "pan")


def fmt_loss(value: float) -> str:
    """A loss as the report and the history CSV write it (6 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.6g}"


def _value_with_unit(param, value) -> str:
    unit = "" if param.unit in _NO_UNIT or isinstance(value, str) else f" {param.unit}"
    return f"{value}{unit}"


def _floor_line(best_loss: float, floor) -> str:
    if floor is None:
        return "Replicate floor: not measured"
    if floor <= 0:
        return (f"Replicate floor: {fmt_loss(floor)} (the rig is deterministic: two takes of one "
                "patch are identical, so every loss difference is real)")
    return (f"Replicate floor: {fmt_loss(floor)}; final loss = {best_loss / floor:.1f} x floor "
            "(below about 2 x, the remaining difference is within the noise of the rig)")


def format_report(*, session: str, result, space, rig: dict, optimizer: str,
                  budget_takes: int, seconds: float, metric_panel: dict | None = None,
                  alignment: dict | None = None, replicate_floor=None, notes=(),
                  optimized: bool = True, timestamp: datetime | None = None,
                  extra_lines=()) -> str:
    """The report text.

    Parameters
    ----------
    session : str
        Session name.
    result : optimize.search.SearchResult
        The search (or the single initial take when not optimizing).
    space : optimize.constraints.ParameterSpace
        The parameters searched (their values are listed first).
    rig : dict
        ``Rig.describe()``.
    optimizer, budget_takes, seconds
        What ran, the take budget and the wall-clock time of the run.
    metric_panel : dict, optional
        ``{metric: {"initial": x, "optimized": y}}`` or ``{metric: value}``.
    alignment : dict, optional
        The alignment record (lag, polarity, confidence...).
    replicate_floor : float, optional
        Loss between two takes of one patch.
    notes : iterable of str
        Warnings and remarks (unexpressed fields, excerpt, interruption...).
    extra_lines : iterable of str
        Sections placed before the notes (the residual EQ).
    """
    stamp = (timestamp or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S UTC")
    patch = result.best_patch
    t = patch.effect_type
    initial, final = result.initial_loss, result.best_loss
    improvement = 100.0 * (initial - final) / initial if initial and math.isfinite(initial) else 0.0
    lines = [
        "Magicstomp auto-match report",
        f"Session: {session}",
        f"Timestamp: {stamp}",
        f"Effect type: {t.name} (0x{t.id:02X})",
        f"Rig: {rig.get('rig', '?')} at {rig.get('sample_rate', '?')} Hz",
        f"Optimizer: {optimizer if optimized else 'none (--optimize not given)'}",
        f"Stopped: {result.stopped}",
        f"Takes: {len(result.history)}",
        f"Budget: {budget_takes}",
        f"Initial loss: {fmt_loss(initial)}",
        f"Final loss: {fmt_loss(final)}",
        f"Improvement: {improvement:.1f} %",
        f"Best take: {result.best_index}",
        f"Seconds: {seconds:.1f} (loading, analysis and search)",
        _floor_line(final, replicate_floor),
        "",
        "Best parameters (optimized):",
    ]
    width = max((len(k) for k in t.keys()), default=10)
    start = result.history[0].params if result.history else {}
    for key in space.keys:
        line = f"  {key:<{width}} = {_value_with_unit(t.param(key), patch.get(key))}"
        if key in start and start[key] != patch.get(key):
            line += f"   (start: {_value_with_unit(t.param(key), start[key])})"
        lines.append(line)
    others = [k for k in t.keys() if k not in space.keys]
    if others:
        lines.append("Other parameters (not searched; a change was made by the optimizer's "
                     "screening of discrete choices):")
        for key in others:
            line = f"  {key:<{width}} = {_value_with_unit(t.param(key), patch.get(key))}"
            if key in start and start[key] != patch.get(key):
                line += f"   (start: {_value_with_unit(t.param(key), start[key])})"
            lines.append(line)
    if metric_panel:
        lines += ["", "Metric panel (initial -> optimized):"]
        for name, value in metric_panel.items():
            if isinstance(value, dict):
                lines.append(f"  {name}: {_fmt(value.get('initial'))} -> "
                             f"{_fmt(value.get('optimized'))}")
            else:
                lines.append(f"  {name}: {_fmt(value)}")
    if alignment:
        lines += ["", "Alignment (target to DI):"]
        lines += [f"  {k}: {_fmt(v)}" for k, v in alignment.items()]
    lines += list(extra_lines)
    if notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if isinstance(value, float):
        return fmt_loss(value) if math.isfinite(value) else str(value)
    return str(value)


def parse_report(text: str) -> dict:
    """The ``Key: value`` header lines of a report, as strings (for tools and tests)."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if ": " in line:
            key, value = line.split(": ", 1)
            out[key.strip()] = value.strip()
    return out
