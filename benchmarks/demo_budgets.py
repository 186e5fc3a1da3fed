"""The README example at several budgets, the default search beside ``--optimizer coordinate``.

Issue 14 asks, on the README's own example (``auto_match_hil examples/target.wav
--di-signal examples/di.wav --optimize``), that the default search beat
``--optimizer coordinate`` and that a larger budget never end worse. This runs the
command once per (optimizer, budget) pair, side by side in one run (the virtual rig
and both searches are deterministic for a given --seed, so one run each is the
figure), and reports the final MatchLoss (what the search minimizes) and the
MR-STFT of the final take (from the session's metric panel: a metric the search
does not optimize), with the bypass reference (the dry DI) beside them.

Usage::

    .venv/bin/python benchmarks/demo_budgets.py [--budgets 10,20,40,80,150]

Writes ``benchmarks/results/demo_budgets.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR / "benchmarks"))

from auto_match_demo import RESULTS, one_run  # noqa: E402

OPTIMIZERS = ("ours", "coordinate")
DEFAULT_BUDGET = 40     # the command's default for this example (DEFAULT_BUDGET_TAKES)


def measure(budgets: list) -> list:
    rows = []
    for budget in budgets:
        for optimizer in OPTIMIZERS:
            run = one_run(["--budget", str(budget), "--optimizer", optimizer])
            panel = run.get("metric_panel") or {}
            rows.append({"optimizer": optimizer, "budget": budget, "takes": run["takes"],
                         "initial_loss": run["initial_loss"], "final_loss": run["final_loss"],
                         "bypass_loss": run["bypass_loss"], "wall_s": round(run["wall_s"], 1),
                         "mrstft": panel.get("mrstft", {}).get("optimized"),
                         "mrstft_bypass": panel.get("mrstft", {}).get("bypass"),
                         "effect_type": run["effect_type"]})
            print(f"{optimizer:10s} {budget:4d} takes: {run['final_loss']:.4f}", flush=True)
    return rows


def verdicts(rows: list) -> dict:
    """Does the default beat coordinate at each budget; is each budget no worse than the
    smaller ones (per optimizer)?"""
    by = {(r["optimizer"], r["budget"]): r for r in rows}
    budgets = sorted({r["budget"] for r in rows})
    beats = {b: by[("ours", b)]["final_loss"] < by[("coordinate", b)]["final_loss"]
             for b in budgets}
    monotone = {}
    for opt in OPTIMIZERS:
        worse = []
        for i, b in enumerate(budgets):
            best_before = min((by[(opt, s)]["final_loss"] for s in budgets[:i]), default=None)
            if best_before is not None and by[(opt, b)]["final_loss"] > best_before:
                worse.append({"budget": b, "final_loss": by[(opt, b)]["final_loss"],
                              "best_smaller": best_before})
        monotone[opt] = worse
    return {"ours_beats_coordinate": beats, "larger_budget_worse": monotone}


def write(rows: list, verdict: dict) -> None:
    result = {"rows": rows, "verdicts": verdict, "default_budget": DEFAULT_BUDGET,
              "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "load_average": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "demo_budgets.json").write_text(json.dumps(result, indent=2) + "\n")
    by = {(r["optimizer"], r["budget"]): r for r in rows}
    budgets = sorted({r["budget"] for r in rows})
    first = rows[0]
    md = ["# The README example at several budgets", "",
          f"`auto_match_hil examples/target.wav --di-signal examples/di.wav --optimize --budget N "
          f"--optimizer X` on the virtual Magicstomp, one run each (deterministic), {result['utc']}. "
          f"Start loss {first['initial_loss']:.4f}, bypass (the dry DI) {first['bypass_loss']:.4f}"
          f" (MR-STFT {first['mrstft_bypass']:.4f}). The command's default budget here is "
          f"{DEFAULT_BUDGET} takes.", "",
          "| budget | ours (default) loss | coordinate loss | ours MR-STFT | coordinate MR-STFT | "
          "ours better |",
          "| ---: | ---: | ---: | ---: | ---: | --- |"]
    for b in budgets:
        o, c = by[("ours", b)], by[("coordinate", b)]
        md.append(f"| {b} | {o['final_loss']:.4f} | {c['final_loss']:.4f} | {o['mrstft']:.4f} | "
                  f"{c['mrstft']:.4f} | {'yes' if verdict['ours_beats_coordinate'][b] else 'no'} |")
    md.append("")
    for opt, worse in verdict["larger_budget_worse"].items():
        md.append(f"- {opt}: " + ("no budget ended worse than a smaller one." if not worse else
                                  "; ".join(f"{w['budget']} takes ended at {w['final_loss']:.4f}, "
                                            f"above {w['best_smaller']:.4f} at a smaller budget"
                                            for w in worse) + "."))
    (RESULTS / "demo_budgets.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="10,20,40,80,150")
    args = parser.parse_args()
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    rows = measure(budgets)
    write(rows, verdicts(rows))


if __name__ == "__main__":
    main()
