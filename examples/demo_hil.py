"""The seed's demonstration on the virtual Magicstomp: match examples/target.wav from di.wav.

    .venv/bin/python examples/demo_hil.py [--budget TAKES] [--optimizer NAME] [--model-budget N]

The same match as ``auto_match_hil`` (``optimize.match.match``: start, effect-type
screen, search, residual EQ, never worse), in-process, printing what it found and
comparing the starting and best patch.
Nothing is written; ``auto_match_hil examples/target.wav --di-signal
examples/di.wav --optimize`` does the same and exports a session folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil.rig import VirtualRig  # noqa: E402
from optimize.match import match  # noqa: E402
from optimize.match_plan import MatchPlan  # noqa: E402
from optimize.pairs import load_pair  # noqa: E402

RATE_HZ = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--optimizer", default="ours")
    parser.add_argument("--effect-type", default=None)
    parser.add_argument("--model-budget", type=int, default=400)
    args = parser.parse_args()
    started = time.monotonic()
    plan = MatchPlan(effect_type=args.effect_type, optimizer=args.optimizer,
                     budget_takes=args.budget, model_budget=args.model_budget)
    pair = load_pair(ROOT / "examples" / "target.wav", ROOT / "examples" / "di.wav",
                     sample_rate=RATE_HZ)
    print(f"loaded {pair.duration_s:.1f} s; alignment: {pair.alignment}")
    with VirtualRig(RATE_HZ) as rig:
        result = match(plan, pair, rig)
    for note in result.notes:
        print(f"note: {note}")
    print(result.space.describe())
    search = result.search
    print(f"{result.takes} takes ({search.stopped}) and {result.model_evaluations} model "
          f"evaluations: initial loss {result.initial_loss:.4f} -> final loss "
          f"{result.best_loss:.4f} ({search.improvement_pct:.1f} % lower), bypass "
          f"{result.bypass:.4f}, in {time.monotonic() - started:.1f} s")
    print(f"{'parameter':<26}{'start':>12}{'best':>12}")
    for key in result.space.keys:
        print(f"{key:<26}{str(result.start.get(key)):>12}{str(result.best_patch.get(key)):>12}")


if __name__ == "__main__":
    main()
