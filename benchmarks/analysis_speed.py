"""Speed of the analysis: one SeedLoss call on 5 s with cached target features
(median of 20, per backend) and the full analysis of a 30 s target.

    .venv/bin/python benchmarks/analysis_speed.py [--repeats 20]

Writes benchmarks/results/analysis_speed.json and .md. Targets: a librosa loss
call <= 10 ms; a 30 s analysis (features + initial patch, no DI) < 1 s.
The input is the vendored jazz DI (CC0) at 44.1 kHz, tiled to length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import time_call  # noqa: E402

DATA = ROOT / "tests" / "data"   # vendored reference recordings (tests/data/SOURCES.md)
RESULTS = ROOT / "benchmarks" / "results"
LOAD_AT_START = 0.0


def _median_ms(fn, repeats: int) -> tuple:
    """(median wall ms, min wall ms, max wall ms, median CPU ms of this process)."""
    t = time_call(fn, repeats)
    return 1e3 * t.median_wall_s, 1e3 * t.min_wall_s, 1e3 * t.max_wall_s, 1e3 * t.median_cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    from analyzers.heuristics import initial_patch
    from analyzers.loading import load_audio
    from optimize.loss import SeedLoss
    import scipy.signal as ss

    audio = load_audio(DATA / "audio/di-cc0-jazz/jazz.flac")
    sr = audio.sample_rate
    target = audio.samples[:5 * sr]
    take = ss.sosfilt(ss.butter(2, 2000, fs=sr, output="sos"), np.tanh(5 * target))
    rows = {}
    for backend in ("librosa", "essentia"):
        try:
            loss = SeedLoss(target, sr, backend=backend)
        except Exception as exc:  # noqa: BLE001 - report a missing backend, keep going
            rows[f"seed_loss_5s_{backend}"] = {"error": str(exc)}
            continue
        reps = args.repeats if backend == "librosa" else max(5, args.repeats // 4)
        med, lo, hi, cpu = _median_ms(lambda: loss(take), reps)
        rows[f"seed_loss_5s_{backend}"] = {"median_ms": round(med, 2), "min_ms": round(lo, 2),
                                           "max_ms": round(hi, 2), "cpu_median_ms": round(cpu, 2),
                                           "repeats": reps}
    long_target = np.tile(audio.samples, 3)[:30 * sr]
    for backend in ("librosa", "essentia"):
        med, lo, hi, cpu = _median_ms(lambda: initial_patch(long_target, sr, backend=backend), 5)
        rows[f"analysis_30s_{backend}"] = {"median_ms": round(med, 1), "min_ms": round(lo, 1),
                                           "max_ms": round(hi, 1), "cpu_median_ms": round(cpu, 1),
                                           "repeats": 5}
    result = {
        "benchmark": "analysis_speed",
        "sample_rate": sr,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    "load_average_1min_at_start": round(LOAD_AT_START, 2)},
        "targets": {"seed_loss_5s_librosa_ms": 10.0, "analysis_30s_ms": 1000.0},
        "results": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analysis_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# analysis_speed", "",
             f"Machine: {os.cpu_count()} CPUs shared with other jobs (1-min load "
             f"{result['machine']['load_average_1min']} at the end), Python {platform.python_version()}.",
             "Wall-clock times grow with the load; the CPU column is this process's CPU time.",
             "", "| measurement | median ms | min ms | max ms | CPU median ms | repeats | target |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in rows.items():
        target_ms = "<= 10" if name == "seed_loss_5s_librosa" else ("< 1000" if "30s" in name else "")
        if "error" in row:
            lines.append(f"| {name} | error: {row['error']} | | | | | |")
        else:
            lines.append(f"| {name} | {row['median_ms']} | {row['min_ms']} | {row['max_ms']} | "
                         f"{row['cpu_median_ms']} | {row['repeats']} | {target_ms} |")
    (RESULTS / "analysis_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
