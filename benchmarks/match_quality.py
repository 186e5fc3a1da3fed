"""Match quality v2: hidden patches that differ everywhere, errors over every audible field,
real pairs against bypass, and library baselines at equal takes.

Synthetic cases (``mq_cases``): a hidden patch (factory preset re-drawn, random draw,
or v1's init-plus-knobs) rendered on a 3 s excerpt of a real DI through the
imperfect ``VirtualRig`` (noise -70 dBFS, +/-0.3 dB gain wobble, latency jitter).
Every method starts from the same analysis-based patch, searches the same space
(``--space``: match()'s default, the seed's knobs or every field the roles call audible;
``seed`` always searches the original project's knobs) and gets the same number of takes:

  seed    the original project's coordinate search (``seed_coordinate``) on its own loss
  random  uniform random search on MatchLoss
  cma     CMA-ES (``cma`` package) on MatchLoss
  tpe     optuna's TPE on MatchLoss
  ours    today's default search on MatchLoss (screening amp and cabinet, hints)

Per case and method: normalized error over every field audible in the hidden
patch (``magicstomp.emulator.audible.audible_keys``), over the original 11 knobs
(multis), per section; amp model and cabinet right; the MatchLoss of the truth
(replicate takes), of the projected truth (``optimize.diagnosis``), of the start
and of the result, and the diagnosis; the judge's MR-STFT of the noise-free render.

Real pairs (``mq_real_pairs``): the command as a user runs it, judged against bypass.

Run:  .venv/bin/python benchmarks/match_quality.py            (31 cases, 150 takes, 7 pairs)
      .venv/bin/python benchmarks/match_quality.py --quick    (3 cases, 30 takes, 1 pair)
      .venv/bin/python benchmarks/match_quality.py --cases 0,4,13 --methods ours --no-real
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

#: one thread per worker process: with 2 workers on 2 cores, the math libraries' own thread
#: pools (2 threads each) made every case take twice the CPU for the same result (measured
#: on --quick: 77.7 s of CPU against 38.5 s). Set before numpy is imported; the workers
#: inherit it. An explicit setting in the environment wins.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import mq_cases as mc  # noqa: E402
import mq_real_pairs as rp  # noqa: E402
from mq_report import markdown, summarise  # noqa: E402

RESULTS = HERE / "results"
SR = mc.SAMPLE_RATE_HZ
#: label -> (strategy, loss the search optimizes)
METHODS = {"seed": ("seed_coordinate", "seed"), "random": ("random", "match"),
           "cma": ("cma", "match"), "tpe": ("tpe", "match"), "ours": ("ours", "match"),
           "coordinate": ("coordinate", "match")}   # the command's --optimizer coordinate
REMEASURES = 2
#: model evaluations ours may spend on ranking (the command's --model-budget 400, less the
#: type screen's and the residual EQ's typical share)
MODEL_BUDGET = 350


def imperfections():
    from hil.imperfections import Imperfections
    return Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3, latency_jitter_samples=8,
                         latency_samples=256)


def make_case(index: int, spec: tuple, seed: int) -> dict:
    from magicstomp.patch import Patch
    from optimize.constraints import ParameterSpace
    kind, type_id = spec
    rng = np.random.default_rng([seed, index])
    di_name, di = mc.load_di(index + seed)
    hidden, origin, audible = mc.hidden_patch(kind, type_id, di, rng)
    return {"index": index, "kind": kind, "type_id": type_id, "type": hidden.effect_type.name,
            "origin": origin, "audible": audible, "di": di_name, "audio": di, "hidden": hidden,
            "space": ParameterSpace(type_id), "init": Patch.init(type_id),
            "rig_seed": seed * 1000 + index}


def start_patch(case: dict, target: np.ndarray, search_space: str = "seed"):
    """(patch, hints): the analysis-based start (as the command builds it) and ours' hints.

    With ``search_space="wide"`` the case's space becomes the fields the roles call
    audible in that start (``optimize.constraints.wide_keys``), as ``match()`` builds it.
    """
    from analyzers.heuristics import initial_patch
    from magicstomp.neutral import to_patch
    from optimize.constraints import ParameterSpace, wide_keys
    from optimize.hints import analysis_hints
    neutral = initial_patch(target, SR, di=case["audio"])
    patch = case["space"].clip(to_patch(neutral, case["type_id"])[0])
    if search_space == "wide":
        case["space"] = ParameterSpace(case["type_id"], wide_keys(case["type_id"], patch))
        patch = case["space"].clip(patch)
    return patch, analysis_hints(case["space"], neutral.features, start=patch)


def _seed_loss(target):
    from optimize.loss import get_loss
    cls = get_loss("seed")
    return cls(target, SR) if isinstance(cls, type) else cls


def _total(value) -> float:
    return float(getattr(value, "total", value))


def run_case(index: int, spec: tuple, *, seed: int = 0, budget: int = 150,
             methods=tuple(METHODS), search_space: str | None = None) -> dict:
    """Every method on one case, measured."""
    from analyzers.judge import judge
    from hil.rig import VirtualRig
    from optimize.constraints import ParameterSpace
    from optimize.diagnosis import diagnose, projected_truth
    from optimize.match_plan import ModelBudget
    from optimize.objective import MatchLoss
    from optimize.screening import discrete_keys
    from optimize.search import run_search
    t0 = time.perf_counter()
    case = make_case(index, spec, seed)
    di, hidden = case["audio"], case["hidden"]
    clean = VirtualRig(SR)
    noisy = VirtualRig(SR, imperfections=imperfections(), seed=case["rig_seed"])
    target, clean_target = noisy.render(hidden, di), clean.render(hidden, di)
    losses = {"match": MatchLoss(target, SR, di=di), "seed": _seed_loss(target)}

    def measure(patch, rig):
        takes = [rig.render(patch, di) for _ in range(REMEASURES)]
        return {k: float(np.mean([_total(f(x)) for x in takes])) for k, f in losses.items()}

    audible = case["audible"]
    start, hints = start_patch(case, target, search_space or default_search_space())
    space = case["space"]
    screened = [k for k in discrete_keys(case["type_id"]) if k not in space.keys]
    projected = projected_truth(hidden, start, space, extra_keys=screened)
    ref = {"truth": measure(hidden, noisy), "projected": measure(projected, noisy),
           "start": measure(start, noisy)}
    out = {k: case[k] for k in ("index", "kind", "type", "origin", "di")}
    out.update({"type_id": f"0x{case['type_id']:02X}", "keys": list(space.keys),
                "audible": list(audible), "screened": screened, "losses": ref,
                "start_errors": mc.errors(start, hidden, audible),
                "projected_errors": mc.errors(projected, hidden, audible),
                "hidden": hidden.values(), "methods": {}})
    seed_space = ParameterSpace(case["type_id"])
    for m_index, label in enumerate(methods):
        strategy, loss_name = METHODS[label]
        searched = seed_space if label == "seed" else space     # the original's own knobs
        rig = VirtualRig(SR, imperfections=imperfections(), seed=case["rig_seed"] * 10 + m_index)
        model = ModelBudget(MODEL_BUDGET)     # the nominal virtual Magicstomp as ours' model

        def model_evaluate(p, model=model):
            model.charge(1, "screen")
            return losses["match"](clean.render(p, di))
        model_evaluate.left = lambda model=model: model.left
        opts = {"hints": hints, "model_evaluate": model_evaluate} if strategy == "ours" else {}
        t1 = time.perf_counter()
        result = run_search(strategy, space=searched, start=start, budget_takes=budget, seed=seed,
                            evaluate=lambda p, rig=rig, f=losses[loss_name]: f(rig.render(p, di)),
                            **opts)
        best = result.best_patch
        final = measure(best, rig)
        out["methods"][label] = {
            "takes": result.takes, "model_evaluations": model.used,
            "search_seconds": time.perf_counter() - t1,
            "final": final, "x_truth": final["match"] / ref["truth"]["match"],
            "diagnosis": diagnose(truth_loss=ref["truth"]["match"],
                                  projected_loss=ref["projected"]["match"],
                                  result_loss=final["match"]),
            "errors": mc.errors(best, hidden, audible),
            "judge_mrstft": judge(clean.render(best, di), clean_target, SR).mrstft,
            "best": {k: best.get(k) for k in best.effect_type.keys()
                     if best.get_raw(k) != hidden.get_raw(k)}}
    out["seconds"] = time.perf_counter() - t0
    return out


def default_search_space() -> str:
    """The space ``match()`` searches by default (``MatchPlan.search_space``)."""
    from optimize.match_plan import MatchPlan
    return MatchPlan.__dataclass_fields__["search_space"].default


def real_jobs(quick: bool, methods) -> tuple:
    """(ours' jobs, the baselines' jobs) of the real-pairs suite: (pair, optimizer, with_type)."""
    pairs = rp.QUICK_PAIRS if quick else tuple(rp.PAIRS)
    ours = [(p, "ours", w) for p in pairs for w in ((False,) if quick else (False, True))
            if "ours" in methods]
    return ours, [(p, METHODS[m][0], False) for p in pairs for m in methods if m != "ours"]


def _run_job(job):
    import resource
    kind, args, kwargs = job
    cpu0, child0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    res = run_case(*args, **kwargs) if kind == "case" else rp.run_pair(*args, **kwargs)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res["cpu_seconds"] = (time.process_time() - cpu0 + child1.ru_utime - child0.ru_utime
                          + child1.ru_stime - child0.ru_stime)
    return kind, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 cases, 30 takes, 1 real pair")
    ap.add_argument("--budget", type=int, default=None, help="takes per run (150, quick 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--methods", default=",".join(m for m in METHODS if m != "coordinate"),
                    help="comma-separated labels (coordinate: the command's --optimizer "
                         "coordinate in ours' space; not run by default)")
    ap.add_argument("--no-real", action="store_true", help="skip the real-pairs suite")
    ap.add_argument("--real-methods", default=None,
                    help="methods run on the real pairs (default: every method)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the jobs already in the output JSON and run only the others")
    ap.add_argument("--space", choices=("seed", "wide"), default=None,
                    help="space every method searches: the seed's knobs or every field the "
                         "roles call audible at the start (default: match()'s default)")
    ap.add_argument("--cases", default=None,
                    help="comma-separated case indices to run (default: every case)")
    ap.add_argument("--out", default=str(RESULTS / "match_quality"), help="path without extension")
    args = ap.parse_args(argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; expected some of {', '.join(METHODS)}")
    specs = mc.QUICK_CASES if args.quick else mc.CASES
    budget = args.budget or (30 if args.quick else 150)
    pair_budget = 10 if args.quick else None
    real_methods = tuple(args.real_methods.split(",")) if args.real_methods else methods
    ours_pairs, other_pairs = ([], []) if args.no_real else real_jobs(args.quick, real_methods)
    pair_job = [("pair", (p,), {"optimizer": o, "with_type": w, "budget": pair_budget})
                for p, o, w in ours_pairs + other_pairs]
    chosen = _case_indices(ap, args.cases, len(specs))
    case_jobs = [("case", (i, spec), {"seed": args.seed, "budget": budget, "methods": methods,
                                      "search_space": args.space})
                 for i, spec in enumerate(specs) if chosen is None or i in chosen]
    jobs = pair_job[:len(ours_pairs)] + _interleave(case_jobs, pair_job[len(ours_pairs):])
    run = {"t0": time.perf_counter(), "jobs": len(jobs), "args": args, "methods": methods,
           "budget": budget, "results": [], "failed": []}
    if args.resume:
        jobs = _resume(run, jobs, Path(args.out).with_suffix(".json"))
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            for done in as_completed([pool.submit(_run_job, job) for job in jobs]):
                _record(run, done.result)
    else:
        for job in jobs:
            _record(run, lambda job=job: _run_job(job))
    print(markdown(_write(run)))
    return 0


def _case_indices(ap, text, count: int):
    """The case indices ``--cases`` selects (a set), or None for every case."""
    if text is None:
        return None
    try:
        chosen = {int(word) for word in text.split(",") if word.strip()}
    except ValueError:
        ap.error(f"--cases {text!r} is not a list of whole numbers; expected e.g. 0,4,13")
    bad = sorted(i for i in chosen if not 0 <= i < count)
    if bad or not chosen:
        ap.error(f"--cases {text!r}: expected indices from 0 to {count - 1}")
    return chosen


def _interleave(case_jobs: list, pair_jobs: list) -> list:
    """Cases of the three kinds in turn, the baselines' pairs spread among them: a run
    stopped early keeps a sample of every kind (ours' real pairs run first, the headline)."""
    kinds = [job[1][1][0] for job in case_jobs]
    rank = {i: (kinds[:i].count(kinds[i]) / kinds.count(kinds[i]), i)
            for i in range(len(case_jobs))}
    cases = [case_jobs[i] for i in sorted(rank, key=rank.get)]
    out, every = [], max(1, len(cases) // max(1, len(pair_jobs)))
    pairs = list(pair_jobs)
    for n, job in enumerate(cases, 1):
        out.append(job)
        if n % every == 0 and pairs:
            out.append(pairs.pop(0))
    return out + pairs


def _job_key(kind: str, args: tuple, kwargs: dict) -> tuple:
    if kind == "case":
        return ("case", args[0])
    return ("pair", args[0], kwargs["optimizer"], kwargs["with_type"])


def _resume(run: dict, jobs: list, path: Path) -> list:
    """Load the finished jobs of an earlier run with the same options; the jobs left to run."""
    if not path.exists():
        return jobs
    doc = json.loads(path.read_text())
    done = {("case", c["index"]): ("case", c) for c in doc["cases"]}
    done.update({("pair", p["pair"], p["optimizer"], p["with_type"]): ("pair", p)
                 for p in doc["real_pairs"]})
    run["t0"] -= doc["meta"]["seconds"]
    run["results"] = [done[_job_key(*job)] for job in jobs if _job_key(*job) in done]
    return [job for job in jobs if _job_key(*job) not in done]


def _record(run: dict, result) -> None:
    try:
        kind, res = result()
    except Exception as exc:         # one broken job must not lose the others' results
        print(f"job failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        run["failed"].append(f"{type(exc).__name__}: {exc}")
        return
    _progress(kind, res)
    run["results"].append((kind, res))
    _write(run)                    # after every job: a run stopped early leaves its results


def _write(run: dict) -> dict:
    args, methods = run["args"], run["methods"]
    cases = sorted((r for k, r in run["results"] if k == "case"), key=lambda c: c["index"])
    pairs = [r for k, r in run["results"] if k == "pair"]
    doc = {"meta": {"cases": len(cases), "real_pair_runs": len(pairs),
                    "complete": len(run["results"]) == run["jobs"], "failed_jobs": run["failed"],
                    "budget_takes": run["budget"], "case_indices": args.cases,
                    "search_space": args.space or default_search_space(),
                    "seed": args.seed, "quick": args.quick, "workers": args.workers,
                    "methods": {m: list(METHODS[m]) for m in methods},
                    "seconds": time.perf_counter() - run["t0"],
                    "cpu_seconds": sum(r["cpu_seconds"] for _, r in run["results"]),
                    "load_average_end": [round(v, 2) for v in os.getloadavg()],
                    "cpu_count": os.cpu_count(), "excerpt_s": mc.EXCERPT_S,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
           "summary": summarise(cases, pairs, methods), "cases": cases, "real_pairs": pairs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(doc))
    return doc


def _progress(kind: str, res: dict) -> None:
    if kind == "case":
        text = "  ".join(f"{m} {r['errors']['all_audible'] or 0:.3f}/{r['x_truth']:.1f}x"
                         for m, r in res["methods"].items())
        print(f"case {res['index']:2d} {res['kind']:7s} {res['type']:27s} {text} "
              f"({res['seconds']:.0f} s)", file=sys.stderr, flush=True)
    else:
        print(f"pair {res['pair']:17s} {res['optimizer']:15s} type={res['with_type']!s:5s} "
              f"beats bypass {res['beats_bypass']} refused={res['refused'] is not None} "
              f"({res['seconds']:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
