"""A 20-minute pair without --optimize: peak memory, time to the first line, total time.

Issue 15's target: bounded memory (<= 2 GB) with progress shown within 10 s (before:
566 s and 9.4 GB with no warning). The pair: the vendored CC0 jazz DI
(``audio/di-cc0-jazz/jazz.flac``, 15 s) looped to 20 minutes with a -80 dBFS noise
floor, and its render through the virtual Magicstomp's Mono Delay (220 ms, 40 %),
both 32-bit float WAV at 44.1 kHz (212 MB each). ``auto_match_hil`` runs as a
subprocess on the virtual rig; the peak resident memory is the child's
``ru_maxrss``; the times are wall clock on a shared 2-core machine.

Usage::

    .venv/bin/python benchmarks/long_pair_memory.py [--data-dir tests/data] [--minutes 20]

Writes ``benchmarks/results/long_pair_memory.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.emulator import render, to_mono  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402

RATE_HZ = 44100


def make_pair(folder: Path, data_dir: Path, minutes: float) -> tuple:
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == RATE_HZ
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=220.0, mix_pct=40)
    wet = to_mono(render(patch, di, sr))
    reps = int(np.ceil(minutes * 60 * sr / di.size))
    noise = 1e-4 * np.random.default_rng(0).standard_normal(di.size * reps).astype(np.float32)
    paths = []
    for name, x in (("di.wav", di), ("target.wav", wet)):
        path = folder / name
        sf.write(path, np.tile(x.astype(np.float32), reps) + noise, sr, subtype="FLOAT")
        paths.append(path)
    return paths[1], paths[0], reps * di.size / sr


def run(target: Path, di: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "cli.auto_match_hil", str(target), "--di-signal", str(di),
           "--out", str(out), "--session-name", "long", "--effect-type", "Mono Delay"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO_DIR))
    env.pop("JACK_DEFAULT_SERVER", None)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_DIR, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    lines = []
    for line in proc.stderr:
        lines.append((round(time.monotonic() - started, 1), line.rstrip()))
    proc.wait()
    total_s = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    session = json.loads((out / "long" / "long_session.json").read_text())
    return {"exit_code": proc.returncode, "total_s": round(total_s, 1),
            "first_line_s": lines[0][0] if lines else None, "peak_rss_mb": round(peak_mb),
            "stderr": lines, "alignment": session["alignment"],
            "initial_loss": session["initial_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data")
    parser.add_argument("--minutes", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target, di, length_s = make_pair(folder, args.data_dir, args.minutes)
        result = run(target, di, folder / "out")
    result.update(length_s=round(length_s, 1), date=datetime.now(timezone.utc).isoformat(),
                  machine=f"{os.cpu_count()} cores (shared)")
    results = REPO_DIR / "benchmarks" / "results"
    (results / "long_pair_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [f"# A {length_s / 60:.0f}-minute pair without --optimize (virtual rig)", "",
          f"Run {result['date']} on {result['machine']}.", "",
          "| figure | value | target |", "|---|---|---|",
          f"| peak resident memory | {result['peak_rss_mb']} MB | <= 2048 MB |",
          f"| first line on stderr | {result['first_line_s']} s | <= 10 s |",
          f"| total (wall clock) | {result['total_s']} s | (566 s before) |",
          f"| exit code | {result['exit_code']} | 0 |",
          f"| section matched | {result['alignment'].get('long_pair_section_s')} s | "
          "busiest 60 s + 1 s pre-roll |", "", "stderr, seconds after start:", ""]
    md += [f"    {t:6.1f}  {line}" for t, line in result["stderr"]]
    (results / "long_pair_memory.md").write_text("\n".join(md) + "\n")
    print("\n".join(md[:12]))


if __name__ == "__main__":
    main()
