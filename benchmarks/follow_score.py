"""How well the follow score separates same-performance pairs from unrelated ones.

``auto_match_hil`` refuses a target whose note onsets do not follow the DI
(``--min-follow-score``, :func:`optimize.pairs.follow_score`). This scores every
vendored target against every vendored DI, the way the command loads them
(:func:`optimize.pairs.load_pair`: resampled, aligned, cut to the busiest 12 s of a
long pair): the 7 real pairs are the same performance, the 42 crossings are not.
It reports both distributions and, at the default threshold, how many real pairs
are refused and how many unrelated ones get through.

Usage::

    .venv/bin/python benchmarks/follow_score.py

Writes ``benchmarks/results/follow_score.json`` and ``.md``.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))
sys.path.insert(0, str(REPO_DIR / "benchmarks"))

from mq_real_pairs import AUDIO, PAIRS  # noqa: E402
from optimize.pairs import MIN_FOLLOW_SCORE, load_pair  # noqa: E402

RESULTS = REPO_DIR / "benchmarks" / "results"
SAMPLE_RATE_HZ = 44100


def score(target: str, di: str) -> float:
    pair = load_pair(AUDIO / PAIRS[target][0], AUDIO / PAIRS[di][1],
                     sample_rate=SAMPLE_RATE_HZ, min_follow=0.0)
    return float(pair.alignment["follow_score"])


def main() -> int:
    started = time.perf_counter()
    rows = [{"target": t, "di": d, "same": t == d, "score": score(t, d)}
            for t, d in itertools.product(PAIRS, PAIRS)]
    same = sorted(r["score"] for r in rows if r["same"])
    other = sorted(r["score"] for r in rows if not r["same"])
    summary = {"threshold": MIN_FOLLOW_SCORE, "same_pairs": len(same),
               "unrelated_pairs": len(other), "same_min": same[0], "same_max": same[-1],
               "unrelated_min": other[0], "unrelated_max": other[-1],
               "same_refused": sum(s < MIN_FOLLOW_SCORE for s in same),
               "unrelated_accepted": sum(s >= MIN_FOLLOW_SCORE for s in other),
               "seconds": round(time.perf_counter() - started, 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "follow_score.json").write_text(json.dumps({"summary": summary, "rows": rows},
                                                          indent=2))
    lines = ["# Follow score: same performance against unrelated recordings", "",
             f"Every vendored target against every vendored DI, loaded as `auto_match_hil` "
             f"loads them, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             f"- same performance ({len(same)} pairs): {same[0]:.3f} to {same[-1]:.3f}; "
             f"refused at the default {MIN_FOLLOW_SCORE}: {summary['same_refused']}",
             f"- unrelated ({len(other)} crossings): {other[0]:.3f} to {other[-1]:.3f}; "
             f"accepted at the default: {summary['unrelated_accepted']}", "",
             "| target | DI | same | score |", "| --- | --- | --- | ---: |"]
    lines += [f"| {r['target']} | {r['di']} | {'yes' if r['same'] else ''} | {r['score']:.3f} |"
              for r in sorted(rows, key=lambda r: (not r["same"], -r["score"]))]
    (RESULTS / "follow_score.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:7]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
