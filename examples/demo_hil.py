"""The seed's demonstration on the virtual Magicstomp: match examples/target.wav from di.wav.

    .venv/bin/python examples/demo_hil.py [--budget TAKES] [--optimizer NAME]

The same steps as ``auto_match_hil``, as library calls, printing what each one
found: load and align, analyse to a starting patch, measure it (take 0), search
the effect type's default parameters, and compare the starting and best patch.
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

from cli.matching import choose_excerpt, load_pair, make_evaluator, starting_patch  # noqa: E402
from hil.rig import VirtualRig  # noqa: E402
from optimize.constraints import ParameterSpace  # noqa: E402
from optimize.loss import get_loss  # noqa: E402
from optimize.search import run_search  # noqa: E402

RATE_HZ = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--optimizer", default="ours")
    parser.add_argument("--effect-type", default=None)
    args = parser.parse_args()
    started = time.monotonic()
    pair = load_pair(ROOT / "examples" / "target.wav", ROOT / "examples" / "di.wav",
                     sample_rate=RATE_HZ)
    print(f"loaded {pair.duration_s:.1f} s; alignment: {pair.alignment}")
    patch, notes, _neutral = starting_patch(pair, effect_type=args.effect_type)
    for note in notes:
        print(f"note: {note}")
    space = ParameterSpace(patch.effect_type)
    print(space.describe())
    excerpt = choose_excerpt(pair.di, RATE_HZ, seconds=None)
    loss = get_loss("match")(pair.target, RATE_HZ)
    with VirtualRig(RATE_HZ) as rig:
        result = run_search(args.optimizer, space=space, start=patch,
                            evaluate=make_evaluator(rig, loss, pair.di, excerpt),
                            budget_takes=args.budget)
    print(f"{len(result.history)} takes ({result.stopped}): initial loss {result.initial_loss:.4f}"
          f" -> final loss {result.best_loss:.4f} ({result.improvement_pct:.1f} % lower) "
          f"in {time.monotonic() - started:.1f} s")
    print(f"{'parameter':<26}{'start':>12}{'best':>12}")
    for key in space.keys:
        print(f"{key:<26}{str(patch.get(key)):>12}{str(result.best_patch.get(key)):>12}")


if __name__ == "__main__":
    main()
