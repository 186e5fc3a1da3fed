"""Speed of the multis against another checkout of the emulator, interleaved in one process.

On a shared machine absolute timings move with the other jobs' load; renders of
the same patch by two versions of the emulator, taken alternately in one
process, see the same load, so their ratio is the steady figure. The baseline
checkout's ``magicstomp`` package is copied under another name (a temporary
folder) and imported beside this one. For each multi type (its audible init
patch, 10 s of the jazz DI at 44.1 kHz): the minimum CPU time of N alternating
renders of each version, the speed-up, and the largest difference between the two
renders relative to the baseline's peak (the rewrite must not change the sound).

Usage::

    .venv/bin/python benchmarks/emulator_ab.py --baseline /work/main [--repeats 7]

Writes ``benchmarks/results/emulator_ab.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from benchmarks.emulator_speed import DURATION_S, RATE_HZ, load_di  # noqa: E402
from magicstomp.emulator import render  # noqa: E402
from magicstomp.emulator.audible import audible_patch  # noqa: E402

MULTIS = (0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E)


def import_baseline(checkout: Path, tmp: Path):
    """(render, Patch) of the baseline checkout's package, imported as ``magicstomp_baseline``."""
    shutil.copytree(checkout / "magicstomp", tmp / "magicstomp_baseline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(tmp))
    emulator = importlib.import_module("magicstomp_baseline.emulator")
    patch = importlib.import_module("magicstomp_baseline.patch")
    return emulator.render, patch.Patch


def min_cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return 1000.0 * (time.process_time() - start)


def compare(di, base_render, base_patch_cls, repeats: int) -> list:
    rows = []
    for type_id in MULTIS:
        patch = audible_patch(type_id)
        base_patch = base_patch_cls.from_payload(patch.to_payload())
        ref, new = base_render(base_patch, di, RATE_HZ), render(patch, di, RATE_HZ)
        base_ms, new_ms = [], []
        for _ in range(repeats):
            base_ms.append(min_cpu_ms(lambda: base_render(base_patch, di, RATE_HZ)))
            new_ms.append(min_cpu_ms(lambda: render(patch, di, RATE_HZ)))
        row = {"type_id": f"0x{type_id:02X}", "name": patch.effect_type.name,
               "baseline_cpu_ms": round(min(base_ms), 2), "cpu_ms": round(min(new_ms), 2),
               "speed_up": round(min(base_ms) / min(new_ms), 3),
               "cpu_realtime_x": round(1000 * DURATION_S / min(new_ms), 1),
               "bit_identical": bool(np.array_equal(ref, new)),
               "max_rel_diff": float(np.max(np.abs(ref - new)) / np.max(np.abs(ref)))}
        rows.append(row)
        print(row, flush=True)
    return rows


def markdown(report: dict) -> str:
    lines = ["# Emulator speed against a baseline checkout (interleaved, CPU time)", "",
             f"Baseline `{report['baseline']}`; {report['duration_s']:.0f} s of "
             f"`{report['input']}` at {report['rate_hz']} Hz per render, minimum CPU time of "
             f"{report['repeats']} alternating renders per version. Load average "
             f"{report['load_average']} at the start, {report['load_average_end']} at the end "
             f"({report['date_utc']}).", "",
             "| type | name | baseline CPU ms | CPU ms | speed-up | CPU factor | same render |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in report["types"]:
        same = "bit-identical" if r["bit_identical"] else f"within {r['max_rel_diff']:.1e}"
        lines.append(f"| {r['type_id']} | {r['name']} | {r['baseline_cpu_ms']:.1f} | "
                     f"{r['cpu_ms']:.1f} | x{r['speed_up']:.2f} | {r['cpu_realtime_x']:.0f}x | "
                     f"{same} |")
    return "\n".join(lines + [""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True,
                        help="a checkout whose magicstomp/ is the baseline (e.g. main)")
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out-dir", type=Path, default=REPO_DIR / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if not (args.baseline / "magicstomp" / "emulator").is_dir():
        parser.error(f"{args.baseline} has no magicstomp/emulator; pass a checkout of this project")
    di = load_di(args.data_dir)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        base_render, base_patch_cls = import_baseline(args.baseline, Path(tmp))
        rows = compare(di, base_render, base_patch_cls, args.repeats)
    report = {"benchmark": "emulator_ab", "baseline": str(args.baseline),
              "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "input": "audio/di-cc0-jazz/jazz.flac", "rate_hz": RATE_HZ,
              "duration_s": DURATION_S, "repeats": args.repeats, "load_average": load,
              "load_average_end": " ".join(f"{v:.2f}" for v in os.getloadavg()), "types": rows}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "emulator_ab.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "emulator_ab.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
