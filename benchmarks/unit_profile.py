"""Unit profiles on drawn unit variants: distance before/after per section, values recovered.

Five drawn units (``UnitVariant.draw(1..5)``) are profiled with the default probe types
(Amp Multi (Chorus), Distortion Multi (Chorus), Tape Echo; ``magicstomp profile``'s
defaults) through two chains:

  ideal   ``VirtualRig(variant=...)``: takes are exact renders of the unit
  noisy   the same through an imitated re-amp chain (white noise at -70 dBFS RMS,
          +/-0.3 dB gain wobble per take, 256-sample latency with +/-8 samples of
          jitter: match-quality v2's chain)

Per run: each section's model-versus-unit distance before (nominal model) and after the
fit, the reduction, the replicate floor (two takes of one probe on the chain), the
takes, seconds of audio, fit time and model evaluations, and each fitted value's error
in units of its documented spread.

Run:  .venv/bin/python benchmarks/unit_profile.py     (10 profiles on 2 workers)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

RESULTS = HERE / "results"
SR = 44100
SEEDS = (1, 2, 3, 4, 5)
CHAINS = ("ideal", "noisy")


def _chain(name):
    from hil.imperfections import Imperfections
    if name == "ideal":
        return None
    return Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3, latency_jitter_samples=8,
                         latency_samples=256)


def run(seed: int, chain: str) -> dict:
    from hil.rig import VirtualRig
    from magicstomp.emulator import UnitVariant
    from magicstomp.emulator.mappings import SPREADS_BY_NAME
    from optimize.unit_profile import fit_unit_profile
    truth = UnitVariant.draw(seed)
    t0 = time.perf_counter()
    profile = fit_unit_profile(VirtualRig(SR, variant=truth, imperfections=_chain(chain),
                                          seed=seed))
    errors = {n: round(abs(profile.variant.value(n) - truth.value(n))
                       / SPREADS_BY_NAME[n].amount, 4) for n in profile.fitted}
    return {"seed": seed, "chain": chain, "wall_s": round(time.perf_counter() - t0, 1),
            "takes": profile.measurement["takes"],
            "audio_s": profile.measurement["audio_seconds"],
            "fit_s": profile.fit["seconds"], "model_evaluations": profile.fit["model_evaluations"],
            "sections": {k: s.to_dict() for k, s in profile.sections.items()},
            "unseen": profile.unseen, "error_spreads": errors}


def summarise(rows: list) -> dict:
    out = {}
    for chain in CHAINS:
        mine = [r for r in rows if r["chain"] == chain]
        if not mine:
            continue
        sections = list(mine[0]["sections"])
        red = {s: [r["sections"][s]["reduction_pct"] for r in mine] for s in sections}
        names = sorted({n for r in mine for n in r["error_spreads"]})
        out[chain] = {
            "variants": len(mine),
            "variants_all_sections_halved": sum(
                all(sec["after_db"] <= 0.5 * sec["before_db"] for sec in r["sections"].values())
                for r in mine),
            # a fitted model whose takes differ from the unit's by less than two takes of the
            # unit differ from each other is as close as this chain can measure
            "variants_all_sections_halved_or_within_floor": sum(
                all(sec["after_db"] <= max(0.5 * sec["before_db"], sec["floor_db"])
                    for sec in r["sections"].values()) for r in mine),
            "floor_db_median": {s: round(statistics.median(r["sections"][s]["floor_db"]
                                                           for r in mine), 3) for s in sections},
            "reduction_pct_median": {s: round(statistics.median(v), 1) for s, v in red.items()},
            "reduction_pct_min": {s: round(min(v), 1) for s, v in red.items()},
            "error_spreads_max": {n: max(r["error_spreads"].get(n, 0.0) for r in mine)
                                  for n in names},
            "median_takes": statistics.median(r["takes"] for r in mine),
            "median_audio_s": statistics.median(r["audio_s"] for r in mine),
            "median_fit_s": statistics.median(r["fit_s"] for r in mine)}
    return out


def markdown(doc: dict) -> str:
    lines = [f"# Unit profiles on drawn variants ({doc['date_utc']})", "",
             f"Default probe types, scale 1.0; {len(SEEDS)} variants x {len(CHAINS)} chains; "
             f"load average {doc['load_average_1min']} at the end; wall {doc['seconds']:.0f} s.",
             ""]
    for chain, s in doc["summary"].items():
        lines += [f"## {chain} chain", "",
                  f"- variants with every section's distance at least halved: "
                  f"**{s['variants_all_sections_halved']} of {s['variants']}**; halved or "
                  "ending within the replicate floor (the distance between two takes of one "
                  "probe on the unit): "
                  f"{s['variants_all_sections_halved_or_within_floor']} of {s['variants']}",
                  f"- takes {s['median_takes']}, {s['median_audio_s']} s of audio, fit "
                  f"{s['median_fit_s']} s (medians)", "",
                  "| section | reduction % (median) | reduction % (min) | replicate floor dB "
                  "(median) |", "|---|---|---|---|"]
        lines += [f"| {k} | {v} | {s['reduction_pct_min'][k]} | {s['floor_db_median'][k]} |"
                  for k, v in s["reduction_pct_median"].items()]
        worst = sorted(s["error_spreads_max"].items(), key=lambda kv: -kv[1])
        lines += ["", "Largest error of a fitted value over the variants, in units of its "
                  "spread: " + ", ".join(f"{n} {e:.3f}" for n, e in worst), ""]
    return "\n".join(lines) + "\n"


def rewrite(path=RESULTS / "unit_profile.json") -> None:
    """Recompute the summary and the markdown from the runs already in ``path``."""
    doc = json.loads(Path(path).read_text())
    doc["summary"] = summarise(doc["runs"])
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")
    Path(path).with_suffix(".md").write_text(markdown(doc))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    jobs = [(seed, chain) for chain in CHAINS for seed in SEEDS]
    if args.workers == 1:
        rows = [run(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(run, *zip(*jobs)))
    for r in rows:
        print(f"seed {r['seed']} {r['chain']}: " + ", ".join(
            f"{k} {v['reduction_pct']}" for k, v in r["sections"].items()), flush=True)
    doc = {"date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "load_average_1min": round(os.getloadavg()[0], 2),
           "seconds": round(time.perf_counter() - t0, 1), "runs": rows,
           "summary": summarise(rows)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "unit_profile.json").write_text(json.dumps(doc, indent=2) + "\n")
    (RESULTS / "unit_profile.md").write_text(markdown(doc))
    print(json.dumps(doc["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
