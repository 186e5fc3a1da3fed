"""Cost of the reusable amp/dynamics stages the Amp and Distortion Multis are built from.

Renders 10 s of a real mono DI at 44.1 kHz (``audio/di-cc0-jazz/jazz.flac``, looped)
through each stage on its own: the noise gate (on), the compressor (the factory
HeavyHiGain setting and a harder one), every amp voicing, every distortion
voicing, and a cabinet. One warm-up call (numba compile or cache load), then the
minimum and median of N timed calls, wall clock and CPU time (the machine is
shared, so CPU time is the steadier figure).

Budget (issue #3): a whole multi >= 100x real time (<= 100 ms per 10 s), of which
gate + compressor + amp should take <= ~35 ms.

Usage::

    .venv/bin/python benchmarks/amp_stages_speed.py [--data-dir tests/data] [--repeats 5]

Writes ``benchmarks/results/amp_stages_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.emulator.amp import AMP_VOICINGS, AmpStage, SpeakerStage  # noqa: E402
from magicstomp.emulator.distortion import DISTORTION_VOICINGS, DistortionStage  # noqa: E402
from magicstomp.emulator.dynamics import CompressorStage, NoiseGateStage  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402
from benchmarks.timing import time_call  # noqa: E402

RATE_HZ = 44100
SECONDS = 10.0


def _stages():
    amp = Patch.init(0x37).values()                 # factory-style Amp Multi values
    dist = Patch.init(0x3B).values()
    yield "gate (threshold 3)", NoiseGateStage({**amp, "gate_threshold": 3.0}, RATE_HZ)
    yield "compressor -8 dB 3.5:1", CompressorStage(amp, RATE_HZ)
    yield "compressor -30 dB 8:1", CompressorStage(
        {**amp, "compressor_threshold_db": -30.0, "compressor_ratio": 8.0}, RATE_HZ)
    for name in AMP_VOICINGS:
        yield f"amp {name}", AmpStage({**amp, "amplifier_type": name, "treble": 6.0,
                                       "bass": 4.0}, RATE_HZ)
    for name, voicing in DISTORTION_VOICINGS.items():
        yield f"distortion {name}", DistortionStage({**dist, "distortion_type": name}, RATE_HZ)
    yield "speaker British 4x12", SpeakerStage({"speaker_type": "British 4x12"}, RATE_HZ)


def _time(stage, x, repeats):
    timing = time_call(lambda: stage.process(x), repeats, before=stage.reset)
    return {"wall_ms_min": 1e3 * timing.min_wall_s, "wall_ms_median": 1e3 * timing.median_wall_s,
            "cpu_ms_min": 1e3 * timing.min_cpu_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data",
                        help="the vendored reference recordings (tests/data)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    di, rate = sf.read(args.data_dir / "audio/di-cc0-jazz/jazz.flac")
    if rate != RATE_HZ:
        raise SystemExit(f"expected a {RATE_HZ} Hz DI, got {rate} Hz")
    n = int(SECONDS * RATE_HZ)
    x = np.resize(np.asarray(di, dtype=np.float64), n)
    rows = {name: _time(stage, x, args.repeats) for name, stage in _stages()}
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "load_average": os.getloadavg(), "repeats": args.repeats,
            "signal": f"{SECONDS:.0f} s of audio/di-cc0-jazz/jazz.flac at {RATE_HZ} Hz"}
    out_dir = REPO_DIR / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "amp_stages_speed.json").write_text(json.dumps({"meta": meta, "stages": rows},
                                                              indent=2))
    lines = ["# Amp / dynamics stage speed", "",
             f"{meta['signal']}; min and median of {args.repeats} calls after a warm-up; "
             f"load average {', '.join(f'{v:.2f}' for v in meta['load_average'])} on a shared "
             f"machine ({meta['date']}).", "",
             "| stage | wall ms (min) | wall ms (median) | CPU ms (min) |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {r['wall_ms_min']:.1f} | {r['wall_ms_median']:.1f} | "
              f"{r['cpu_ms_min']:.1f} |" for name, r in rows.items()]
    (out_dir / "amp_stages_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
