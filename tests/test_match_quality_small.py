"""A 3-case version of benchmarks/match_quality.py with a small budget.

Hidden random patches (Mono Delay, Tremolo, Spring Reverb) on real DI excerpts
through the imperfect virtual rig; our search must end no worse than the seed's
fixed-step coordinate search on every case (MatchLoss of fresh takes of the best
patch, and the noise-free MR-STFT distance), deterministically under the seed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "match_quality.py"
TYPES = (0x0D, 0x17, 0x34)


@pytest.fixture(scope="module")
def bench(data_dir):
    spec = importlib.util.spec_from_file_location("match_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DATA = data_dir
    return module


@pytest.fixture(scope="module")
def cases(bench):
    return [bench.run_case(i, types=TYPES, seed=0, budget=30, identify=False)
            for i in range(len(TYPES))]


def test_ours_is_no_worse_than_the_seed_search(cases):
    for case in cases:
        ours, seed = case["methods"]["ours"], case["methods"]["seed"]
        assert ours["takes"] <= 30 and seed["takes"] <= 30
        assert ours["final"]["match"] <= 1.05 * seed["final"]["match"], case["type"]
        assert ours["mrstft"] <= 1.05 * seed["mrstft"] + 1e-3, case["type"]


def test_every_run_starts_from_the_same_measured_patch(cases):
    for case in cases:
        starts = {m: r["initial_loss"] for m, r in case["methods"].items()}
        assert starts["ours"] == pytest.approx(starts["random"], rel=0.2)   # same patch, new take
        assert case["floor"]["match"] > 0 and case["floor"]["seed"] > 0


def test_summary_and_markdown(bench, cases):
    summary = bench.summarise(cases, 30)
    assert set(summary) >= {"seed", "random", "ours", "sensitivity_spread_median"}
    doc = {"meta": {"cases": 3, "budget_takes": 30, "seed": 0, "date": "now", "seconds": 1.0,
                    "workers": 1}, "summary": summary, "cases": cases}
    text = bench.markdown(doc)
    assert text.count("\n| ") >= 3 + 9 and "Mono Delay" in text
