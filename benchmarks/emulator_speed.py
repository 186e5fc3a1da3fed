"""Real-time factor of every emulated effect type (and of the multis' reverb stage).

For each type in ``EMULATED_TYPES`` (its init patch with the silent sections made
audible, :func:`magicstomp.emulator.audible.audible_patch`) this renders 10 s of
a real mono DI at 44.1 kHz (``audio/di-cc0-jazz/jazz.flac``, cut or looped to
10 s): one warm-up render (numba compile or cache load, reported separately),
then the median of 5 timed renders. real-time factor = 10 s / median.

Targets (issue #3): >= 100x for each Amp Multi and Distortion Multi type,
>= 300x for the single delay, modulation and EQ types; the multis' reverb stage
should take <= 30 ms for the 10 s. Other types have no target; their factor is
reported.

Usage::

    .venv/bin/python benchmarks/emulator_speed.py [--data-dir tests/data] [--repeats 5]

Writes ``benchmarks/results/emulator_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.effects import effect_type  # noqa: E402
from magicstomp.emulator import EMULATED_TYPES, processor_class, render  # noqa: E402
from magicstomp.emulator.audible import audible_patch  # noqa: E402
from benchmarks.timing import time_call  # noqa: E402

RATE_HZ = 44100
DURATION_S = 10.0
DI_PATH = Path("audio/di-cc0-jazz/jazz.flac")
MULTI_TARGET_X = 100.0
SINGLE_TARGET_X = 300.0
STAGE_TARGET_MS = 30.0
_MULTI_IDS = {0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E}
_SINGLE_TIME_MOD_EQ_IDS = {0x0D, 0x0E, 0x0F, 0x11, 0x35, 0x12, 0x13, 0x15, 0x17, 0x33}


def target_x(type_id: int) -> float | None:
    """The real-time factor the issue asks of a type, or None."""
    if type_id in _MULTI_IDS:
        return MULTI_TARGET_X
    if type_id in _SINGLE_TIME_MOD_EQ_IDS:
        return SINGLE_TARGET_X
    return None


def load_di(data_dir: Path) -> np.ndarray:
    """The jazz DI at 44.1 kHz, mono, looped or cut to 10 s."""
    audio, rate = sf.read(data_dir / DI_PATH, dtype="float64", always_2d=True)
    if rate != RATE_HZ:
        raise SystemExit(f"{DI_PATH} is {rate} Hz; expected {RATE_HZ} Hz")
    mono = audio.mean(axis=1)
    n = int(DURATION_S * RATE_HZ)
    return np.resize(mono, n)             # np.resize repeats the signal when it is shorter


def bench_types(di: np.ndarray, repeats: int) -> list[dict]:
    rows = []
    for type_id in sorted(EMULATED_TYPES):
        row = {"type_id": f"0x{type_id:02X}", "name": effect_type(type_id).name,
               "processor": EMULATED_TYPES[type_id], "target_x": target_x(type_id)}
        try:
            processor_class(type_id)
            patch = audible_patch(type_id)
            timing = time_call(lambda: render(patch, di, RATE_HZ), repeats)
            first_s, median_s, cpu_s = timing.first_s, timing.median_wall_s, timing.median_cpu_s
        except ModuleNotFoundError as exc:
            row.update(status="not available", error=str(exc))
            rows.append(row)
            continue
        except Exception as exc:          # a broken type must not hide the others' figures
            row.update(status="error", error=f"{type(exc).__name__}: {exc}")
            rows.append(row)
            print(f"{row['type_id']} {row['name']:<28} error: {row['error']}", flush=True)
            continue
        factor = DURATION_S / median_s
        row.update(first_call_s=round(first_s, 4), median_s=round(median_s, 5),
                   realtime_x=round(factor, 1), cpu_median_s=round(cpu_s, 5),
                   cpu_realtime_x=round(DURATION_S / cpu_s, 1),
                   status="no target" if row["target_x"] is None
                   else ("pass" if factor >= row["target_x"] else "FAIL"))
        rows.append(row)
        print(f"{row['type_id']} {row['name']:<28} {factor:8.1f}x  {row['status']}", flush=True)
    return rows


def bench_reverb_stage(di: np.ndarray, repeats: int) -> dict:
    """The multis' reverb stage alone, with the Amp Multi init reverb values at level 7."""
    from magicstomp.emulator.reverb import ReverbStage
    params = dict(audible_patch(0x37).values(), reverb_level=7.0)
    stage = ReverbStage(params, RATE_HZ)

    timing = time_call(lambda: stage.process(di), repeats, before=stage.reset)
    first_s, median_s, cpu_s = timing.first_s, timing.median_wall_s, timing.median_cpu_s
    ms = 1000 * median_s
    return {"name": "ReverbStage (multis' reverb)", "first_call_s": round(first_s, 4),
            "median_ms": round(ms, 2), "realtime_x": round(DURATION_S / median_s, 1),
            "cpu_median_ms": round(1000 * cpu_s, 2),
            "target_ms": STAGE_TARGET_MS, "status": "pass" if ms <= STAGE_TARGET_MS else "FAIL"}


def markdown(report: dict) -> str:
    lines = [
        "# Emulator speed",
        "",
        f"{report['duration_s']:.0f} s of mono {report['rate_hz']} Hz DI (`{report['input']}`), "
        f"median of {report['repeats']} renders after one warm-up (first call = numba compile "
        f"or cache load). Machine: {report['machine']}; load average {report['load_average']} "
        f"(other jobs share the cores: the CPU-time column is the less noisy one). "
        f"{report['date_utc']}. Status is judged on the wall-clock factor.",
        "",
        "| type | name | real-time factor | median ms | CPU ms (factor) | first call s | target "
        "| status |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["types"]:
        target = f">= {r['target_x']:.0f}x" if r["target_x"] else "-"
        if r["status"] in ("not available", "error"):
            lines.append(f"| {r['type_id']} | {r['name']} | - | - | - | - | {target} "
                         f"| {r['status']} |")
            continue
        lines.append(f"| {r['type_id']} | {r['name']} | {r['realtime_x']:.1f}x | "
                     f"{1000 * r['median_s']:.1f} | {1000 * r['cpu_median_s']:.1f} "
                     f"({r['cpu_realtime_x']:.0f}x) | {r['first_call_s']:.2f} | {target} | "
                     f"{r['status']} |")
    s = report["reverb_stage"]
    lines += ["", f"{s['name']}: {s['median_ms']:.1f} ms (CPU {s['cpu_median_ms']:.1f} ms) "
                  f"for {report['duration_s']:.0f} s "
                  f"({s['realtime_x']:.0f}x real time; target <= {s['target_ms']:.0f} ms): "
                  f"{s['status']}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data",
                        help="the vendored reference recordings (tests/data)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=REPO_DIR / "benchmarks" / "results")
    args = parser.parse_args(argv)
    di = load_di(args.data_dir)
    import numba
    report = {
        "benchmark": "emulator_speed", "date_utc": datetime.now(timezone.utc).isoformat(
            timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}, numpy {np.__version__}, "
                   f"numba {numba.__version__}",
        "input": str(DI_PATH), "rate_hz": RATE_HZ, "duration_s": DURATION_S,
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "repeats": args.repeats, "types": bench_types(di, args.repeats),
    }
    report["reverb_stage"] = bench_reverb_stage(di, args.repeats)
    print(f"reverb stage: {report['reverb_stage']['median_ms']} ms", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "emulator_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "emulator_speed.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
