"""MIDI round trips against the stand-in unit (tests/midi_responder.py) on a private JACK server.

Measures, with the real mido + python-rtmidi (JACK API) path the toolkit uses:

* ``request_slot``: one dump request and its 4-message answer;
* ``request_all``: all 99 user patches, one request after the other (target: well
  under 10 s here; MagicstompFrenzy reports 1-2 min on the real unit);
* ``send_patch``: the 4 edit-buffer messages at the default 70 ms pacing (~210 ms
  by design) and at 0 ms (the transport alone).

One warm-up run, then the median (and min/max) of N runs. The JACK dummy server
is clocked in real time (period 256 at 48 kHz = 5.3 ms), so a round trip costs a
few periods whatever the CPU; the machine is shared, so expect some spread.

Usage::

    .venv/bin/python benchmarks/midi_speed.py [--data-dir tests/data] [--repeats 5]

Writes ``benchmarks/results/midi_speed.json`` and ``.md``. Needs ``jackd``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.midi import MagicstompMidi  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402
from benchmarks.timing import time_call  # noqa: E402

BANK = "derived_patches/derived_bass_factory_bank_all99.syx"
CLIENT = "MsBench"


def _timed(func, repeats: int) -> dict:
    t = time_call(func, repeats)
    return {"median_s": t.median_wall_s, "min_s": t.min_wall_s, "max_s": t.max_wall_s,
            "runs": len(t.wall_s)}


def _start_server(folder: Path) -> subprocess.Popen:
    name = f"msbench{os.getpid()}"
    os.environ.update(JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=name,
                      MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")
    server = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-S", "-t", "2000", "-d",
                               "dummy", "-r", "48000", "-p", "256"],
                              stdout=(folder / "jackd.log").open("w"), stderr=subprocess.STDOUT)
    subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True)
    return server


def _start_unit(data_dir: Path, folder: Path) -> subprocess.Popen:
    unit = subprocess.Popen([sys.executable, "-m", "tests.midi_responder", "--bank",
                             str(data_dir / BANK), "--record", str(folder / "rec.hex"),
                             "--client", CLIENT], cwd=REPO_DIR, stdout=subprocess.PIPE, text=True)
    if unit.stdout.readline().strip() != "ready":
        _stop(unit)
        raise RuntimeError("the MIDI responder did not start")
    return unit


def _stop(*procs) -> None:
    """Stop each process (the responder before the server), killing one that hangs."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO_DIR / "tests" / "data",
                        help="the vendored reference recordings (tests/data)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("jackd") is None:
        print("jackd is not installed (apt-get install jackd2)", file=sys.stderr)
        return 1
    patch = Patch.init("Mono Delay")
    with tempfile.TemporaryDirectory() as tmp:
        server, unit = _start_server(Path(tmp)), None
        try:
            unit = _start_unit(args.data_dir, Path(tmp))
            with MagicstompMidi(CLIENT) as midi:
                results = {
                    "request_slot": _timed(lambda: midi.request_slot(50), args.repeats),
                    "request_all_99": _timed(lambda: midi.request_all(), max(1, args.repeats // 2)),
                    "send_patch_70ms_pacing": _timed(lambda: midi.send_patch(patch), args.repeats),
                    "send_patch_no_pacing": _timed(lambda: midi.send_patch(patch, pacing_ms=0),
                                                   args.repeats),
                }
        finally:
            _stop(*[p for p in (unit, server) if p is not None])
    doc = {"benchmark": "midi_speed", "date_utc": datetime.now(timezone.utc).isoformat(),
           "transport": "mido + python-rtmidi, JACK dummy server 48 kHz / 256 frames, -S",
           "results": results}
    out = REPO_DIR / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "midi_speed.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = ["# MIDI speed (stand-in unit on JACK)", "", f"{doc['date_utc']}; {doc['transport']}",
             "", "| operation | median | min | max | runs |", "| --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['median_s'] * 1000:.1f} ms | {r['min_s'] * 1000:.1f} ms | "
                     f"{r['max_s'] * 1000:.1f} ms | {r['runs']} |")
    (out / "midi_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
