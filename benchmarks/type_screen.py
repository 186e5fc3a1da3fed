"""Which effect type the rule picks and which the type screen picks, on the vendored real pairs.

For each pair (tests/data/audio, see tests/data/SOURCES.md) the run does what
``auto_match_hil`` does without ``--effect-type``: load and align the pair (any
follow score: a_crazy_one and the reverb pair are refused by default), choose a
5 s excerpt, analyse the target, build MatchLoss; then it scores

* ``bypass``: the unprocessed DI excerpt (what "no effect" scores);
* ``rule``: ``suggest_effect_type``'s type, its ``to_patch`` start on the model;
* ``screen``: :func:`optimize.type_screen.screen_types` (default options), its ranking;
* ``searched``: the rule's start and the screen's best patch, each searched for
  SEARCH_TAKES takes of the default ``ours`` strategy on the model (seed 0): whether the
  chosen type still wins once its knobs are fitted.

Losses are MatchLoss on the virtual Magicstomp's render (the model; no search). The
first pair's screen runs in a fresh process (imports and first renders included:
what a user waits for); every pair's screen is timed.

    python benchmarks/type_screen.py   # writes benchmarks/results/type_screen.{json,md}
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzers.heuristics import initial_patch  # noqa: E402
from optimize.pairs import choose_excerpt, load_pair  # noqa: E402
from magicstomp.effects import effect_type  # noqa: E402
from magicstomp.emulator import render, to_mono  # noqa: E402
from magicstomp.neutral import suggest_effect_type, to_patch  # noqa: E402
from optimize.constraints import ParameterSpace  # noqa: E402
from optimize.objective import MatchLoss  # noqa: E402
from optimize.search import run_search  # noqa: E402
from optimize.type_screen import screen_types  # noqa: E402

AUDIO = ROOT / "tests" / "data" / "audio"
GULMINI = AUDIO / "pair-gulmini-neuralfx"
PAIRS = {
    **{f"gulmini-{n}": (GULMINI / "audio" / "target" / f"{n}.flac",
                        GULMINI / "audio" / "input" / f"{n}.flac") for n in ("001", "002", "008",
                                                                           "009")},
    "harmonic": (GULMINI / "harmonic" / "effect.flac", GULMINI / "harmonic" / "clean.flac"),
    "a_crazy_one": (GULMINI / "a_crazy_one" / "effect.flac",
                    GULMINI / "a_crazy_one" / "clean.flac"),
    "steinmetz-reverb": (AUDIO / "pair-steinmetz-reverb" / "target.flac",
                         AUDIO / "pair-steinmetz-reverb" / "input.flac"),
}
RATE_HZ = 44100
EXCERPT_S = 5.0
SEARCH_TAKES = 30
OUT = ROOT / "benchmarks" / "results"


def run_pair(name: str, target_path: Path, di_path: Path) -> dict:
    pair = load_pair(target_path, di_path, sample_rate=RATE_HZ, min_follow=0.0)
    excerpt = choose_excerpt(pair.di, RATE_HZ, seconds=EXCERPT_S)
    neutral = initial_patch(pair.target, RATE_HZ, di=pair.di)
    target = pair.target[excerpt.start:excerpt.stop]
    segment = pair.di[excerpt.start - excerpt.preroll:excerpt.stop]
    loss = MatchLoss(target, RATE_HZ, di=pair.di[excerpt.start:excerpt.stop])
    rule_id = suggest_effect_type(neutral)
    rule_patch, _ = to_patch(neutral, rule_id)
    rule_loss = loss(to_mono(render(rule_patch, segment, RATE_HZ))[excerpt.preroll:]).total
    cpu = time.process_time()
    screen = screen_types(target, segment, neutral, RATE_HZ, preroll=excerpt.preroll, loss=loss)
    cpu = time.process_time() - cpu

    def evaluate(patch):
        return loss(to_mono(render(patch, segment, RATE_HZ))[excerpt.preroll:])

    searched = {label: round(float(run_search(
        "ours", space=ParameterSpace(patch.effect_type), start=patch, evaluate=evaluate,
        budget_takes=SEARCH_TAKES, seed=0).best_loss), 4)
        for label, patch in (("rule", rule_patch), ("screen", screen.best.patch))}
    return {
        "pair": name, "follow_score": pair.alignment.get("follow_score"),
        "excerpt_s": round(excerpt.samples / RATE_HZ, 2),
        "bypass_loss": round(float(loss(pair.di[excerpt.start:excerpt.stop]).total), 4),
        "rule": {"type": effect_type(rule_id).name, "start_loss": round(float(rule_loss), 4)},
        "screen": {"type": screen.best.name, "loss": round(screen.best.loss, 4),
                   "start_loss": round(screen.best.start_loss, 4),
                   "rule_type_loss": next((round(c.loss, 4) for c in screen.ranking
                                           if c.type_id == rule_id), None),
                   "model_evaluations": screen.evaluations, "seconds": round(screen.seconds, 2),
                   "cpu_seconds": round(cpu, 2),
                   "ranking": [c.to_dict() for c in screen.ranking]},
        "searched_loss": searched,
        "neutral": {k: v for k, v in neutral.to_dict().items() if k not in ("features",)},
    }


def markdown(doc: dict) -> str:
    lines = ["# Effect type: the rule against the type screen (real pairs)", "",
             f"{doc['machine']}; {doc['excerpt_s']} s excerpts at {RATE_HZ} Hz; losses are "
             "MatchLoss of the model's render of each type's starting patch (after the screen's "
             f"coarse moves for the screened types); `searched`: after {SEARCH_TAKES} takes of "
             "`ours` from that start on the model. `bypass` is the DI itself.", "",
             "| pair | follow | bypass | rule's type | rule start | rule searched | screen's type "
             "| screen start | screen searched | model evals | screen s (CPU s) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in doc["pairs"]:
        lines.append(f"| {r['pair']} | {r['follow_score']} | {r['bypass_loss']} | "
                     f"{r['rule']['type']} | {r['rule']['start_loss']} | "
                     f"{r['searched_loss']['rule']} | {r['screen']['type']} | "
                     f"{r['screen']['loss']} | {r['searched_loss']['screen']} | "
                     f"{r['screen']['model_evaluations']} | "
                     f"{r['screen']['seconds']} ({r['screen']['cpu_seconds']}) |")
    s = doc["summary"]
    lines += ["", f"Screen lower than the rule's start on {s['screen_below_rule']} of "
              f"{s['pairs']} pairs; below bypass on {s['screen_below_bypass']} of {s['pairs']} "
              f"(the rule's start: {s['rule_below_bypass']} of {s['pairs']}). After the search: "
              f"the screen's type lower on {s['searched_screen_below_rule']} of {s['pairs']}, "
              f"below bypass on {s['searched_screen_below_bypass']} of {s['pairs']} (the "
              f"rule's type: {s['searched_rule_below_bypass']}). Screen time: "
              f"median {s['median_screen_s']} s, max {s['max_screen_s']} s wall (the first pair's "
              "includes the process's first renders), CPU time median "
              f"{s['median_screen_cpu_s']} s, max {s['max_screen_cpu_s']} s (what an unloaded "
              "core would take); model evaluations: max "
              f"{s['max_model_evaluations']}.", "",
              "Ranking per pair (model loss, best first):", ""]
    for r in doc["pairs"]:
        ranking = "; ".join(f"{c['type']} {c['model_loss']}" for c in r["screen"]["ranking"])
        lines.append(f"- **{r['pair']}**: {ranking}")
    return "\n".join(lines) + "\n"


def main() -> None:
    started = time.perf_counter()
    rows = [run_pair(name, *paths) for name, paths in PAIRS.items()]
    seconds = sorted(r["screen"]["seconds"] for r in rows)
    cpu = sorted(r["screen"]["cpu_seconds"] for r in rows)
    summary = {
        "pairs": len(rows),
        "screen_below_rule": sum(r["screen"]["loss"] < r["rule"]["start_loss"] for r in rows),
        "screen_below_bypass": sum(r["screen"]["loss"] < r["bypass_loss"] for r in rows),
        "rule_below_bypass": sum(r["rule"]["start_loss"] < r["bypass_loss"] for r in rows),
        "searched_screen_below_rule": sum(r["searched_loss"]["screen"] <
                                          r["searched_loss"]["rule"] for r in rows),
        "searched_screen_below_bypass": sum(r["searched_loss"]["screen"] < r["bypass_loss"]
                                            for r in rows),
        "searched_rule_below_bypass": sum(r["searched_loss"]["rule"] < r["bypass_loss"]
                                          for r in rows),
        "median_screen_s": seconds[len(seconds) // 2], "max_screen_s": seconds[-1],
        "median_screen_cpu_s": cpu[len(cpu) // 2], "max_screen_cpu_s": cpu[-1],
        "max_model_evaluations": max(r["screen"]["model_evaluations"] for r in rows),
    }
    doc = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
                      f"{os.getloadavg()[0]:.1f}", "excerpt_s": EXCERPT_S, "pairs": rows,
           "summary": summary, "wall_s": round(time.perf_counter() - started, 1)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "type_screen.json").write_text(json.dumps(doc, indent=2) + "\n")
    (OUT / "type_screen.md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
