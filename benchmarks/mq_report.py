"""Summary and Markdown of the match-quality benchmark (v2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mq_cases import MULTI_TYPES, SECTIONS

KINDS = ("factory", "random", "init")
DIAGNOSES = ("reached", "search failed", "space too narrow", "both")


def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(values)) if values else None


def _share(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _is_multi(case) -> bool:
    return int(case["type_id"], 16) in MULTI_TYPES


def _method_summary(cases, pairs, label) -> dict:
    rows = [c["methods"][label] for c in cases]
    multis = [c["methods"][label] for c in cases if _is_multi(c)]
    user_runs = [p for p in pairs if p["optimizer"] == _strategy(label) and not p["with_type"]]
    return {
        "median_error_all_audible": _median([r["errors"]["all_audible"] for r in rows]),
        "median_error_all_audible_by_kind": {
            k: _median([c["methods"][label]["errors"]["all_audible"] for c in cases
                        if c["kind"] == k]) for k in KINDS},
        "median_error_all_audible_multis": _median([r["errors"]["all_audible"] for r in multis]),
        "median_error_all_audible_singles": _median(
            [c["methods"][label]["errors"]["all_audible"] for c in cases if not _is_multi(c)]),
        "median_error_seed_knobs_multis": _median([r["errors"]["seed_knobs"] for r in multis]),
        "median_error_by_section": {s: _median([r["errors"]["sections"][s] for r in rows])
                                    for s in SECTIONS},
        "share_within_3x_floor": _share([r["x_truth"] <= 3.0 for r in rows]),
        "median_final_x_floor": _median([r["x_truth"] for r in rows]),
        "share_amp_right": _share([r["errors"]["amp_right"] for r in multis]),
        "share_speaker_right": _share([r["errors"]["speaker_right"] for r in multis]),
        "diagnosis": {d: sum(r["diagnosis"] == d for r in rows) for d in DIAGNOSES},
        "median_judge_mrstft": _median([r["judge_mrstft"] for r in rows]),
        "median_search_seconds": _median([r["search_seconds"] for r in rows]),
        "real_pairs_beat_bypass": (_share([p["beats_bypass"] for p in user_runs])
                                   if user_runs else None),
        "real_pairs_refused": sum(p["refused"] is not None for p in user_runs),
        "real_pair_runs": len(user_runs)}


_STRATEGIES = {"seed": "seed_coordinate", "coordinate": "coordinate", "random": "random",
               "cma": "cma", "tpe": "tpe", "ours": "ours"}


def _strategy(label: str) -> str:
    return _STRATEGIES[label]


def summarise(cases: list, pairs: list, methods) -> dict:
    summary = {m: _method_summary(cases, pairs, m) for m in methods}
    if "ours" in methods:
        others = [m for m in methods if m != "ours"]
        summary["ours"]["share_best_final_loss"] = _share(
            [all(c["methods"]["ours"]["final"]["match"] < c["methods"][m]["final"]["match"]
                 for m in others) for c in cases]) if others else None
        typed = [p for p in pairs if p["with_type"]]
        summary["ours"]["real_pairs_beat_bypass_with_type"] = (
            _share([p["beats_bypass"] for p in typed]) if typed else None)
    summary["reference"] = {
        "median_error_start": _median([c["start_errors"]["all_audible"] for c in cases]),
        "median_error_projected_truth": _median([c["projected_errors"]["all_audible"]
                                                 for c in cases]),
        "median_start_x_floor": _median([c["losses"]["start"]["match"]
                                         / c["losses"]["truth"]["match"] for c in cases]),
        "median_projected_x_floor": _median([c["losses"]["projected"]["match"]
                                             / c["losses"]["truth"]["match"] for c in cases]),
        "median_audible_fields": _median([len(c["audible"]) for c in cases]),
        "median_searched_audible": _median([len(set(c["audible"]) & set(c["keys"]))
                                            for c in cases])}
    return summary


def _fmt(value, fmt="{:.3f}"):
    if value is None:
        return "-"
    return fmt.format(value)


def _table(summary, methods) -> list:
    rows = (("median error, every audible field", "median_error_all_audible", "{:.3f}"),
            ("  factory-based cases", ("median_error_all_audible_by_kind", "factory"), "{:.3f}"),
            ("  random cases", ("median_error_all_audible_by_kind", "random"), "{:.3f}"),
            ("  v1 init+knobs cases", ("median_error_all_audible_by_kind", "init"), "{:.3f}"),
            ("  multis", "median_error_all_audible_multis", "{:.3f}"),
            ("  single effects", "median_error_all_audible_singles", "{:.3f}"),
            ("median error, original 11 knobs (multis)", "median_error_seed_knobs_multis", "{:.3f}"))
    rows += tuple((f"median error, {s}", ("median_error_by_section", s), "{:.3f}") for s in SECTIONS)
    rows += (("amp model right (multis)", "share_amp_right", "{:.0%}"),
             ("cabinet right (multis with one)", "share_speaker_right", "{:.0%}"),
             ("final MatchLoss within 3x the truth's", "share_within_3x_floor", "{:.0%}"),
             ("median final MatchLoss / truth's", "median_final_x_floor", "{:.1f}"),
             ("median judge MR-STFT (noise-free)", "median_judge_mrstft", "{:.3f}"),
             ("real pairs: final beats bypass (default options)", "real_pairs_beat_bypass",
              "{:.0%}"),
             ("median search wall time per case (s)", "median_search_seconds", "{:.1f}"))
    lines = ["| metric | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]
    for title, key, fmt in rows:
        cells = []
        for m in methods:
            v = summary[m][key[0]][key[1]] if isinstance(key, tuple) else summary[m][key]
            cells.append(_fmt(v, fmt))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    diag = [" / ".join(str(summary[m]["diagnosis"][d]) for d in DIAGNOSES) for m in methods]
    lines.append("| diagnosis: reached / search failed / space too narrow / both | "
                 + " | ".join(diag) + " |")
    return lines


def _case_lines(doc, methods) -> list:
    lines = ["| # | kind | type | DI | audible (searched) | start xT | projected xT | "
             + " | ".join(f"{m} err / xT" for m in methods) + " | ours diagnosis |",
             "| --- |" + " --- |" * (7 + len(methods))]
    for c in doc["cases"]:
        t = c["losses"]["truth"]["match"]
        cells = [f"{_fmt(c['methods'][m]['errors']['all_audible'])} / "
                 f"{c['methods'][m]['x_truth']:.1f}" for m in methods]
        diag = c["methods"]["ours"]["diagnosis"] if "ours" in c["methods"] else "-"
        lines.append(f"| {c['index']} | {c['kind']} | {c['type']} | {Path(c['di']).parent.name}/"
                     f"{Path(c['di']).name} | {len(c['audible'])} "
                     f"({len(set(c['audible']) & set(c['keys']))}) | "
                     f"{c['losses']['start']['match'] / t:.1f} | "
                     f"{c['losses']['projected']['match'] / t:.1f} | " + " | ".join(cells)
                     + f" | {diag} |")
    return lines


def _pair_lines(doc) -> list:
    lines = ["| pair | optimizer | type given | effect type used | bypass MR-STFT / mel dB | "
             "start | final | beats bypass |", "| --- |" + " --- |" * 7]
    for p in doc["real_pairs"]:
        s = p["scores"]

        def cell(k):
            return f"{s[k]['mrstft']:.3f} / {s[k]['logmel_db']:.2f}" if k in s else "-"
        used = (p.get("effect_type") or {}).get("name", "-") if not p["refused"] else "refused"
        given = p["best_type"]["type_id"] if p["best_type"] else "no"
        lines.append(f"| {p['pair']} | {p['optimizer']} | {given} | {used} | {cell('bypass')} | "
                     f"{cell('start')} | {cell('final')} | "
                     f"{'yes' if p['beats_bypass'] else ('refused' if p['refused'] else 'no')} |")
    return lines


def markdown(doc: dict) -> str:
    meta, s = doc["meta"], doc["summary"]
    methods = list(meta["methods"])
    ref = s["reference"]
    lines = [f"# Match quality v2 ({meta['cases']} cases, {meta['budget_takes']} takes, "
             f"seed {meta['seed']}; {meta['real_pair_runs']} real-pair runs)", "",
             ("" if meta.get("complete", True) else
              "**Incomplete run: the jobs listed below are all that finished.** "),
             f"Run {meta['date']} in {meta['seconds']:.0f} s wall on {meta['workers']} worker(s), "
             f"{meta.get('cpu_seconds', 0):.0f} s of CPU ({meta['cpu_count']} cores shared with "
             f"other jobs; load average at the end {meta['load_average_end']}). Errors are |guess - truth| in 0..1 of each field's "
             "raw range (a choice field: 0 or 1), averaged over the fields audible in the hidden "
             "patch (a 0.1 move changes the emulator's render by more than -40 dB, after gain "
             "matching); amp model and cabinet are reported apart. xT = MatchLoss (mean of two "
             "fresh takes) over the truth's (two replicate takes of the hidden patch).", ""]
    lines += _table(s, methods)
    lines += ["", f"Reference points (median over cases): the start's error "
              f"{_fmt(ref['median_error_start'])} and {_fmt(ref['median_start_x_floor'], '{:.1f}')}x "
              f"the truth's loss; the projected truth (searched fields at their true values, the "
              f"rest at the start's) {_fmt(ref['median_error_projected_truth'])} and "
              f"{_fmt(ref['median_projected_x_floor'], '{:.1f}')}x; "
              f"{_fmt(ref['median_audible_fields'], '{:.0f}')} audible fields per case, of which "
              f"{_fmt(ref['median_searched_audible'], '{:.0f}')} are searched."]
    pairs = [p for p in doc["real_pairs"] if p["optimizer"] == "ours"]
    for typed, how in ((False, "default options, the way a user runs it"),
                       (True, "the best-fitting effect type given")):
        runs = [p for p in pairs if p["with_type"] == typed]
        if runs:
            refused = [p["pair"] for p in runs if p["refused"]]
            lines.append(f"Real pairs, ours, {how}: the final take beats bypass on both judge "
                         f"metrics in {sum(p['beats_bypass'] for p in runs)} of {len(runs)}"
                         + (f" (refused: {', '.join(refused)})" if refused else "") + ".")
    if "ours" in s and s["ours"].get("share_best_final_loss") is not None:
        lines.append(f"Ours ends with a lower MatchLoss than every other method in "
                     f"{s['ours']['share_best_final_loss']:.0%} of the cases.")
    lines += ["", "## Cases", ""] + _case_lines(doc, methods)
    if doc["real_pairs"]:
        lines += ["", "## Real pairs (judge: own alignment and gain; MR-STFT at auraloss' "
                  "resolutions / log-mel L1 dB; lower is better)", ""] + _pair_lines(doc)
    return "\n".join(lines) + "\n"
