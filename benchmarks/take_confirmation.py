"""What confirming every take costs: the edit-buffer read-back (or the round trip) per take.

Starts its own JACK dummy server (real-time clocked, no freewheel) and two JACK
virtual units: one that answers the edit-buffer dump request (read-back
confirmation) and one that ignores it (``--ignore-edit-requests``: the round
trip through a slot dump, as a unit without that request would be confirmed).
For each, :class:`hil.rig.HardwareRig` (default pacing 70 ms, settle 100 ms)
puts alternating patches in the edit buffer, N times:

* ``old``: ``send_patch`` as before this change (4 messages + settle wait);
* ``new``: ``_send_confirmed`` (send, confirm inside the settle wait);
* ``confirm only``: the confirmation of a patch that was not re-sent (the
  second take of the same patch: there is no settle wait to hide it in).

The audio part of a take is unchanged and not measured. Reported: median and
90th percentile in ms, and the added time per take (median new - median old).

Usage::

    .venv/bin/python benchmarks/take_confirmation.py [--repeats 30]

Writes ``benchmarks/results/take_confirmation.json`` and ``.md``.
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


def _timed(func, repeats: int) -> list:
    out = []
    for k in range(repeats):
        started = time.perf_counter()
        func(k)
        out.append(1e3 * (time.perf_counter() - started))
    return out


def _summary(ms: list) -> dict:
    return {"median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(float(np.percentile(ms, 90)), 2), "n": len(ms)}


def _measure(unit_name: str, repeats: int) -> dict:
    from hil.calibration import CalibrationRecord
    from hil.rig import HardwareRig
    from magicstomp.patch import Patch
    record = CalibrationRecord(sample_rate=RATE, latency_samples=PERIOD, latency_estimates=[PERIOD],
                               polarity=1, return_gain_db=0.0, noise_floor_dbfs=-120.0,
                               threshold=1e-5)
    patches = [Patch.init("Mono Delay").with_values(mix_pct=m) for m in (20, 60)]
    with HardwareRig(in_device=unit_name, out_device=unit_name, in_ch=(1, 2), out_ch=1,
                     sample_rate=RATE, midi=unit_name, calibration=record,
                     on_dropout="warn") as rig:
        rig._send_confirmed(patches[0])          # learn how this unit confirms
        old = _timed(lambda k: rig.send_patch(patches[(k + 1) % 2], force=True), repeats)
        new = _timed(lambda k: rig._send_confirmed(patches[k % 2]), repeats)
        same = _timed(lambda k: rig._send_confirmed(patches[(repeats - 1) % 2]), repeats)
        mode = rig.confirmation
    return {"confirmation": mode, "old_send_and_settle": _summary(old),
            "new_send_confirm_settle": _summary(new), "confirm_only_same_patch": _summary(same),
            "added_ms_per_take_new_patch": round(statistics.median(new) - statistics.median(old), 2),
            "added_ms_per_take_same_patch": round(statistics.median(same), 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    from hil import io
    from hil.jack_tools import DummyServer
    from hil.virtual_unit import VirtualUnitProcess

    tmp = Path(tempfile.mkdtemp(prefix="take_confirmation_"))
    server = DummyServer(f"tcbench{os.getpid()}", rate_hz=RATE, period=PERIOD,
                         log_path=tmp / "jackd.log").start()
    server.export()
    units, results = [], {}
    try:
        for label, options in (("readback", {}), ("round trip", {"ignore_edit_requests": True})):
            name = f"tcunit{len(units) + 1}"
            units.append(VirtualUnitProcess(name, log_path=tmp / f"{name}.log", **options).start())
            io.refresh_devices()
            results[label] = _measure(name, args.repeats)
    finally:
        for unit in units:
            unit.stop()
        from hil.io import release_audio
        release_audio()                  # PortAudio's JACK client goes before the server
        server.stop()
    doc = {"benchmark": "take_confirmation", "utc": datetime.now(timezone.utc).isoformat(),
           "machine": f"{platform.platform()}, {os.cpu_count()} cores, load "
                      f"{os.getloadavg()[0]:.1f}",
           "jack": f"dummy -r {RATE} -p {PERIOD} -S, real time", "pacing_ms": 70,
           "settle_ms": 100, "repeats": args.repeats, "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "take_confirmation.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# Take confirmation cost (JACK virtual unit, real time)", "",
             f"{doc['utc']}; {doc['machine']}; {doc['jack']}; pacing 70 ms, settle 100 ms; "
             f"{args.repeats} repeats each.", "",
             "| unit confirms by | send+settle before (median / p90 ms) | send+confirm+settle now "
             "| added per take, new patch | confirm only, same patch |",
             "| --- | --- | --- | --- | --- |"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['old_send_and_settle']['median_ms']} / "
                     f"{r['old_send_and_settle']['p90_ms']} | "
                     f"{r['new_send_confirm_settle']['median_ms']} / "
                     f"{r['new_send_confirm_settle']['p90_ms']} | "
                     f"{r['added_ms_per_take_new_patch']} ms | "
                     f"{r['confirm_only_same_patch']['median_ms']} ms |")
    (RESULTS / "take_confirmation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
