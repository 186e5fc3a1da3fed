"""Hardware-path overhead: wall time per take / audio duration, on the JACK rig at real time.

Starts its own JACK dummy server (``jackd --no-realtime -S -d dummy -r 48000 -p 256``,
clocked at real time, no freewheel) and the JACK virtual unit, calibrates, then
renders takes of 2 s, 5 s and 10 s through :class:`hil.rig.HardwareRig` exactly
as a match does: each take sends a *different* patch over MIDI (4 SysEx
messages, 70 ms apart), waits the settle time (100 ms), plays pre-roll + DI +
tail and records the return. Reported per duration: the median over N takes of
``wall / duration`` (the physical limit is 1.0; the target is <= 1.15 for 5 s),
with the SysEx+settle and stream parts, and the time of a bare silent stream of
the same length (how far the dummy server's clock lags the wall clock on a
loaded machine). The calibrated latency is reported too.

Usage::

    .venv/bin/python benchmarks/hil_overhead.py [--repeats 5] [--types 0x0D,0x37]

Writes ``benchmarks/results/hil_overhead.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))
RESULTS = REPO_DIR / "benchmarks" / "results"
RATE, PERIOD = 48000, 256
DURATIONS_S = (2.0, 5.0, 10.0)
TARGET_5S = 1.15


def _di(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * RATE)) / RATE
    notes = 0.3 * np.sin(2 * np.pi * 110 * (1 + (t % 1.0 > 0.5)) * t) * np.exp(-3 * (t % 0.5))
    return notes + 0.003 * rng.standard_normal(t.size)


def _patches(type_id: int) -> list:
    """Two patches of one type that differ, so every take really sends SysEx."""
    from magicstomp.patch import Patch
    base = Patch.init(type_id)
    key = next(p.key for p in base.effect_type.params if p.is_numeric and p.max_raw > p.min_raw)
    param = base.effect_type.param(key)
    low, high = base.copy(), base.copy()
    low.set_raw(key, param.min_raw)
    high.set_raw(key, param.max_raw)
    return [low, high]


def _bare_stream_s(rig, n_samples: int) -> float:
    """Wall time of a plain silent stream of ``n_samples`` on the rig's devices: how fast the
    dummy server's clock really runs (on a loaded machine it runs slower than real time)."""
    from hil import io
    t0 = time.perf_counter()
    io.playrec(np.zeros(n_samples), in_device=rig.in_device, out_device=rig.out_device,
               in_channels=rig.in_channels, out_channels=rig.out_channels,
               sample_rate=RATE, on_dropout="warn")
    return time.perf_counter() - t0


def measure(rig, type_id: int, repeats: int) -> list:
    from magicstomp.effects import effect_type
    patches = _patches(type_id)
    rows = []
    rig.render(patches[1], _di(0.5))                 # warm-up take (stream, MIDI, processor)
    for seconds in DURATIONS_S:
        di = _di(seconds)
        walls, sends, bares = [], [], []
        for k in range(repeats):
            patch = patches[k % 2]                   # alternates: never identical to the last
            t0 = time.perf_counter()
            rig.send_patch(patch)
            t1 = time.perf_counter()
            rig.render(patch, di)                     # identical patch now: not re-sent
            t2 = time.perf_counter()
            walls.append(t2 - t0)
            sends.append(t1 - t0)
            bares.append(_bare_stream_s(rig, len(di)))
        rows.append({"effect_type": effect_type(type_id).name, "duration_s": seconds,
                     "takes": repeats, "median_wall_s": round(statistics.median(walls), 4),
                     "ratio": round(statistics.median(walls) / seconds, 4),
                     "ratio_max": round(max(walls) / seconds, 4),
                     "sysex_settle_s": round(statistics.median(sends), 4),
                     "stream_s": round(statistics.median(w - s for w, s in zip(walls, sends)), 4),
                     "clock_ratio": round(statistics.median(bares) / seconds, 4)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--types", default="0x0D,0x37", help="effect type ids (comma list)")
    args = parser.parse_args()
    from hil import io
    from hil.calibration import calibrate
    from hil.jack_tools import DummyServer
    from hil.rig import HardwareRig
    from hil.virtual_unit import VirtualUnitProcess

    with tempfile.TemporaryDirectory() as tmp:
        server = DummyServer(f"hilbench{os.getpid()}", rate_hz=RATE, period=PERIOD,
                             log_path=Path(tmp) / "jackd.log").start()
        server.export()
        unit = VirtualUnitProcess("benchstomp", log_path=Path(tmp) / "unit.log",
                                  latency_samples=64, noise_dbfs=-96.0)
        try:
            unit.start()
            io.refresh_devices()
            record = calibrate(in_device=unit.name, out_device=unit.name, in_ch=(1, 2),
                               sample_rate=RATE, runs=3, on_dropout="warn")
            rows = []
            with HardwareRig(in_device=unit.name, out_device=unit.name, in_ch=(1, 2),
                             sample_rate=RATE, midi=unit.name, calibration=record,
                             on_dropout="warn") as rig:
                settings = {k: rig.describe()[k] for k in ("settle_ms", "latency_samples")}
                settings.update(pacing_ms=rig.pacing_ms,
                                pre_roll_ms=1e3 * rig.pre_roll_samples / RATE,
                                tail_ms=1e3 * rig.tail_samples / RATE)
                for type_id in (int(t, 0) for t in args.types.split(",")):
                    rows.extend(measure(rig, type_id, args.repeats))
        finally:
            unit.stop()
            from hil.io import release_audio
            release_audio()              # PortAudio's JACK client goes before the server
            server.stop()
    result = {
        "benchmark": "hil_overhead", "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "server": f"jackd dummy -S, {RATE} Hz, period {PERIOD}, real-time clock",
        "calibration": {"latency_samples": record.latency_samples, "latency_ms": round(record.latency_ms, 3),
                        "expected_samples": 64 + PERIOD, "estimates": record.latency_estimates,
                        "return_gain_db": record.return_gain_db,
                        "noise_floor_dbfs": record.noise_floor_dbfs},
        "rig": settings, "target_ratio_5s": TARGET_5S, "load_average_1min": round(os.getloadavg()[0], 2),
        "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hil_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# HIL overhead ({result['date_utc']})", "", f"{result['machine']}; {result['server']}.",
             f"Calibrated latency {record.latency_samples} samples ({record.latency_ms:.2f} ms; "
             f"unit 64 + period {PERIOD}); rig: {settings}.", "",
             "| effect type | take (s) | takes | median wall (s) | ratio (median) | ratio (max) | "
             "SysEx + settle (s) | stream (s) | bare stream / duration |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['effect_type']} | {r['duration_s']:g} | {r['takes']} | {r['median_wall_s']:.3f} | "
              f"{r['ratio']:.3f} | {r['ratio_max']:.3f} | {r['sysex_settle_s']:.3f} | {r['stream_s']:.3f} | "
              f"{r['clock_ratio']:.3f} |" for r in rows]
    lines += ["", f"Target: ratio <= {TARGET_5S} for a 5 s take (1.0 is the physical limit).",
              "The last column is a plain silent stream of the same length with no patch, no rig: "
              "above 1.0 it shows the non-real-time dummy server falling behind the wall clock "
              f"(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)."]
    (RESULTS / "hil_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
