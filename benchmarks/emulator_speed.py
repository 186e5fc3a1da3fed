"""Real-time factor of every emulated effect type (and of the multis' reverb stage).

For each type in ``EMULATED_TYPES`` (its init patch with the silent sections made
audible, :func:`magicstomp.emulator.audible.audible_patch`) this renders 10 s of
a real mono DI at 44.1 kHz (``audio/di-cc0-jazz/jazz.flac``, cut or looped to
10 s): one warm-up render (numba compile or cache load, reported separately),
then the median of 5 timed renders. real-time factor = 10 s / median.

Targets (issue #3): >= 100x for each Amp Multi and Distortion Multi type,
>= 300x for the single delay, modulation and EQ types; the multis' reverb stage
should take <= 30 ms for the 10 s. Issue #16 asks >= 300x of the multis in CPU
time on a quiet core (model-heavy search). Other types have no target.

The machine is shared, so status is judged on the CPU-time factor, and the same
run times a reference chain beside them: Spotify's pedalboard (``pip install
.[bench]``; skipped when missing) running 9 stages (noise gate, compressor,
gain, distortion, low-pass ladder filter, chorus, delay, reverb, limiter) on
the same DI. Its factor moves with the load like ours, so ``x_reference`` (our
CPU factor / the reference's) is the figure to compare between runs. Finally
``render_many`` renders 16 multis over every core (``--workers``) and the
throughput in renders per second is set beside one core's, and a search-like
sequence (16 candidates of one multi moving one knob after the front) is timed
with and without ``RenderPool``'s front cache.

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

MULTI_MODEL_TARGET_X = 300.0

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
        cpu_factor = DURATION_S / cpu_s
        row.update(first_call_s=round(first_s, 4), median_s=round(median_s, 5),
                   realtime_x=round(factor, 1), cpu_median_s=round(cpu_s, 5),
                   cpu_realtime_x=round(cpu_factor, 1),
                   status="no target" if row["target_x"] is None
                   else ("pass" if cpu_factor >= row["target_x"] else "FAIL"))
        if type_id in _MULTI_IDS:
            row["model_target_x"] = MULTI_MODEL_TARGET_X
            row["model_status"] = "pass" if cpu_factor >= MULTI_MODEL_TARGET_X else "not met"
        rows.append(row)
        print(f"{row['type_id']} {row['name']:<28} {factor:8.1f}x  CPU {cpu_factor:8.1f}x  "
              f"{row['status']}", flush=True)
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
            "target_ms": STAGE_TARGET_MS,
            "status": "pass" if 1000 * cpu_s <= STAGE_TARGET_MS else "FAIL"}


def bench_multi_sections(di: np.ndarray, repeats: int) -> list:
    """Where a multi spends its time: CPU ms of each section alone (minimum of ``repeats``),
    fed what it gets in the chain, and of the whole render, for 0x37 and 0x3B."""
    import time

    from magicstomp.emulator import StreamProcessor

    def cpu_ms(fn) -> float:
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            fn()
            best = min(best, time.process_time() - start)
        return round(1000.0 * best, 2)

    rows = []
    for type_id in (0x37, 0x3B):
        multi = StreamProcessor(audible_patch(type_id), RATE_HZ)._impl
        sections, y = {}, di
        for stage in multi.front:
            sections[type(stage).__name__] = cpu_ms(lambda: (stage.reset(), stage.process(y)))
            stage.reset()
            y = stage.process(y)
        if multi.mod_kind != "tremolo":
            sections[f"modulation ({multi.mod_kind})"] = cpu_ms(
                lambda: (multi.mod.reset(), multi.mod.process(y)))
        sections["delay"] = cpu_ms(lambda: (multi.delay.reset(), multi.delay.process(y)))
        sections["reverb"] = cpu_ms(lambda: (multi.reverb.reset(), multi.reverb.process(y)))
        whole = cpu_ms(lambda: (multi.reset(), multi.process(di)))
        sections["mixing and the rest"] = round(whole - sum(sections.values()), 2)
        rows.append({"type_id": f"0x{type_id:02X}", "name": effect_type(type_id).name,
                     "whole_cpu_ms": whole, "sections_cpu_ms": sections})
        print(rows[-1], flush=True)
    return rows


def reference_chain():
    """The 9-stage pedalboard chain, or None when pedalboard is not installed."""
    try:
        import pedalboard as pb
    except ImportError:
        return None
    return pb.Pedalboard([
        pb.NoiseGate(threshold_db=-60), pb.Compressor(threshold_db=-20, ratio=4),
        pb.Gain(gain_db=12), pb.Distortion(drive_db=20),
        pb.LadderFilter(mode=pb.LadderFilter.Mode.LPF12, cutoff_hz=5000),
        pb.Chorus(), pb.Delay(delay_seconds=0.3, feedback=0.4, mix=0.3),
        pb.Reverb(room_size=0.5, wet_level=0.2), pb.Limiter()])


def bench_reference(di: np.ndarray, repeats: int) -> dict | None:
    """CPU and wall time of the pedalboard reference chain on the same DI (mono, float32 I/O)."""
    chain = reference_chain()
    if chain is None:
        return None
    import pedalboard
    x = di.astype(np.float32)[None, :]
    timing = time_call(lambda: chain(x, RATE_HZ, reset=True), repeats)
    return {"name": "pedalboard 9-stage chain", "version": pedalboard.__version__,
            "median_s": round(timing.median_wall_s, 5),
            "cpu_median_s": round(timing.median_cpu_s, 5),
            "realtime_x": round(DURATION_S / timing.median_wall_s, 1),
            "cpu_realtime_x": round(DURATION_S / timing.median_cpu_s, 1)}


def bench_parallel(di: np.ndarray, workers: int) -> dict:
    """Renders per second of 16 multis (2 of each type) on one core and over ``workers``."""
    import time

    from magicstomp.emulator import RenderPool
    patches = [audible_patch(t) for t in sorted(_MULTI_IDS)] * 2
    result = {"renders": len(patches), "workers": workers}
    for label, n in (("one_core", 1), ("pool", workers)):
        with RenderPool(di, RATE_HZ, workers=n, cache_front=False) as pool:   # cores only
            pool.render_many(patches[:n])                 # warm the workers
            start = time.perf_counter()
            pool.render_many(patches, mono=True)
            wall = time.perf_counter() - start
        result[f"{label}_wall_s"] = round(wall, 3)
        result[f"{label}_renders_per_s"] = round(len(patches) / wall, 2)
    result["speed_up"] = round(result["one_core_wall_s"] / result["pool_wall_s"], 2)
    return result


def search_moves(type_id: int) -> list:
    """16 candidates as a search proposes them once the amp is chosen: the audible init patch,
    then one post-front knob moved at a time (modulation, delay and reverb levels and times)."""
    base = audible_patch(type_id)
    values = base.values()
    prefix = next(p for p in ("chorus_", "flanger_", "phaser_", "tremolo_")
                  if f"{p}speed" in values)
    moves = [{f"{prefix}speed": s} for s in (2.0, 4.0, 6.0)]
    moves += [{f"{prefix}depth": d} for d in (3.0, 7.0)]
    moves += [{"delay_level": v} for v in (2.0, 4.0, 8.0)]
    moves += [{"feedback_delay_time_ms": t} for t in (200.0, 400.0)]
    moves += [{"reverb_level": v} for v in (2.0, 5.0, 9.0)]
    moves += [{"reverb_time_s": t} for t in (1.0, 3.0)]
    return [base] + [base.with_values(**m) for m in moves]


def bench_front_cache(di: np.ndarray, repeats: int) -> list:
    """CPU ms per candidate of :func:`search_moves` on one core, with and without the
    RenderPool's front cache (the renders are the same, bit for bit)."""
    import time

    from magicstomp.emulator import RenderPool
    rows = []
    for type_id in (0x37, 0x3B):
        patches = search_moves(type_id)
        row = {"type_id": f"0x{type_id:02X}", "name": effect_type(type_id).name,
               "candidates": len(patches)}
        for label, cache in (("no_cache", False), ("front_cache", True)):
            best = float("inf")
            for _ in range(max(1, repeats // 2)):
                pool = RenderPool(di, RATE_HZ, workers=1, cache_front=cache)
                start = time.process_time()
                pool.render_many(patches, mono=True)
                best = min(best, time.process_time() - start)
            row[f"{label}_cpu_ms_per_candidate"] = round(1000 * best / len(patches), 2)
            row[f"{label}_cpu_realtime_x"] = round(DURATION_S * len(patches) / best, 1)
        rows.append(row)
        print(row, flush=True)
    return rows


def markdown(report: dict) -> str:
    lines = [
        "# Emulator speed",
        "",
        f"{report['duration_s']:.0f} s of mono {report['rate_hz']} Hz DI (`{report['input']}`), "
        f"median of {report['repeats']} renders after one warm-up (first call = numba compile "
        f"or cache load). Machine: {report['machine']}; load average "
        f"{report['load_average']} at the start, "
        f"{report.get('load_average_end', '?')} at the end "
        f"(other jobs share the cores: the CPU-time column is the less noisy one). "
        f"{report['date_utc']}. Status is judged on the CPU-time factor.",
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
                  f"({s['realtime_x']:.0f}x real time; target <= {s['target_ms']:.0f} ms CPU): "
                  f"{s['status']}.", ""]
    lines += multi_summary(report)
    return "\n".join(lines)


def multi_summary(report: dict) -> list:
    """The multis against the model-heavy target, beside the reference chain and render_many."""
    multis = [r for r in report["types"] if r.get("model_target_x") and "cpu_realtime_x" in r]
    ref = report.get("reference")
    out = ["## Multis as a model (issue #16: >= 300x CPU on a quiet core)", ""]
    if multis:
        cpu = [r["cpu_realtime_x"] for r in multis]
        passed = sum(r["model_status"] == "pass" for r in multis)
        out.append(f"All 8 multis: CPU factor {min(cpu):.0f}x to {max(cpu):.0f}x (median "
                   f"{float(np.median(cpu)):.0f}x); {passed} of 8 reach 300x in this run.")
    if ref:
        out.append(f"Reference chain in the same run ({ref['name']}, pedalboard {ref['version']}): "
                   f"{ref['cpu_realtime_x']:.0f}x CPU ({ref['realtime_x']:.0f}x wall).")
        if multis:
            rel = [r["cpu_realtime_x"] / ref["cpu_realtime_x"] for r in multis]
            out.append(f"Multis / reference: {min(rel):.2f} to {max(rel):.2f} "
                       f"(median {float(np.median(rel)):.2f}).")
    else:
        out.append("Reference chain: pedalboard not installed (pip install .[bench]).")
    for row in report.get("multi_sections", []):
        parts = ", ".join(f"{k} {v:.1f}" for k, v in row["sections_cpu_ms"].items())
        out.append(f"Where {row['type_id']} {row['name']} spends its {row['whole_cpu_ms']:.1f} ms "
                   f"(CPU, each section alone): {parts}.")
    for row in report.get("front_cache", []):
        out.append(f"{row['type_id']} {row['name']}, {row['candidates']} candidates moving one "
                   f"knob after the front (one core): {row['no_cache_cpu_ms_per_candidate']:.1f} "
                   f"ms CPU each ({row['no_cache_cpu_realtime_x']:.0f}x) without the front "
                   f"cache, {row['front_cache_cpu_ms_per_candidate']:.1f} ms "
                   f"({row['front_cache_cpu_realtime_x']:.0f}x) with it (the same renders).")
    par = report.get("parallel")
    if par:
        out.append(f"render_many: {par['renders']} multis of {report['duration_s']:.0f} s: "
                   f"{par['one_core_renders_per_s']:.1f} renders/s on one core, "
                   f"{par['pool_renders_per_s']:.1f} over {par['workers']} workers "
                   f"(x{par['speed_up']:.2f}; the other agents' load shares the cores).")
    return out[:2] + [f"- {line}" for line in out[2:]] + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data",
                        help="the vendored reference recordings (tests/data)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for the render_many figure (default: every core)")
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
    report["multi_sections"] = bench_multi_sections(di, args.repeats)
    report["front_cache"] = bench_front_cache(di, args.repeats)
    report["reference"] = bench_reference(di, args.repeats)
    print(f"reference chain: {report['reference']}", flush=True)
    from magicstomp.emulator.parallel import default_workers
    report["parallel"] = bench_parallel(di, args.workers or default_workers())
    print(f"render_many: {report['parallel']}", flush=True)
    report["load_average_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "emulator_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out_dir / "emulator_speed.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
