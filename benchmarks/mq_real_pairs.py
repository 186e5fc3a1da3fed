"""Real pairs of the match-quality benchmark: the command's match as a user runs it, judged
independently.

Each vendored pair (DI + processed recording) is matched in-process by the
library's ``optimize.match.match`` with the options of
``auto_match_hil TARGET --di-signal DI --optimize`` (default options: virtual rig,
effect type chosen by measurement, 40 takes), once per method (``--optimizer``;
the seed's search with ``--loss seed``), and ``ours`` once more with the
best-fitting effect type given (``--effect-type``). A pair the match refuses
(a toolkit error: the command's exit status 1) counts as not beating bypass and is
reported as refused. ``command_seconds`` is the match's time (loading, analysis,
search and the two full-length takes; no session files).

The judge (:mod:`analyzers.judge`, no code shared with the search's loss) scores,
against the original target file: bypass (the unprocessed DI), the session's
start take and its final take, each after its own alignment and gain matching.

Best-fitting type: the emulated type whose analysis start (the command's own
starting patch for that type) has the lowest MatchLoss on the aligned pair.
"""

from __future__ import annotations

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


def run_match(pair_name: str, *, optimizer: str = "ours", effect_type=None,
              budget=None) -> dict:
    """Match a pair in-process as ``auto_match_hil TARGET --di-signal DI --optimize`` does
    (``optimize.match.match`` with the command's defaults: virtual rig at 44.1 kHz, 40
    takes, seed 0; ``--loss seed`` for the seed's search): the full-length takes of the
    start and the best patch, or the refusal's message."""
    from hil.rig import VirtualRig
    from magicstomp.errors import MagicstompError
    from optimize.match import match
    from optimize.match_plan import MatchPlan
    from optimize.match_stages import render_full
    from optimize.pairs import load_pair

    target, di = PAIRS[pair_name]
    t0 = time.perf_counter()
    try:
        plan = MatchPlan(effect_type=effect_type, optimizer=optimizer, budget_takes=budget,
                         seed=0, loss="seed" if optimizer == "seed_coordinate" else "match",
                         **({"search_space": "seed"} if optimizer == "seed_coordinate" else {}))
        pair = load_pair(AUDIO / target, AUDIO / di, sample_rate=SAMPLE_RATE_HZ)
        with VirtualRig(sample_rate=SAMPLE_RATE_HZ) as rig:
            found = match(plan, pair, rig)
            takes = {"start": render_full(rig, found.start, pair.di),
                     "final": render_full(rig, found.best_patch, pair.di)}
    except MagicstompError as exc:     # what the command refuses with exit status 1
        return {"seconds": time.perf_counter() - t0, "refused": str(exc)}
    best = found.best_patch.effect_type
    info = {"effect_type": {"id": best.id, "name": best.name}, "takes": found.takes,
            "model_evaluations": found.model_evaluations,
            "initial_loss": found.initial_loss, "final_loss": found.best_loss}
    return {"seconds": time.perf_counter() - t0, "takes_audio": takes, "info": info}


def judge_takes(pair_name: str, takes: dict | None) -> dict:
    """Judge scores of bypass, start and final take against the original target."""
    from analyzers.judge import judge
    target_file, di_file = PAIRS[pair_name]
    target = _mono(AUDIO / target_file)
    scores = {"bypass": judge(_mono(AUDIO / di_file), target, SAMPLE_RATE_HZ)}
    for label, take in (takes or {}).items():
        scores[label] = judge(np.asarray(take, dtype=np.float64), target, SAMPLE_RATE_HZ)
    return scores


def run_pair(pair_name: str, *, optimizer: str = "ours", with_type: bool = False,
             budget=None) -> dict:
    """One real-pair job: (best type,) the match, the judge."""
    t0 = time.perf_counter()
    fit = best_type(pair_name) if with_type else None
    run = run_match(pair_name, optimizer=optimizer, budget=budget,
                    effect_type=None if fit is None else fit["type_id"])
    scores = judge_takes(pair_name, run.get("takes_audio"))
    final = scores.get("final")
    return {"pair": pair_name, "optimizer": optimizer, "with_type": with_type,
            "best_type": None if fit is None else {**fit, "type_id": f"0x{fit['type_id']:02X}"},
            "refused": run.get("refused"), "command_seconds": run["seconds"],
            **run.get("info", {}),
            "scores": {k: v.to_dict() for k, v in scores.items()},
            "beats_bypass": bool(final is not None and final.beats(scores["bypass"])),
            "seconds": time.perf_counter() - t0}
