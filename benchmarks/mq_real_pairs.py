"""Real pairs of the match-quality benchmark: the command as a user runs it, judged independently.

Each vendored pair (DI + processed recording) is matched by the real command,
``auto_match_hil TARGET --di-signal DI --optimize`` (default options: virtual rig,
effect type suggested by the analysis, 40 takes), once per method (``--optimizer``;
the seed's search with ``--loss seed``), and ``ours`` once more with the
best-fitting effect type given (``--effect-type``). A pair the command refuses
(exit status 1) counts as not beating bypass and is reported as refused.

The judge (:mod:`analyzers.judge`, no code shared with the search's loss) scores,
against the original target file: bypass (the unprocessed DI), the session's
start take and its final take, each after its own alignment and gain matching.

Best-fitting type: the emulated type whose analysis start (the command's own
starting patch for that type) has the lowest MatchLoss on the aligned pair.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "tests" / "data" / "audio"
SAMPLE_RATE_HZ = 44100
GUL = "pair-gulmini-neuralfx"
#: name -> (target, DI) under tests/data/audio.
PAIRS = {"gulmini 001": (f"{GUL}/audio/target/001.flac", f"{GUL}/audio/input/001.flac"),
         "gulmini 002": (f"{GUL}/audio/target/002.flac", f"{GUL}/audio/input/002.flac"),
         "gulmini 008": (f"{GUL}/audio/target/008.flac", f"{GUL}/audio/input/008.flac"),
         "gulmini 009": (f"{GUL}/audio/target/009.flac", f"{GUL}/audio/input/009.flac"),
         "harmonic": (f"{GUL}/harmonic/effect.flac", f"{GUL}/harmonic/clean.flac"),
         "a_crazy_one": (f"{GUL}/a_crazy_one/effect.flac", f"{GUL}/a_crazy_one/clean.flac"),
         "steinmetz reverb": ("pair-steinmetz-reverb/target.flac",
                              "pair-steinmetz-reverb/input.flac")}
QUICK_PAIRS = ("gulmini 009",)


def _mono(path: Path) -> np.ndarray:
    import soundfile as sf
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    if sr != SAMPLE_RATE_HZ:
        raise SystemExit(f"{path} is {sr} Hz; the real-pairs suite expects {SAMPLE_RATE_HZ} Hz")
    return x.mean(axis=1)


def best_type(pair_name: str) -> dict:
    """The emulated type whose analysis start scores the lowest MatchLoss on the pair."""
    from analyzers.heuristics import initial_patch
    from optimize.pairs import load_pair
    from hil.rig import VirtualRig
    from magicstomp.emulator import EMULATED_TYPES
    from magicstomp.neutral import to_patch
    from optimize.objective import MatchLoss
    target, di = PAIRS[pair_name]
    pair = load_pair(AUDIO / target, AUDIO / di, sample_rate=SAMPLE_RATE_HZ, min_follow=0.0)
    neutral = initial_patch(pair.target, SAMPLE_RATE_HZ, di=pair.di)
    loss, rig = MatchLoss(pair.target, SAMPLE_RATE_HZ, di=pair.di), VirtualRig(SAMPLE_RATE_HZ)
    scores = {}
    for type_id in sorted(EMULATED_TYPES):
        patch, _ = to_patch(neutral, type_id)
        scores[type_id] = float(loss(rig.render(patch, pair.di)).total)
    best = min(scores, key=scores.get)
    return {"type_id": best, "start_loss": scores[best],
            "ranking": [f"0x{t:02X}" for t in sorted(scores, key=scores.get)[:5]]}


def run_command(pair_name: str, out_dir: Path, session: str, *, optimizer: str = "ours",
                effect_type=None, budget=None) -> dict:
    """Run ``auto_match_hil`` on a pair; the session folder or the refusal's message."""
    target, di = PAIRS[pair_name]
    args = [str(AUDIO / target), "--di-signal", str(AUDIO / di), "--optimize",
            "--out", str(out_dir), "--session-name", session, "--force",
            "--optimizer", optimizer, "--seed", "0"]
    if optimizer == "seed_coordinate":
        args += ["--loss", "seed"]
    if effect_type is not None:
        args += ["--effect-type", str(effect_type)]
    if budget is not None:
        args += ["--budget", str(budget)]
    code = "import sys; from cli.auto_match_hil import main; sys.exit(main())"
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=str(REPO), env=env)
    out = {"exit": proc.returncode, "seconds": time.perf_counter() - t0}
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        out["refused"] = lines[-1] if lines else f"exit status {proc.returncode}"
        return out
    out["session"] = out_dir / session
    return out


def judge_session(pair_name: str, session: Path | None) -> dict:
    """Judge scores of bypass, start and final take against the original target."""
    from analyzers.judge import judge
    target_file, di_file = PAIRS[pair_name]
    target = _mono(AUDIO / target_file)
    scores = {"bypass": judge(_mono(AUDIO / di_file), target, SAMPLE_RATE_HZ)}
    if session is not None:
        for label, name in (("start", "s_take_initial.wav"), ("final", "s_take_optimized.wav")):
            scores[label] = judge(_mono(session / name), target, SAMPLE_RATE_HZ)
    return scores


def run_pair(pair_name: str, *, optimizer: str = "ours", with_type: bool = False,
             budget=None) -> dict:
    """One real-pair job: (best type,) the command, the judge."""
    import json
    t0 = time.perf_counter()
    fit = best_type(pair_name) if with_type else None
    with tempfile.TemporaryDirectory(prefix="mq-pair-") as tmp:
        run = run_command(pair_name, Path(tmp), "s", optimizer=optimizer, budget=budget,
                          effect_type=None if fit is None else fit["type_id"])
        session = run.get("session")
        scores = judge_session(pair_name, session)
        info = {}
        if session is not None:
            doc = json.loads((session / "s_session.json").read_text())
            info = {k: doc.get(k) for k in ("effect_type", "takes", "initial_loss", "final_loss")}
    final = scores.get("final")
    return {"pair": pair_name, "optimizer": optimizer, "with_type": with_type,
            "best_type": None if fit is None else {**fit, "type_id": f"0x{fit['type_id']:02X}"},
            "refused": run.get("refused"), "command_seconds": run["seconds"], **info,
            "scores": {k: v.to_dict() for k, v in scores.items()},
            "beats_bypass": bool(final is not None and final.beats(scores["bypass"])),
            "seconds": time.perf_counter() - t0}
