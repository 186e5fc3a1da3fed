"""How well the analysis measures time-based effects, against the targets of issue 13.

Renders of the virtual Magicstomp with random settings on four real DIs
(6 s excerpts at 48 kHz), measured back by the analysis exactly as
``initial_patch`` does (the target aligned to the DI first):

* **echo** (``analyzers/echo.py``): every delay type (Mono, Stereo, Echo, Mod.,
  Tape, the delay section of the Amp/Distortion Multis behind a driven amp and a
  modulation section), feedback 0-90 %; error = the measured echo nearest each
  true tap. Mod. Delay's truth is its mean time (the sweep goes up from Delay
  Time by depth x 2.5 ms on average), Tape Echo's its set time (wow moves it
  +/-0.43 ms; its knob step is 3.5 % of the time). A missed echo counts as an
  error of 1000 ms. Plus "no echo" on echo-free patches.
* **LFO rate** (``analyzers/modulation.py``, ``analyzers/lfo.py``): Chorus,
  Flange, Phaser, Tremolo and the multis' modulation sections, rates 0.4-6 Hz;
  error in %, a miss counts as 100 %; plus false detections on static patches.
* **RT60**: Reverb, Spring Reverb and the multis' reverb, against the RT60 of
  the same patch's impulse response (T20, Schroeder, 500-4000 Hz: where the
  analysis quotes it); false reverbs on reverb-free static patches; the
  Steinmetz pair (wet-only, 2.1-2.3 s per issue 13). The **pre-delay** of the
  Reverb renders against the initial delay plus the type's first reflection
  (the first wet arrival; a miss counts as 100 ms).
* **alignment**: factory presets rendered through an imperfect virtual rig
  (latency jitter 8 samples, -70 dBFS noise, 0.3 dB gain wobble), the target
  aligned to the DI as ``load_pair`` does; the true patch's MatchLoss before and
  after :class:`optimize.take_alignment.TakeAligner` (measured on a take of the
  type's init patch, as the search's start), against the replicate floor.

Usage::

    .venv/bin/python benchmarks/time_mod_analysis.py [--cases N] [--workers 2]

Writes ``benchmarks/results/time_mod_analysis.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from analyzers.alignment import align, apply_alignment  # noqa: E402
from analyzers.loading import load_audio  # noqa: E402
from magicstomp.emulator import render, to_mono  # noqa: E402
from magicstomp.emulator.mappings import knob_value  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402

SR = 48000
RESULTS = REPO_DIR / "benchmarks" / "results"
DATA = REPO_DIR / "tests" / "data" / "audio"
DIS = [("di-cc0-jazz/jazz.flac", 2.0), ("di-toobamp-notes/Guitar-E2-2.flac", 0.0),
       ("egfxset-notes/Clean/Middle/6-22.flac", 0.0), ("pair-gulmini-neuralfx/audio/input/001.flac", 0.0)]
MISSED_ECHO_MS = 1000.0
_CACHE: dict = {}


def di(index: int, seconds: float = 6.0) -> np.ndarray:
    path, start_s = DIS[index % len(DIS)]
    if path not in _CACHE:
        _CACHE[path] = load_audio(DATA / path, sample_rate=SR, role="DI").samples
    x = _CACHE[path][int(start_s * SR):int((start_s + seconds) * SR)]
    return x * (0.5 / np.max(np.abs(x)))


def _snap(patch, key, value):
    p = patch.effect_type.by_key[key]
    return p.to_physical(p.to_raw(float(np.clip(value, p.to_physical(p.min_raw), p.to_physical(p.max_raw)))))


def _placed(patch, x):
    y = to_mono(render(patch, x, SR))
    return apply_alignment(y, align(y, x, SR), x.size)


# -- echo ---------------------------------------------------------------------------
def echo_case(i: int, seed: int) -> dict:
    from magicstomp.emulator.delay import MOD_DELAY_SWEEP_MS
    rng = np.random.default_rng([seed, i])
    kind = ("mono", "stereo", "echo", "moddelay", "tape", "ampmulti", "distmulti")[i % 7]
    t1, t2, fb = float(rng.uniform(30, 900)), float(rng.uniform(30, 900)), int(rng.uniform(0, 90))
    mix = int(rng.uniform(20, 70))
    step_ms = 0.1
    if kind == "mono":
        p = Patch.init(0x0D)
        p = p.with_values(delay_time_ms=_snap(p, "delay_time_ms", t1), feedback_gain_pct=fb, mix_pct=mix)
        taps, step_ms = [p.get("delay_time_ms")], 0.2
    elif kind == "stereo":
        p = Patch.init(0x0E)
        p = p.with_values(delay_time_l_ms=_snap(p, "delay_time_l_ms", t1),
                          delay_time_r_ms=_snap(p, "delay_time_r_ms", t2),
                          feedback_gain_l_pct=fb, feedback_gain_r_pct=fb // 2, mix_pct=mix)
        taps = [p.get("delay_time_l_ms"), p.get("delay_time_r_ms")]
    elif kind == "echo":
        p = Patch.init(0x11)
        a, b = _snap(p, "delay_time_l_ms", t1), _snap(p, "delay_time_r_ms", t2)
        p = p.with_values(delay_time_l_ms=a, delay_time_fb_l_ms=a, delay_time_r_ms=b,
                          delay_time_fb_r_ms=b, mix_pct=mix)
        taps = [a, b]
    elif kind == "moddelay":
        p = Patch.init(0x0F)
        depth = int(rng.uniform(0, 100))
        p = p.with_values(delay_time_ms=_snap(p, "delay_time_ms", t1), feedback_gain_pct=fb,
                          mix_pct=mix, mod_depth_pct=depth)
        taps, step_ms = [p.get("delay_time_ms") + 0.5 * depth / 100 * MOD_DELAY_SWEEP_MS], 0.2
    elif kind == "tape":
        p = Patch.init(0x35).with_values(delay_time=round(float(rng.uniform(1, 9)), 1),
                                         feedback_level=round(float(rng.uniform(0, 8)), 1))
        taps = [knob_value("delay_time", p.get("delay_time"))]
        step_ms = taps[0] * ((1000 / 30) ** (1 / 100) - 1)
    else:
        tid = int(rng.choice([0x37, 0x38, 0x39, 0x3A] if kind == "ampmulti" else [0x3B, 0x3C, 0x3D, 0x3E]))
        p = Patch.init(tid)
        fbp = p.effect_type.by_key["delay_feedback_pct"]
        values = {"feedback_delay_time_ms": _snap(p, "feedback_delay_time_ms", t1),
                  "delay_level": round(float(rng.uniform(3, 8)), 1),
                  "delay_feedback_pct": fbp.to_physical(int(rng.integers(fbp.min_raw, fbp.max_raw + 1))),
                  "preamp_gain": round(float(rng.uniform(0, 10)), 1)}
        for key in p.effect_type.keys():
            if key.endswith(("_speed", "_depth")):
                values[key] = round(float(rng.uniform(0, 10)), 1)
            elif key.endswith("_level") and key not in ("delay_level", "reverb_level", "pre_eq_level"):
                values[key] = round(float(rng.uniform(0, 8)), 1)
        p = p.with_values(**values)
        taps = [p.get("feedback_delay_time_ms")]
    return _measure_echo(p, taps, step_ms, i % len(DIS), kind)


def no_echo_case(i: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, 1000 + i])
    kinds = [(0x12, {}), (0x13, {}), (0x17, {}), (0x09, {}), (0x08, {}), (0x2F, {}), (0x33, {}),
             (0x37, {"delay_level": 0.0, "chorus_level": 5.0, "reverb_level": 4.0}),
             (0x3B, {"delay_level": 0.0, "preamp_gain": 8.0})]
    tid, values = kinds[i % len(kinds)]
    p = Patch.init(tid).with_values(**values)
    out = _measure_echo(p, [], None, int(rng.integers(len(DIS))), "none")
    out["type"] = p.effect_type.name
    return out


def _measure_echo(patch, taps, step_ms, d, kind) -> dict:
    from analyzers.echo import delay_from_echoes, hear_echoes
    x = di(d)
    echoes = hear_echoes(_placed(patch, x), x, SR)["echoes"]
    delay = delay_from_echoes(echoes)
    heard = [] if delay is None else delay["taps_ms"]
    errors = [min((abs(h - t) for h in heard), default=MISSED_ECHO_MS) for t in taps]
    return {"kind": kind, "type": patch.effect_type.name, "di": DIS[d][0], "taps_ms": taps,
            "step_ms": step_ms, "heard_ms": heard, "errors_ms": errors,
            "confidence": None if delay is None else delay["confidence"]}


# -- LFO ------------------------------------------------------------------------------
MOD_SINGLE = {"chorus": 0x12, "flange": 0x13, "phaser": 0x15, "tremolo": 0x17}
MOD_MULTI = {"chorus": (0x37, 0x3B), "flanger": (0x38, 0x3C), "tremolo": (0x39, 0x3D), "phaser": (0x3A, 0x3E)}


def lfo_case(i: int, seed: int) -> dict:
    from analyzers.modulation import measured_modulation
    rng = np.random.default_rng([seed, 2000 + i])
    kinds = list(MOD_SINGLE) + [f"multi {k}" for k in MOD_MULTI]
    kind = kinds[i % len(kinds)]
    rate = float(np.exp(rng.uniform(np.log(0.4), np.log(6.0))))
    if kind in MOD_SINGLE:
        p = Patch.init(MOD_SINGLE[kind])
        depth_key = "pm_depth_pct" if kind == "chorus" else "mod_depth_pct"
        p = p.with_values(mod_frequency_hz=_snap(p, "mod_frequency_hz", rate),
                          **{depth_key: int(rng.uniform(40, 100))})
        truth, step_pct = p.get("mod_frequency_hz"), 100 * 0.05 / p.get("mod_frequency_hz")
    else:
        sec = kind.split()[1]
        p = Patch.init(int(rng.choice(MOD_MULTI[sec])))
        lo, hi = (0.5, 15.0) if sec == "tremolo" else (0.1, 10.0)
        knob = float(np.clip(round(10 * np.log(rate / lo) / np.log(hi / lo), 1), 0, 10))
        values = {f"{sec}_speed": knob, f"{sec}_depth": round(float(rng.uniform(4, 10)), 1)}
        if sec != "tremolo":
            values[f"{sec}_level"] = round(float(rng.uniform(4, 10)), 1)
        if "preamp_gain" in p.effect_type.keys():
            values["preamp_gain"] = round(float(rng.uniform(0, 7)), 1)
        p = p.with_values(**values)
        truth, step_pct = knob_value(f"{sec}_speed", knob), 100 * ((hi / lo) ** 0.01 - 1)
    d = i % len(DIS)
    x = di(d, 8.0)
    found = measured_modulation(to_mono(render(p, x, SR)), x, SR)
    err = 100.0 if found is None else 100 * abs(found["rate_hz"] / truth - 1)
    return {"kind": kind, "type": p.effect_type.name, "di": DIS[d][0], "rate_hz": truth,
            "step_pct": step_pct, "found_hz": None if found is None else found["rate_hz"],
            "found_kind": None if found is None else found["kind"], "error_pct": err}


def static_case(i: int, seed: int) -> dict:
    from analyzers.modulation import measured_modulation
    kinds = [(0x33, {"eq_gain_1_db": 6.0, "eq_frequency_1_hz": 300.0, "eq_gain_3_db": -6.0,
                     "eq_frequency_3_hz": 3000.0}), (0x08, {}), (0x2F, {}), (0x36, {}), (0x0D, {}),
             (0x09, {}), (0x37, {"chorus_level": 0.0}), (0x3B, {"chorus_level": 0.0, "delay_level": 5.0})]
    tid, values = kinds[i % len(kinds)]
    p = Patch.init(tid).with_values(**values)
    d = (i // len(kinds)) % len(DIS)
    x = di(d, 8.0)
    found = measured_modulation(to_mono(render(p, x, SR)), x, SR)
    reverb_s = None if tid == 0x09 else _reverb_decay(p, x)
    return {"type": p.effect_type.name, "di": DIS[d][0], "false_detection": found is not None,
            "found_hz": None if found is None else found["rate_hz"],
            "false_reverb": reverb_s is not None, "reverb_s": reverb_s}


# -- reverb -----------------------------------------------------------------------------
def reverb_case(i: int, seed: int) -> dict:
    import scipy.signal
    from tests.signals import rt60_s
    rng = np.random.default_rng([seed, 3000 + i])
    kind = ("reverb", "reverb", "spring", "multi")[i % 4]
    if kind == "reverb":
        p = Patch.init(0x09)
        p = p.with_values(reverb_time_s=_snap(p, "reverb_time_s", float(np.exp(rng.uniform(np.log(0.5), np.log(5))))),
                          mix_pct=int(rng.uniform(20, 100)), initial_delay_ms=round(float(rng.uniform(0, 80)), 1))
    elif kind == "spring":
        p = Patch.init(0x34).with_values(reverb_level=round(float(rng.uniform(4, 10)), 1))
    else:
        p = Patch.init(int(rng.choice([0x37, 0x3B])))
        p = p.with_values(reverb_time_s=_snap(p, "reverb_time_s", float(np.exp(rng.uniform(np.log(0.5), np.log(5))))),
                          reverb_level=round(float(rng.uniform(4, 10)), 1), preamp_gain=round(float(rng.uniform(0, 6)), 1))
    imp = np.zeros(int(12 * SR))
    imp[0] = 1.0
    ir = to_mono(render(p, imp, SR))
    ir[:int(0.005 * SR)] = 0.0                                  # the direct sound
    sos = scipy.signal.butter(4, (500.0, 4000.0), "bandpass", fs=SR, output="sos")
    try:
        truth = rt60_s(scipy.signal.sosfiltfilt(sos, ir), SR)   # mid-band T20, as quoted
    except ValueError:
        truth = None
    d = i % len(DIS)
    x = di(d, 8.0)
    found = _reverb(p, x)
    got = None if found is None else found["decay_s"]
    err = None if truth is None else (100.0 if got is None else 100 * abs(got / truth - 1))
    pre_truth = pre_got = None
    if kind == "reverb":                  # the initial delay plus the type's first reflection
        from magicstomp.emulator.reverb import _er_pattern
        pre_truth = p.get("initial_delay_ms") + float(_er_pattern(p.get("reverb_type"))[0][0])
        pre_got = None if found is None else found.get("predelay_ms")
    return {"kind": kind, "type": p.effect_type.name, "di": DIS[d][0], "rt60_s": truth,
            "found_s": got, "error_pct": err, "predelay_ms": pre_truth, "found_predelay_ms": pre_got}


def steinmetz_case() -> dict:
    from analyzers.heuristics import initial_patch
    x = load_audio(DATA / "pair-steinmetz-reverb" / "input.flac", sample_rate=SR, role="DI").samples
    y = load_audio(DATA / "pair-steinmetz-reverb" / "target.flac", sample_rate=SR, role="target").samples
    n = initial_patch(y, SR, di=x)
    return {"found_s": n.reverb_decay_s, "expected_s": [2.1, 2.3],
            "within_15pct": n.reverb_decay_s is not None and 2.1 * 0.85 <= n.reverb_decay_s <= 2.3 * 1.15}


def _reverb_decay(patch, x):
    found = _reverb(patch, x)
    return None if found is None else found["decay_s"]


def _reverb(patch, x):
    from analyzers.echo import delay_from_echoes, echo_response, hear_echoes
    from analyzers.heuristics import LONG_IR_S, measure_reverb
    placed = _placed(patch, x)
    seconds = min(LONG_IR_S, x.size / SR)                               # as initial_patch does
    h_lead = echo_response(placed, x, SR, seconds=seconds)
    delay = delay_from_echoes(hear_echoes(placed, x, SR, seconds=seconds, h_di=h_lead)["echoes"])
    return measure_reverb(placed, x, h_lead, SR, delay)


# -- alignment --------------------------------------------------------------------------
ALIGN_PRESETS = ("BigSusFuzz", "HeavyHiGain", "HiGainStk", "MetalDist", "VinTremolo", "OD Chorus",
                 "FatChorus", "GlamRiff", "ClassACrunch", "TubeDrive", "SlowSpace", "HeatFlange")


def alignment_case(i: int, seed: int) -> dict:
    from hil.imperfections import Imperfections
    from hil.rig import VirtualRig
    from magicstomp.presets import find_preset
    from optimize.objective import MatchLoss
    from optimize.take_alignment import TakeAligner
    name = ALIGN_PRESETS[i % len(ALIGN_PRESETS)]
    truth = find_preset(name).patch()
    d = (i // len(ALIGN_PRESETS) + i) % len(DIS)
    x = di(d, 5.0)

    def rig(s):
        return VirtualRig(SR, imperfections=Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3,
                                                          latency_jitter_samples=8, latency_samples=256),
                          seed=seed * 1000 + 10 * i + s)
    raw = rig(0).render(truth, x)
    placed = apply_alignment(raw, align(raw, x, SR), x.size)
    loss = MatchLoss(placed, SR, di=x)
    aligner = TakeAligner(placed, SR)
    start = Patch.init(truth.effect_type.id)
    aligner(start, rig(1).render(start, x))
    takes = [rig(s).render(truth, x) for s in (2, 3, 4)]
    before = float(np.mean([loss(t).total for t in takes[:2]]))
    after = float(np.mean([loss(aligner(truth, t)).total for t in takes[:2]]))
    floor = float(np.mean([MatchLoss(takes[a], SR, di=x)(takes[b]).total for a, b in ((0, 2), (1, 2))]))
    return {"preset": name, "di": DIS[d][0], "before": before, "after": after, "floor": floor,
            "after_x_floor": after / floor, "before_x_floor": before / floor}


# -- driver -------------------------------------------------------------------------------
def _run(job):
    fn, i, seed = job
    return fn, globals()[fn](i, seed)


def _pct(values, q):
    return float(np.percentile(values, q)) if len(values) else None


def summarize(rows: dict, steinmetz: dict) -> dict:
    echo = rows["echo_case"]
    errs = [e for r in echo for e in r["errors_ms"]]
    within = [e <= max(0.1, r["step_ms"]) for r in echo for e in r["errors_ms"]]
    lfo = rows["lfo_case"]
    lfo_err = [r["error_pct"] for r in lfo]
    lfo_ok = [r["error_pct"] <= max(3.0, r["step_pct"]) for r in lfo]
    rev = [r for r in rows["reverb_case"] if r["error_pct"] is not None]
    al = rows["alignment_case"]
    return {
        "echo": {"taps": len(errs), "median_error_ms": _pct(errs, 50), "p95_error_ms": _pct(errs, 95),
                 "share_within_0.1ms_or_step": float(np.mean(within)),
                 "share_found": float(np.mean([e < MISSED_ECHO_MS for e in errs])),
                 "median_error_found_ms": _pct([e for e in errs if e < MISSED_ECHO_MS], 50),
                 "false_echo_share": float(np.mean([bool(r["heard_ms"]) for r in rows["no_echo_case"]])),
                 "by_kind_median_ms": {k: _pct([e for r in echo if r["kind"] == k for e in r["errors_ms"]], 50)
                                       for k in sorted({r["kind"] for r in echo})}},
        "lfo": {"cases": len(lfo), "median_error_pct": _pct(lfo_err, 50),
                "share_within_3pct_or_step": float(np.mean(lfo_ok)),
                "share_found": float(np.mean([r["found_hz"] is not None for r in lfo])),
                "median_error_found_pct": _pct([r["error_pct"] for r in lfo if r["found_hz"] is not None], 50),
                "kind_right_when_found": float(np.mean([_kind_ok(r) for r in lfo if r["found_hz"] is not None]))
                if any(r["found_hz"] is not None for r in lfo) else None,
                "static_cases": len(rows["static_case"]),
                "no_false_detection_share": float(np.mean([not r["false_detection"] for r in rows["static_case"]])),
                "by_kind_found": {k: f"{sum(r['found_hz'] is not None and r['kind'] == k for r in lfo)}"
                                     f"/{sum(r['kind'] == k for r in lfo)}" for k in sorted({r['kind'] for r in lfo})}},
        "reverb": {"cases": len(rev), "share_within_15pct": float(np.mean([r["error_pct"] <= 15 for r in rev])),
                   "false_reverb_share": float(np.mean([r["false_reverb"] for r in rows["static_case"]
                                                        if r["type"] != "Reverb"])),
                   "median_error_pct": _pct([r["error_pct"] for r in rev], 50), "steinmetz": steinmetz,
                   "by_kind_within_15pct": {k: f"{sum(r['error_pct'] <= 15 for r in rev if r['kind'] == k)}"
                                               f"/{sum(r['kind'] == k for r in rev)}"
                                            for k in sorted({r['kind'] for r in rev})},
                   **_predelay_summary(rows["reverb_case"])},
        "alignment": {"cases": len(al), "share_within_1.5x_floor": float(np.mean([r["after_x_floor"] <= 1.5 for r in al])),
                      "median_after_x_floor": _pct([r["after_x_floor"] for r in al], 50),
                      "median_before_x_floor": _pct([r["before_x_floor"] for r in al], 50),
                      "share_within_1.5x_floor_before": float(np.mean([r["before_x_floor"] <= 1.5 for r in al]))},
    }


def _predelay_summary(reverb_rows) -> dict:
    """Pre-delay errors (ms) of the Reverb renders; a miss counts as 100 ms."""
    rows = [r for r in reverb_rows if r.get("predelay_ms") is not None]
    errs = [100.0 if r["found_predelay_ms"] is None else abs(r["found_predelay_ms"] - r["predelay_ms"])
            for r in rows]
    return {"predelay_cases": len(rows), "predelay_median_error_ms": _pct(errs, 50),
            "predelay_share_within_15pct": float(np.mean([e <= 0.15 * r["predelay_ms"]
                                                           for e, r in zip(errs, rows)])) if rows else None,
            "predelay_share_within_10ms": float(np.mean([e <= 10.0 for e in errs])) if rows else None}


def _kind_ok(r) -> bool:
    want = r["kind"].split()[-1].replace("flanger", "flange")
    return r["found_kind"] == want


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=42, help="echo cases (others scale with it)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("all", "lfo"), default="all",
                    help="lfo: only the LFO and static cases, printed, no results written")
    args = ap.parse_args()
    n = args.cases
    if args.only == "lfo":
        return lfo_only(n, args)
    jobs = ([("echo_case", i, args.seed) for i in range(n)] + [("no_echo_case", i, args.seed) for i in range(n // 2)]
            + [("lfo_case", i, args.seed) for i in range(n)] + [("static_case", i, args.seed) for i in range(n)]
            + [("reverb_case", i, args.seed) for i in range(n // 2)]
            + [("alignment_case", i, args.seed) for i in range(n // 2)])
    t0 = time.time()
    rows: dict = {name: [] for name in dict.fromkeys(j[0] for j in jobs)}
    with Pool(args.workers) as pool:
        for fn, row in pool.imap_unordered(_run, jobs):
            rows[fn].append(row)
    steinmetz = steinmetz_case()
    summary = summarize(rows, steinmetz)
    doc = {"sample_rate_hz": SR, "seed": args.seed, "seconds": round(time.time() - t0, 1),
           "summary": summary, "cases": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "time_mod_analysis.json").write_text(json.dumps(doc, indent=2, default=float) + "\n")
    (RESULTS / "time_mod_analysis.md").write_text(report(summary, doc["seconds"]))
    print(report(summary, doc["seconds"]))


def lfo_only(n: int, args) -> None:
    """The LFO figures alone (LFO and static cases), printed; results files untouched."""
    jobs = [("lfo_case", i, args.seed) for i in range(n)] + [("static_case", i, args.seed) for i in range(n)]
    rows: dict = {"lfo_case": [], "static_case": []}
    t0 = time.time()
    with Pool(args.workers) as pool:
        for fn, row in pool.imap_unordered(_run, jobs):
            rows[fn].append(row)
    lfo = rows["lfo_case"]
    err = [r["error_pct"] for r in lfo]
    ok = [r["error_pct"] <= max(3.0, r["step_pct"]) for r in lfo]
    found = [r for r in lfo if r["found_hz"] is not None]
    by_kind = {k: f"{sum(r['found_hz'] is not None for r in lfo if r['kind'] == k)}"
                  f"/{sum(r['kind'] == k for r in lfo)}" for k in sorted({r["kind"] for r in lfo})}
    print(f"LFO rate, median error ({len(lfo)} cases, a miss = 100 %): {_pct(err, 50):.2f} %")
    print(f"found / within 3 % or one step / kind right when found: {len(found) / len(lfo):.0%} / "
          f"{np.mean(ok):.0%} / {_fmt(np.mean([_kind_ok(r) for r in found]) if found else None, '{:.0%}')}")
    print(f"median error when found: {_fmt(_pct([r['error_pct'] for r in found], 50), '{:.2f} %')}")
    print(f"no modulation on static patches ({len(rows['static_case'])}): "
          f"{np.mean([not r['false_detection'] for r in rows['static_case']]):.0%}")
    print("found by kind: " + ", ".join(f"{k} {v}" for k, v in by_kind.items()))
    print(f"{time.time() - t0:.0f} s")


def report(s: dict, seconds: float) -> str:
    e, m, r, a = s["echo"], s["lfo"], s["reverb"], s["alignment"]
    lines = ["# Time-based effects measured by the analysis (issue 13 targets)", "",
             f"Renders of the virtual Magicstomp on {len(DIS)} real DIs, 48 kHz; {seconds:.0f} s on 2 workers.", "",
             "| measure | figure | target | met |", "| --- | ---: | --- | --- |",
             f"| echo time, median error ({e['taps']} taps, a miss = 1000 ms) | {e['median_error_ms']:.3f} ms | <= 0.1 ms | {_met(e['median_error_ms'] <= 0.1)} |",
             f"| echo time, 95th percentile | {e['p95_error_ms']:.3f} ms | <= 1 ms | {_met(e['p95_error_ms'] <= 1.0)} |",
             f"| echo taps found / within 0.1 ms or the knob step | {e['share_found']:.0%} / {e['share_within_0.1ms_or_step']:.0%} | | |",
             f"| echo reported on echo-free patches | {e['false_echo_share']:.0%} | | |",
             f"| LFO rate, median error ({m['cases']} cases, a miss = 100 %) | {m['median_error_pct']:.2f} % | <= 3 % | {_met(m['median_error_pct'] <= 3)} |",
             f"| LFO found / within 3 % or one step / kind right when found | {m['share_found']:.0%} / {m['share_within_3pct_or_step']:.0%} / {_fmt(m['kind_right_when_found'], '{:.0%}')} | | |",
             f"| LFO rate, median error when found | {_fmt(m['median_error_found_pct'], '{:.2f} %')} | | |",
             f"| no modulation reported on static patches ({m['static_cases']}) | {m['no_false_detection_share']:.0%} | >= 95 % | {_met(m['no_false_detection_share'] >= 0.95)} |",
             f"| RT60 within 15 % ({r['cases']} reverb renders) | {r['share_within_15pct']:.0%} (median error {r['median_error_pct']:.1f} %) | >= 90 % | {_met(r['share_within_15pct'] >= 0.9)} |",
             f"| RT60 within 15 % by kind | {', '.join(f'{k} {v}' for k, v in r['by_kind_within_15pct'].items())} | | |",
             f"| pre-delay, median error ({r['predelay_cases']} Reverb renders, a miss = 100 ms) | {_fmt(r['predelay_median_error_ms'], '{:.1f} ms')} | within 15 % | - |",
             f"| pre-delay within 15 % / within 10 ms | {_fmt(r['predelay_share_within_15pct'], '{:.0%}')} / {_fmt(r['predelay_share_within_10ms'], '{:.0%}')} | | |",
             f"| reverb reported on reverb-free static patches | {r['false_reverb_share']:.0%} | | |",
             f"| Steinmetz wet-only pair (2.1-2.3 s) | {_fmt(r['steinmetz']['found_s'], '{:.2f} s')} | within 15 % | {_met(r['steinmetz']['within_15pct'])} |",
             f"| true patch <= 1.5x floor after take alignment ({a['cases']} presets) | {a['share_within_1.5x_floor']:.0%} (median {a['median_after_x_floor']:.2f}x) | >= 95 % | {_met(a['share_within_1.5x_floor'] >= 0.95)} |",
             f"| ... before (target aligned to the DI only) | {a['share_within_1.5x_floor_before']:.0%} (median {a['median_before_x_floor']:.2f}x) | | |",
             "", "Echo median error by kind (ms): " + ", ".join(f"{k} {v:.3f}" for k, v in e["by_kind_median_ms"].items()),
             "", "LFO found by kind: " + ", ".join(f"{k} {v}" for k, v in m["by_kind_found"].items()), ""]
    return "\n".join(lines)


def _met(flag) -> str:
    return "yes" if flag else "no"


def _fmt(value, pattern) -> str:
    return "-" if value is None else pattern.format(value)


if __name__ == "__main__":
    main()
