"""The hardware path in real time: calibrate, profile, then a virtual-first match of a 3 s
excerpt on the JACK virtual unit playing a drawn unit variant.

A private JACK dummy server (real-time clocked, 44.1 kHz, period 256) and
``python -m hil.virtual_unit --variant SEED`` stand in for the sound card and the unit;
``HardwareRig`` sends every patch over MIDI, waits, plays and records as on the real
unit. Measured, wall clock: the calibration, the profile session (takes and fit), and
``hardware_match_wall_s``: the match of the first ``virtual_first`` benchmark case (the
analysis of the target for a starting patch, 250 model evaluations on the profiled model,
at most 30 takes on the unit), profile excluded. The rig-only figure beside it is the
measured mean take time x 150 (running 150 real-time takes would take ~9 minutes).

Writes ``benchmarks/results/virtual_first_hardware.json`` and, when
``benchmarks/results/virtual_first.json`` exists, sets its summary's
``hardware_match_wall_s`` (and rewrites its markdown).

Run:  .venv/bin/python benchmarks/virtual_first_hardware.py     (about 3-4 minutes)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import mq_cases as mc  # noqa: E402
import virtual_first as vf  # noqa: E402

RATE = mc.SAMPLE_RATE_HZ
PERIOD = 256
TAKES, MODEL_EVALS = 30, 250


def match(rig, profile) -> dict:
    """The timed virtual-first match of case 0 on ``rig``."""
    from magicstomp.emulator import render, to_mono
    from optimize.constraints import ParameterSpace
    from optimize.objective import MatchLoss
    from optimize.virtual_first import model_evaluator, virtual_first
    kind, type_id = vf.cases(1)[0]
    _name, di = mc.load_di(0)
    hidden, _origin, _aud = mc.hidden_patch(kind, type_id, di, np.random.default_rng([0, 0]))
    from magicstomp.emulator import UnitVariant
    target = to_mono(render(hidden, di, RATE, variant=UnitVariant.draw(vf.VARIANT_SEED0)))
    takes_before = rig.takes
    t0 = time.perf_counter()
    space = ParameterSpace(type_id)
    loss = MatchLoss(target, RATE, di=di)
    start, hints = vf._start(space, type_id, target, di)
    t_analysis = time.perf_counter() - t0
    result = virtual_first(space, start, evaluate=lambda p: loss(rig.render(p, di)),
                           model_evaluate=model_evaluator(loss, di, RATE,
                                                          variant=profile.variant),
                           budget_takes=TAKES, budget_model=MODEL_EVALS, hints=hints)
    wall = time.perf_counter() - t0
    take_s = [t.seconds for t in result.history]
    return {"type": hidden.effect_type.name, "excerpt_s": round(di.size / RATE, 3),
            "wall_s": round(wall, 1), "analysis_s": round(t_analysis, 1),
            "model_phase_s": result.seconds["model"], "unit_phase_s": result.seconds["unit"],
            "takes": result.takes, "rig_takes": rig.takes - takes_before,
            "model_evaluations": result.model_evaluations,
            "mean_take_s": round(float(np.mean(take_s)), 3),
            "rig_only_150_estimate_s": round(150 * float(np.mean(take_s)), 1),
            "initial_loss": result.initial_loss, "final_loss": result.best_loss}


def main() -> int:
    from hil import io
    from hil.calibration import calibrate
    from hil.jack_tools import DummyServer
    from hil.rig import HardwareRig
    from hil.virtual_unit import VirtualUnitProcess
    from optimize.unit_profile import fit_unit_profile
    with tempfile.TemporaryDirectory() as tmp:
        server = DummyServer(f"vfhw{os.getpid()}", rate_hz=RATE, period=PERIOD,
                             log_path=Path(tmp) / "jackd.log").start()
        server.export()
        unit = VirtualUnitProcess("vfstomp", log_path=Path(tmp) / "unit.log",
                                  latency_samples=64, noise_dbfs=-96.0,
                                  variant=vf.VARIANT_SEED0)
        try:
            unit.start()
            io.refresh_devices()
            t0 = time.perf_counter()
            record = calibrate(in_device=unit.name, out_device=unit.name, in_ch=(1, 2),
                               sample_rate=RATE, on_dropout="warn")
            calibrate_s = time.perf_counter() - t0
            with HardwareRig(in_device=unit.name, out_device=unit.name, in_ch=(1, 2),
                             sample_rate=RATE, midi=unit.name, calibration=record,
                             on_dropout="warn") as rig:
                t0 = time.perf_counter()
                profile = fit_unit_profile(rig)
                profile_s = time.perf_counter() - t0
                matched = match(rig, profile)
        finally:
            unit.stop()
            from hil.io import release_audio
            release_audio()              # PortAudio's JACK client goes before the server
            server.stop()
    result = {"date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "server": f"jackd dummy -S, {RATE} Hz, period {PERIOD}, real-time clock",
              "load_average_1min": round(os.getloadavg()[0], 2),
              "calibrate_s": round(calibrate_s, 1),
              "profile": {"wall_s": round(profile_s, 1), **profile.measurement,
                          "fit_s": profile.fit["seconds"],
                          "sections": {k: s.to_dict() for k, s in profile.sections.items()}},
              "match": matched}
    vf.RESULTS.mkdir(parents=True, exist_ok=True)
    (vf.RESULTS / "virtual_first_hardware.json").write_text(json.dumps(result, indent=2) + "\n")
    summary_path = vf.RESULTS / "virtual_first.json"
    if summary_path.exists():
        run = json.loads(summary_path.read_text())
        run["summary"]["hardware_match_wall_s"] = matched["wall_s"]
        run["summary"]["hardware_match_wall_note"] = (
            f"benchmarks/virtual_first_hardware.py, {result['date_utc']}: {matched['type']}, "
            f"{matched['excerpt_s']} s excerpt, {matched['takes']} takes + "
            f"{matched['model_evaluations']} model evaluations on the JACK virtual unit in real "
            f"time (profile excluded; rig-only 150 takes estimated at "
            f"{matched['rig_only_150_estimate_s']} s)")
        summary_path.write_text(json.dumps(run, indent=2) + "\n")
        summary_path.with_suffix(".md").write_text(vf.markdown(run))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
