"""``<s>_report.txt``: the seed's report, extended with the metric panel and the alignment.

The figures come straight from the search result: ``Takes`` is the number of
rows of the history, ``Initial loss`` the loss of take 0 (the starting patch,
unchanged) and ``Final loss`` the lowest loss in the history, each written
with the same 6 significant digits as ``<s>_history.csv``. ``Bypass loss`` is
the loss of the dry DI against the target (:mod:`optimize.reference`), the
yardstick that says whether the final loss is good; ``Reading`` says it in words.
Takes are numbered from 0 (the starting patch) everywhere: console, report,
history, session.json and the loss plot.
"""

from __future__ import annotations

import math
import shlex
from datetime import datetime, timezone

_NO_UNIT = ("", "?", "0-10", "enum", "pan")

#: one plain-words line per metric of :func:`optimize.loss.metric_panel`
METRIC_HELP = {
    "mrstft": "spectral distance at three time resolutions (multi-resolution STFT); "
              "0 = same spectra, lower is better",
    "centroid_diff_hz": "brightness: spectral centroid of the take minus the target's; "
                        "closer to 0 is better, positive = brighter than the target",
    "rolloff_diff_hz": "frequency under which 85 % of the energy lies, take minus target; "
                       "closer to 0 is better, positive = more highs than the target",
    "zcr_diff": "zero-crossing rate, take minus target (fizz, noise, high-frequency content); "
                "closer to 0 is better",
    "loudness_diff_lu": "perceived loudness after level matching, take minus target (LU); "
                        "closer to 0 is better",
    "crest_diff_db": "peak-to-RMS ratio, take minus target (dB); closer to 0 is better, "
                     "positive = spikier (less compressed or distorted) than the target",
    "esr": "error-to-signal ratio of the waveforms, sample by sample (0 = identical, 1 = the "
           "error is as loud as the target); it punishes every time or phase difference, so "
           "with a delay, chorus or reverb (echoes and LFO never line up sample by sample) it "
           "can rise while the sound gets closer: read it for amp, drive and EQ types only",
    "esr_db": "the same error-to-signal ratio in dB (0 dB = error as loud as the target); "
              "lower is better, same caveat",
    "level_diff_db": "output level of the take before level matching, minus the target's (dB); "
                     "the loss ignores it; set the unit's output level by ear",
    "seed_loss": "the seed project's objective (0.6 log-mel + 0.4 MFCC distance); lower is "
                 "better; shown so runs searched with either loss can be compared",
}


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


def bypass_reading(final_loss: float, bypass) -> str:
    """The final loss in plain words, against the loss of the dry DI (bypass)."""
    from optimize.reference import compare_to_bypass

    if bypass is None:
        return "no bypass reference (the dry DI was not scored)"
    cmp = compare_to_bypass(final_loss, bypass)
    share = f"final loss {final_loss:.3g} = {cmp.percent:.0f} % of the dry DI's {bypass:.3g}"
    if cmp.verdict == "unknown":
        return "the bypass reference or the final loss is not a finite positive number; no reading"
    if cmp.verdict == "much closer":
        return f"{share}: much closer to the target than doing nothing"
    if cmp.verdict == "closer":
        return f"{share}: closer to the target than doing nothing, with a clear gap left"
    if cmp.verdict == "barely closer":
        return (f"{share}: only a little closer to the target than doing nothing; try another "
                "--effect-type or a larger --budget")
    return (f"WARNING: {share}: the patch is NOT closer to the target than the unprocessed "
            "DI; try another --effect-type or a larger --budget, and check that the target "
            "and the DI are the same performance")


def next_step_lines(syx_path, *, send_patch: bool = False, slot=None) -> list:
    """How to put the optimized patch on the unit: exact commands (report and console)."""
    syx = shlex.quote(str(syx_path))
    lines = [f"  edit buffer (plays now, not stored): magicstomp send {syx}",
             f"  store to user slot N (all 99 user patches are backed up first): "
             f"magicstomp send {syx} --slot N --yes",
             "  (add --port NAME if the unit's MIDI port is not found; list them with "
             "magicstomp ports)",
             "  or let auto_match_hil do it at the end of a run: add --send-patch (edit buffer) "
             "or --send-patch --patch-number N (store)"]
    if send_patch:
        where = "the edit buffer" if slot is None else f"user slot {slot}"
        lines.insert(0, f"  this run was given --send-patch: the patch goes to {where} once "
                        "the session is written")
    return lines


def _steps(start, final, eq_change) -> list:
    """``[(step, value), ...]``: which step set a parameter's final value (empty: unchanged)."""
    if eq_change is not None:
        searched, fitted = eq_change
        steps = [] if start is None else [("start", start)]
        if start is None or searched != start:
            steps.append(("search", searched))
        return steps + [("residual-EQ fit", fitted)]
    if start is not None and start != final:
        return [("start", start), ("search", final)]
    return []


def _parameter_lines(t, patch, space, start: dict, eq_changes: dict) -> list:
    """The searched parameters, then the others grouped by the step that changed them."""
    width = max((len(k) for k in t.keys()), default=10)

    def line(key):
        final = patch.get(key)
        text = f"  {key:<{width}} = {_value_with_unit(t.param(key), final)}"
        steps = _steps(start.get(key), final, eq_changes.get(key))
        if steps:
            text += "   (" + " -> ".join(f"{step} {_value_with_unit(t.param(key), v)}"
                                         for step, v in steps) + ")"
        return text

    lines = ["Searched parameters (start = the analysis' starting patch, take 0):"]
    lines += [line(k) for k in space.keys]
    others = [k for k in t.keys() if k not in space.keys]
    by_eq = [k for k in others if k in eq_changes]
    by_search = [k for k in others if k not in eq_changes and k in start
                 and start[k] != patch.get(k)]
    unchanged = [k for k in others if k not in by_eq and k not in by_search]
    groups = (("Other parameters changed by the search (its screening of discrete choices "
               "such as amp model and speaker):", by_search),
              ("Other parameters changed by the residual-EQ fit (the patch's EQ controls, "
               "fitted after the search):", by_eq),
              ("Other parameters (not searched, unchanged from the starting patch):", unchanged))
    for heading, keys in groups:
        if keys:
            lines += [heading] + [line(k) for k in keys]
    return lines


def _panel_lines(metric_panel: dict) -> list:
    has_bypass = any(isinstance(v, dict) and "bypass" in v for v in metric_panel.values())
    lines = ["", "Metric panel (whole DI, each take level-matched to the target; "
             "initial -> optimized" + (", and the dry DI for reference" if has_bypass else "")
             + "):"]
    for name, value in metric_panel.items():
        if isinstance(value, dict):
            text = f"  {name}: {_fmt(value.get('initial'))} -> {_fmt(value.get('optimized'))}"
            if "bypass" in value:
                text += f"   (dry DI: {_fmt(value.get('bypass'))})"
        else:
            text = f"  {name}: {_fmt(value)}"
        lines.append(text)
        if name in METRIC_HELP:
            lines.append(f"      {METRIC_HELP[name]}")
    return lines


def _model_lines(model: dict | None) -> list:
    """``Model evaluations: N of M (...)``: the other budget (none when not counted)."""
    if model is None:
        return []
    stages = ", ".join(f"{k} {v}" for k, v in model.get("by_stage", {}).items()) or "none made"
    return [f"Model evaluations: {model['used']} of {model['budget']} (the virtual Magicstomp "
            f"as a model, no take: {stages})"]


def format_report(*, session: str, result, space, rig: dict, optimizer: str,
                  budget_takes: int, seconds: float, metric_panel: dict | None = None,
                  alignment: dict | None = None, replicate_floor=None, notes=(),
                  optimized: bool = True, timestamp: datetime | None = None,
                  extra_lines=(), bypass_loss=None, eq_changes: dict | None = None,
                  next_steps=(), model_evaluations: dict | None = None) -> str:
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
        ``{metric: {"initial": x, "optimized": y[, "bypass": z]}}`` or ``{metric: value}``.
    alignment : dict, optional
        The alignment record (lag, polarity, confidence...).
    replicate_floor : float, optional
        Loss between two takes of one patch.
    notes : iterable of str
        Warnings and remarks (unexpressed fields, excerpt, interruption...).
    extra_lines : iterable of str
        Sections placed before the notes (the residual EQ).
    bypass_loss : float, optional
        The loss of the dry DI against the target (:func:`optimize.reference.bypass_loss`).
    eq_changes : dict, optional
        ``{key: (value after the search, value after the residual-EQ fit)}`` when the
        residual-EQ take was kept (its changes are labelled as such).
    next_steps : iterable of str
        The "Next step" lines (:func:`next_step_lines`).
    model_evaluations : dict, optional
        ``{"used", "budget", "by_stage"}``: renders of the virtual Magicstomp used as a
        model (no take), a budget apart from the takes.
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
        f"Patch name: {patch.name}",
        f"Rig: {rig.get('rig', '?')} at {rig.get('sample_rate', '?')} Hz",
        f"Optimizer: {optimizer if optimized else 'none (--optimize not given)'}",
        f"Stopped: {result.stopped}",
        f"Takes: {len(result.history)}",
        f"Budget: {budget_takes}",
        *_model_lines(model_evaluations),
        "Take numbers: take 0 = the starting patch (console, history.csv, loss plot alike)",
        f"Initial loss: {fmt_loss(initial)}",
        f"Final loss: {fmt_loss(final)}",
        f"Bypass loss: {fmt_loss(bypass_loss)} (the dry DI scored against the target, no take)",
        f"Reading: {bypass_reading(final, bypass_loss)}",
        f"Improvement: {improvement:.1f} %",
        f"Best take: {result.best_index}",
        f"Seconds: {seconds:.1f} (loading, analysis and search)",
        _floor_line(final, replicate_floor),
        "",
    ]
    start = result.history[0].params if result.history else {}
    lines += _parameter_lines(t, patch, space, start, dict(eq_changes or {}))
    if next_steps:
        lines += ["", "Next step: put the optimized patch on the unit"] + list(next_steps)
    if metric_panel:
        lines += _panel_lines(metric_panel)
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
