"""Match quality on hidden patches: the seed's search, random search and ours, side by side.

Each case is a hidden random patch of one effect type (Amp Multi and
Distortion Multi variants, delays, reverbs, modulations) rendered by the virtual
Magicstomp on a 4 s excerpt of a real DI from ``tests/data/audio/``, through the
re-amp imperfections of ``VirtualRig`` (noise at -70 dBFS, +/-0.3 dB gain wobble
per take, residual latency jitter). Every method starts from the same starting
patch and gets the same budget of takes:

  seed    the seed's fixed-step coordinate search on the seed loss (faithful baseline)
  random  equal-budget uniform random search on MatchLoss
  ours    screening + echo-time/LFO-rate scans + staged adaptive pattern search on MatchLoss

Per case and method: loss reduction from the start, final loss as a multiple of
the replicate floor (MatchLoss and seed loss, two fresh takes of the best patch),
normalized parameter error over the parameters the audio can identify, takes
to -50 % and to within 3x the floor, and the multi-resolution STFT distance of
the noise-free renders. Results: ``benchmarks/results/match_quality.{json,md}``.

Run:  .venv/bin/python benchmarks/match_quality.py            (24 cases, 150 takes)
      .venv/bin/python benchmarks/match_quality.py --quick    (6 cases, 60 takes)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from magicstomp.patch import Patch  # noqa: E402
from optimize.objective import MatchLoss, stft_power  # noqa: E402

DATA = REPO / "tests" / "data"   # vendored reference recordings (tests/data/SOURCES.md)
RESULTS = REPO / "benchmarks" / "results"
SAMPLE_RATE_HZ = 44100
EXCERPT_S = 4.0
#: (file under tests/data/audio, excerpt start in s); all 44.1 kHz mono DIs.
DI_FILES = (("di-cc0-jazz/jazz.flac", 2.0),
            ("pair-gulmini-neuralfx/audio/input/001.flac", 1.0),
            ("pair-gulmini-neuralfx/loop.flac", 0.5),
            ("pair-gulmini-neuralfx/harmonics/clean.flac", 6.0))
#: 24 cases: 8 multi variants, 4 delays, 2 reverbs, 4 modulations, 6 more multis.
CASE_TYPES = (0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x0D, 0x0E, 0x11, 0x35,
              0x09, 0x34, 0x12, 0x13, 0x15, 0x17, 0x37, 0x3B, 0x39, 0x3D, 0x3A, 0x3C)
QUICK_TYPES = (0x37, 0x3B, 0x0D, 0x09, 0x12, 0x39)
METHODS = (("seed", "seed_coordinate", "seed"), ("random", "random", "match"),
           ("ours", "ours", "match"))
IDENTIFY_DELTA = 0.1


def imperfections():
    from hil.imperfections import Imperfections
    return Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3, latency_jitter_samples=8,
                         latency_samples=256)


def load_di(index: int) -> tuple[str, np.ndarray]:
    import soundfile as sf
    name, start_s = DI_FILES[index % len(DI_FILES)]
    x, sr = sf.read(str(DATA / "audio" / name), dtype="float64", always_2d=True)
    if sr != SAMPLE_RATE_HZ:
        raise SystemExit(f"{name} is {sr} Hz; the benchmark expects {SAMPLE_RATE_HZ} Hz DIs")
    x = x.mean(axis=1)
    i0 = int(start_s * sr)
    x = x[i0:i0 + int(EXCERPT_S * sr)]
    return name, x * (10 ** (-6 / 20) / np.max(np.abs(x)))        # peak -6 dBFS


def _hidden_raws(dim) -> list:
    """Raw values a hidden patch may use for one dimension (musically plausible ranges)."""
    from optimize.constraints import _is_delay_time, _is_feedback
    p, key = dim.param, dim.key
    raws = list(range(dim.lo_raw, dim.hi_raw + 1))
    if _is_delay_time(p):
        lo, hi = 80.0, 700.0
    elif _is_feedback(p):
        lo, hi = 10.0, 60.0
    elif key.startswith("reverb_time"):
        lo, hi = 0.8, 4.0
    else:
        span = dim.hi_raw - dim.lo_raw
        low_u = 0.35 if ("level" in key or "mix" in key or "depth" in key) else 0.15
        return [r for r in raws if low_u <= (r - dim.lo_raw) / span <= 0.85]
    keep = [r for r in raws if isinstance(p.to_physical(r), (int, float))
            and lo <= p.to_physical(r) <= hi]
    return keep or raws


def make_case(index: int, *, types=CASE_TYPES, seed: int = 0) -> dict:
    """Case ``index`` of ``types``: its type, DI excerpt, hidden patch and starting patch."""
    from optimize.constraints import ParameterSpace
    from optimize.screening import discrete_keys
    type_id = types[index % len(types)]
    rng = np.random.default_rng([seed, index])
    di_name, di = load_di(index + index // len(DI_FILES))
    space = ParameterSpace(type_id)
    hidden = Patch.init(type_id)
    for dim in space.dimensions:
        hidden.set_raw(dim.key, int(rng.choice(_hidden_raws(dim))))
    for key in discrete_keys(type_id):
        p = hidden.effect_type.param(key)
        choices = [r for r in range(p.min_raw, p.max_raw + 1) if p.to_physical(r) != "Bypass"]
        hidden.set_raw(key, int(rng.choice(choices)))
    return {"index": index, "type_id": type_id, "type": hidden.effect_type.name,
            "di": di_name, "audio": di, "space": space, "hidden": hidden,
            "start": Patch.init(type_id), "seed": seed * 1000 + index}


def start_patch(case: dict, target: np.ndarray):
    """(patch, kind, hints): the analysis-based starting patch when the analysis is available
    (else the init patch), and the analysis' hints for ours (echo-time candidates)."""
    try:
        from analyzers.heuristics import initial_patch
        from magicstomp.neutral import to_patch
    except ImportError:
        return case["start"], "init patch (analysis not available)", {}
    from optimize.hints import analysis_hints
    neutral = initial_patch(target, SAMPLE_RATE_HZ, di=case["audio"])
    patch = to_patch(neutral, case["type_id"])
    patch = patch[0] if isinstance(patch, tuple) else patch
    patch = case["space"].clip(patch)
    return patch, "analysis", analysis_hints(case["space"], neutral.features, start=patch)


def mrstft_distance(x: np.ndarray, y: np.ndarray) -> float:
    """auraloss-style MR-STFT distance of ``x`` from reference ``y``, RMS-matched.

    Spectral convergence + log-magnitude L1 at FFT 2048/1024/512; magnitudes
    are floored 60 dB below the reference's peak so that the rig's noise floor
    (-70 dBFS) does not dominate silent cells.
    """
    x = x * (np.sqrt(np.mean(y ** 2)) / max(np.sqrt(np.mean(x ** 2)), 1e-12))
    total = 0.0
    for n_fft in (2048, 1024, 512):
        mx, my = np.sqrt(stft_power(x, n_fft, n_fft // 4)), np.sqrt(stft_power(y, n_fft, n_fft // 4))
        sc = np.linalg.norm(my - mx) / max(np.linalg.norm(my), 1e-12)
        eps = 1e-3 * my.max() + 1e-12
        logmag = np.mean(np.abs(np.log10(mx + eps) - np.log10(my + eps)))
        total += sc + logmag
    return float(total / 3)


def _first_take(history, threshold: float):
    best = math.inf
    for take in history:
        best = min(best, take.loss)
        if best <= threshold:
            return take.index
    return None


def run_case(index: int, *, types=CASE_TYPES, seed: int = 0, budget: int = 150,
             identify: bool = True) -> dict:
    """Run every method on case ``index`` of ``types`` and measure it.

    ``identify=False`` skips the identifiability probes (no parameter error; faster).
    """
    from hil.rig import VirtualRig
    from optimize.loss import get_loss
    from optimize.search import run_search
    t0 = time.perf_counter()
    case = make_case(index, types=types, seed=seed)
    di, space, hidden = case["audio"], case["space"], case["hidden"]
    clean = VirtualRig(SAMPLE_RATE_HZ)
    noisy = VirtualRig(SAMPLE_RATE_HZ, imperfections=imperfections(), seed=case["seed"])
    target, clean_target = noisy.render(hidden, di), clean.render(hidden, di)
    losses = {"match": MatchLoss(target, SAMPLE_RATE_HZ, di=di), "seed": _seed_loss(get_loss, target)}
    replicates = [noisy.render(hidden, di) for _ in range(2)]
    floors = {name: float(np.mean([_total(f(r)) for r in replicates])) for name, f in losses.items()}
    floor_mrstft = float(np.mean([mrstft_distance(r, clean_target) for r in replicates]))
    identifiable, sens = (_identify(case, clean, clean_target, losses, floor_mrstft) if identify
                          else ([], {"match": {}, "seed": {}}))
    start, start_kind, hints = start_patch(case, target)
    u_hidden = space.to_unit(hidden)
    out = {"index": index, "type": case["type"], "type_id": f"0x{case['type_id']:02X}",
           "di": case["di"], "start": start_kind, "keys": list(space.keys),
           "identifiable": identifiable, "floor": floors, "floor_mrstft": floor_mrstft,
           "sensitivity": sens, "hidden": _show(hidden, space), "methods": {}}
    for m_index, (label, strategy, loss_name) in enumerate(METHODS):
        rig = VirtualRig(SAMPLE_RATE_HZ, imperfections=imperfections(),
                         seed=case["seed"] * 10 + m_index + 1)
        loss = losses[loss_name]
        opts = {"hints": hints} if strategy == "ours" else {}
        result = run_search(strategy, space=space, start=start, budget_takes=budget, seed=seed,
                            evaluate=lambda patch, rig=rig, loss=loss: loss(rig.render(patch, di)),
                            **opts)
        best = result.best_patch
        finals = [rig.render(best, di) for _ in range(2)]
        final = {name: float(np.mean([_total(f(x)) for x in finals])) for name, f in losses.items()}
        u_best = space.to_unit(best)
        errors = [abs(u_best[i] - u_hidden[i]) for i, k in enumerate(space.keys)
                  if k in identifiable]
        discrete = [k for k in ("amplifier_type", "distortion_type", "speaker_type")
                    if k in best.effect_type.keys()]
        out["methods"][label] = {
            "strategy": strategy, "loss": loss_name, "takes": result.takes,
            "initial_loss": result.initial_loss, "best_loss": result.best_loss,
            "reduction_pct": result.improvement_pct,
            "final": final, "final_x_floor": {k: final[k] / floors[k] for k in final},
            "param_error": float(np.mean(errors)) if errors else None,
            "discrete_correct": all(best.get_raw(k) == hidden.get_raw(k) for k in discrete),
            "takes_to_half": _first_take(result.history, 0.5 * result.initial_loss),
            "takes_to_3x_floor": _first_take(result.history, 3.0 * floors[loss_name]),
            "mrstft": mrstft_distance(clean.render(best, di), clean_target),
            "best": _show(best, space)}
    out["seconds"] = time.perf_counter() - t0
    return out


def _seed_loss(get_loss, target):
    cls = get_loss("seed")
    return cls(target, SAMPLE_RATE_HZ) if isinstance(cls, type) else cls


def _total(value) -> float:
    return float(getattr(value, "total", value))


def _show(patch, space) -> dict:
    keys = list(space.keys) + [k for k in ("amplifier_type", "distortion_type", "speaker_type")
                               if k in patch.effect_type.keys()]
    return {k: patch.get(k) for k in keys}


def _identify(case, clean, clean_target, losses, floor_mrstft):
    """Keys whose +/-0.1 move is audible above the replicate noise, and each loss's sensitivity."""
    space, hidden, di = case["space"], case["hidden"], case["audio"]
    u = space.to_unit(hidden)
    base = {name: _total(f(clean_target)) for name, f in losses.items()}
    identifiable, sens = [], {"match": {}, "seed": {}}
    for i, key in enumerate(space.keys):
        moves, deltas = [], {"match": [], "seed": []}
        for sign in (1.0, -1.0):
            v = u.copy()
            v[i] = min(1.0, max(0.0, v[i] + sign * IDENTIFY_DELTA))
            if v[i] == u[i]:
                continue
            x = clean.render(space.from_unit(hidden, v), di)
            moves.append(mrstft_distance(x, clean_target))
            for name, f in losses.items():
                deltas[name].append(_total(f(x)) - base[name])
        if moves and max(moves) > 2.0 * floor_mrstft:
            identifiable.append(key)
            for name in sens:
                sens[name][key] = float(np.mean(deltas[name]))
    return identifiable, sens


# -- summary -----------------------------------------------------------------
def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(values)) if values else None


def _median_takes(values, budget):
    return float(np.median([budget + 1 if v is None else v for v in values])) if values else None


def _spread(sens: dict):
    values = [abs(v) for v in sens.values()]
    return max(values) / max(min(values), 1e-12) if len(values) >= 2 else None


def summarise(cases: list, budget: int) -> dict:
    summary = {}
    for label, _, loss_name in METHODS:
        rows = [c["methods"][label] for c in cases]
        summary[label] = {
            "loss": loss_name,
            "median_reduction_pct": _median([r["reduction_pct"] for r in rows]),
            "median_final_x_floor_match": _median([r["final_x_floor"]["match"] for r in rows]),
            "median_final_x_floor_seed": _median([r["final_x_floor"]["seed"] for r in rows]),
            "share_within_3x_floor_match": float(np.mean(
                [r["final_x_floor"]["match"] <= 3.0 for r in rows])),
            "median_param_error": _median([r["param_error"] for r in rows]),
            "median_takes_to_half": _median_takes([r["takes_to_half"] for r in rows], budget),
            "median_takes_to_3x_floor": _median_takes([r["takes_to_3x_floor"] for r in rows],
                                                      budget),
            "median_mrstft": _median([r["mrstft"] for r in rows]),
            "share_discrete_correct": float(np.mean([r["discrete_correct"] for r in rows]))}
    for metric in ("match", "seed", "mrstft"):
        def value(row):
            return row["mrstft"] if metric == "mrstft" else row["final"][metric]
        wins = [all(value(c["methods"]["ours"]) < value(c["methods"][b]) for b in ("seed", "random"))
                for c in cases]
        summary["ours"][f"share_beats_both_{metric}"] = float(np.mean(wins))
    summary["sensitivity_spread_median"] = {
        name: _median([_spread(c["sensitivity"][name]) for c in cases]) for name in ("match", "seed")}
    return summary


def markdown(doc: dict) -> str:
    s, meta = doc["summary"], doc["meta"]
    budget = meta["budget_takes"]
    lines = [f"# Match quality ({meta['cases']} cases, {budget} takes, seed {meta['seed']})", "",
             f"Run {meta['date']} in {meta['seconds']:.0f} s on {meta['workers']} worker(s) "
             f"({meta.get('cpu_count', '?')} cores, load average at the end "
             f"{meta.get('load_average', '?')}; the machine is shared). "
             "Final losses are means of two fresh takes of the best patch; floors are the "
             "loss of replicate takes of the hidden patch. Takes counts start at take 0 "
             f"(the starting patch); {budget + 1} = not reached.", "",
             "| metric | seed (coordinate, seed loss) | random (MatchLoss) | ours (MatchLoss) |",
             "| --- | --- | --- | --- |"]
    rows = (("median loss reduction from start, own loss (%)", "median_reduction_pct", "{:.1f}"),
            ("median final MatchLoss / floor", "median_final_x_floor_match", "{:.2f}"),
            ("median final seed loss / floor", "median_final_x_floor_seed", "{:.2f}"),
            ("share within 3x floor (MatchLoss)", "share_within_3x_floor_match", "{:.0%}"),
            ("median normalized parameter error", "median_param_error", "{:.3f}"),
            ("median takes to -50 % (own loss)", "median_takes_to_half", "{:.1f}"),
            ("median takes to 3x floor (own loss)", "median_takes_to_3x_floor", "{:.1f}"),
            ("median MR-STFT distance (noise-free)", "median_mrstft", "{:.3f}"),
            ("share with amp/speaker choice right", "share_discrete_correct", "{:.0%}"))
    for title, key, fmt in rows:
        cells = [fmt.format(s[m][key]) if s[m][key] is not None else "-"
                 for m in ("seed", "random", "ours")]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    o = s["ours"]
    spread = {k: ("-" if v is None else f"{v:.0f}") for k, v in s["sensitivity_spread_median"].items()}
    lines += ["", f"Ours beats both baselines in {o['share_beats_both_match']:.0%} of cases on "
              f"MatchLoss, {o['share_beats_both_seed']:.0%} on the seed loss and "
              f"{o['share_beats_both_mrstft']:.0%} on MR-STFT distance.",
              f"Median sensitivity spread (largest / smallest loss rise for a 0.1 move of an "
              f"identifiable knob): MatchLoss {spread['match']}:1, seed loss {spread['seed']}:1.",
              "",
              "| # | type | DI | start | identifiable | seed xF | random xF | ours xF | "
              "seed err | random err | ours err | ours takes to -50 % |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in doc["cases"]:
        m = c["methods"]
        err = [("-" if m[k]["param_error"] is None else f"{m[k]['param_error']:.3f}")
               for k in ("seed", "random", "ours")]
        xf = [f"{m[k]['final_x_floor']['match']:.1f}" for k in ("seed", "random", "ours")]
        lines.append(f"| {c['index']} | {c['type']} | {Path(c['di']).name} | {c['start']} | "
                     f"{len(c['identifiable'])}/{len(c['keys'])} | " + " | ".join(xf) + " | "
                     + " | ".join(err) + f" | {m['ours']['takes_to_half']} |")
    lines.append("\nxF: final MatchLoss as a multiple of the replicate floor; err: mean |u - u_hidden| "
                 "over the identifiable knobs (normalized 0..1).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 cases, 60 takes")
    ap.add_argument("--cases", type=int, default=None, help="number of cases (default 24, quick 6)")
    ap.add_argument("--budget", type=int, default=None, help="takes per run (default 150, quick 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "match_quality"),
                    help="output path without extension")
    args = ap.parse_args(argv)
    n_cases = args.cases or (len(QUICK_TYPES) if args.quick else len(CASE_TYPES))
    budget = args.budget or (60 if args.quick else 150)
    t0 = time.perf_counter()
    types = QUICK_TYPES if args.quick else CASE_TYPES
    jobs = dict(types=types, seed=args.seed, budget=budget)
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(run_case, i, **jobs) for i in range(n_cases)]
            for done in as_completed(futures):
                c = done.result()
                print(f"done case {c['index']} {c['type']} ({c['seconds']:.0f} s)", file=sys.stderr,
                      flush=True)
            cases = [f.result() for f in futures]
    else:
        cases = [run_case(i, **jobs) for i in range(n_cases)]
    for c in cases:
        print(f"case {c['index']:2d} {c['type']:28s} " + "  ".join(
            f"{k} {v['final_x_floor']['match']:7.2f}xF err {v['param_error'] or 0:.3f}"
            for k, v in c["methods"].items()) + f"  ({c['seconds']:.0f} s)", flush=True)
    doc = {"meta": {"cases": n_cases, "budget_takes": budget, "seed": args.seed,
                    "quick": args.quick, "workers": args.workers,
                    "seconds": time.perf_counter() - t0,
                    "load_average": [round(v, 2) for v in os.getloadavg()],
                    "cpu_count": os.cpu_count(),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "excerpt_s": EXCERPT_S, "methods": [list(m) for m in METHODS]},
           "summary": summarise(cases, budget), "cases": cases}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
