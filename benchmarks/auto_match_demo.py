"""Wall-clock time and result of the README's main command (the `make demo` run).

Runs ``auto_match_hil examples/target.wav --di-signal examples/di.wav --optimize``
as a subprocess N times (default 3, each into a fresh temporary out folder),
after one cold run (``NUMBA_CACHE_DIR`` pointed at an empty folder: the first run
after installing, when numba compiles the emulator's and librosa's kernels;
``--no-cold`` skips it), and reports the cold and the median warm wall time,
the time spent before the export (loading, analysis, search: the report's
"Seconds"), and the figures of the session (takes, initial loss, final loss,
bypass loss, improvement, effect type). The target for the whole command is
"well under a minute" on a 2-core machine.

Usage::

    .venv/bin/python benchmarks/auto_match_demo.py [--repeats 3] [-- extra options]

Writes ``benchmarks/results/auto_match_demo.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
RESULTS = REPO_DIR / "benchmarks" / "results"
COMMAND = ["cli/auto_match_hil.py", "examples/target.wav", "--di-signal", "examples/di.wav",
           "--optimize"]
TARGET_S = 60.0


def one_run(extra: list, *, cold: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, *COMMAND, "--out", out, "--session-name", "bench", *extra]
        env = dict(os.environ, **({"NUMBA_CACHE_DIR": cache} if cold else {}))
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, env=env)
        wall_s = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"the demo command failed ({proc.returncode}): {proc.stderr[-2000:]}")
        doc = json.loads((Path(out) / "bench" / "bench_session.json").read_text())
    return {"wall_s": wall_s, "cpu_s": round(cpu_s, 2), "search_s": doc["seconds"], "takes": doc["takes"],
            "initial_loss": doc["initial_loss"], "final_loss": doc["final_loss"],
            "bypass_loss": doc.get("bypass_loss"), "effect_type": doc["effect_type"]["name"],
            "optimizer": doc["optimizer"], "metric_panel": doc.get("metric_panel")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-cold", dest="cold", action="store_false",
                        help="skip the first run with an empty numba cache")
    parser.add_argument("extra", nargs="*", help="options added to the command")
    args = parser.parse_args()
    cold = one_run(args.extra, cold=True) if args.cold else None
    runs = [one_run(args.extra) for _ in range(args.repeats)]
    wall = statistics.median(r["wall_s"] for r in runs)
    first = runs[0]
    result = {
        "command": "auto_match_hil " + " ".join(COMMAND[1:] + args.extra),
        "runs": runs, "median_wall_s": round(wall, 2),
        "cold_run": cold, "cold_wall_s": round(cold["wall_s"], 2) if cold else None,
        "median_search_s": round(statistics.median(r["search_s"] for r in runs), 2),
        "target_s": TARGET_S, "status": "pass" if wall < TARGET_S else "FAIL",
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "auto_match_demo.json").write_text(json.dumps(result, indent=2) + "\n")
    improvement = 100 * (first["initial_loss"] - first["final_loss"]) / first["initial_loss"]
    md = [
        "# auto_match_hil demo run", "",
        f"`{result['command']}` (virtual Magicstomp), median of {len(runs)} runs as a subprocess "
        f"(imports included). {result['utc']}; {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other jobs share the cores).", "",
        "| median wall s | median CPU s | median s to end of search | takes | initial loss | final loss | "
        "improvement | effect type | optimizer | target | status |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |",
        f"| {wall:.1f} | {statistics.median(r['cpu_s'] for r in runs):.1f} | "
        f"{result['median_search_s']:.1f} | {first['takes']} | "
        f"{first['initial_loss']:.4f} | {first['final_loss']:.4f} | {improvement:.1f} % | "
        f"{first['effect_type']} | {first['optimizer']} | < {TARGET_S:.0f} s | "
        f"{result['status']} |",
        "",
        (f"Cold first run (empty numba cache, as after installing: numba compiles the "
         f"kernels): {cold['wall_s']:.1f} s wall ({cold['cpu_s']:.1f} s CPU), against "
         f"{first['wall_s']:.1f} s wall ({first['cpu_s']:.1f} s CPU) for the first warm run; "
         + ("the same losses." if (cold["initial_loss"], cold["final_loss"])
            == (first["initial_loss"], first["final_loss"]) else
            f"losses {cold['initial_loss']:.4f} -> {cold['final_loss']:.4f}.") if cold else
         "No cold run (--no-cold)."),
        f"Bypass loss (the dry DI against the target): {first['bypass_loss']:.4f}; the final "
        f"loss is {100 * first['final_loss'] / first['bypass_loss']:.0f} % of it."
        if first.get("bypass_loss") else "",
        "",
        ("The losses were identical on every run (virtual rig and search are deterministic "
         "for a given --seed)." if len({(r["initial_loss"], r["final_loss"]) for r in runs}) == 1
         else "The losses differed between runs: " + ", ".join(
             f"{r['initial_loss']:.4f} -> {r['final_loss']:.4f}" for r in runs)),
    ]
    (RESULTS / "auto_match_demo.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
