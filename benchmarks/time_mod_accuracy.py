"""Accuracy of the emulator's delays and LFOs, measured back from rendered audio.

* Echo timing: a click through Mono Delay, Stereo Delay (L and R), Echo and
  Mod. Delay (depth 0) at several times; error = first echo position - set time.
* Feedback: ratio of successive echoes of Mono Delay against f / 100.
* LFO rate: Chorus / Flange (instantaneous frequency of a 1 kHz sine), Tremolo
  (RMS envelope of a sine) and Phaser (notch track of noise, 2 stages) at
  several rates; error = measured / set - 1.

Usage::

    .venv/bin/python benchmarks/time_mod_accuracy.py

Writes ``benchmarks/results/time_mod_accuracy.json`` and ``.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.emulator import render  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402
from tests.signals import SR, click, dominant_hz, envelope, inst_hz, notch_track, sine  # noqa: E402

CLEAN = {"hi_freq_ratio": 1.0, "hi_pass_frequency_hz": "Thru", "lo_pass_frequency_hz": "Thru", "mix_pct": 100}
FLAT = {"lo_shelf_gain_db": 0.0, "hi_shelf_gain_db": 0.0}
RESULTS = REPO_DIR / "benchmarks" / "results"


def first_echo_ms(y: np.ndarray, start: int) -> float:
    return (int(np.argmax(np.abs(y))) - start) * 1000.0 / SR


def echo_timing() -> list:
    rows = []
    impulse = click(int(SR * 2.9))
    for time_ms in (1.0, 10.0, 123.4, 500.0, 1350.0, 2730.0):
        cases = [("Mono Delay", 0x0D, dict(delay_time_ms=time_ms, feedback_gain_pct=0), 0)]
        if time_ms <= 1350.0:
            cases += [("Stereo Delay L", 0x0E, dict(delay_time_l_ms=time_ms, feedback_gain_l_pct=0,
                                                    feedback_gain_r_pct=0), 0),
                      ("Stereo Delay R", 0x0E, dict(delay_time_r_ms=time_ms, feedback_gain_l_pct=0,
                                                    feedback_gain_r_pct=0), 1),
                      ("Echo L", 0x11, dict(delay_time_l_ms=time_ms, feedback_gain_l_pct=0, feedback_gain_r_pct=0,
                                            feedback_gain_l_r_pct=0, feedback_gain_r_l_pct=0), 0)]
        if time_ms <= 2725.0:
            cases.append(("Mod. Delay (depth 0)", 0x0F, dict(delay_time_ms=time_ms, feedback_gain_pct=0,
                                                              mod_depth_pct=0), 0))
        for name, type_id, values, ch in cases:
            p = Patch.init(type_id).with_values(**{**CLEAN, **values})
            y = render(p, impulse[: 100 + int(SR * (time_ms / 1000 + 0.05))], SR)[:, ch]
            rows.append({"type": name, "set_ms": time_ms, "error_ms": first_echo_ms(y, 100) - time_ms})
    return rows


def feedback_ratios() -> list:
    rows = []
    for fb in (-90, -50, 25, 60, 99):
        p = Patch.init(0x0D).with_values(delay_time_ms=100.0, feedback_gain_pct=fb, **CLEAN)
        y = render(p, click(int(SR * 0.7)), SR)[:, 0]
        echoes = y[[100 + k * 4800 for k in range(1, 6)]]
        ratios = echoes[1:] / echoes[:-1]
        rows.append({"feedback_pct": fb, "max_ratio_error_pct": float(np.max(np.abs(ratios / (fb / 100) - 1)) * 100)})
    return rows


def lfo_rates() -> list:
    rows = []
    rng = np.random.default_rng(7)
    for rate_hz in (0.25, 1.0, 3.0, 7.5):
        seconds = max(4.0, 8.0 / rate_hz)
        tone = sine(1000.0, seconds)
        for name, type_id, values in (
                ("Chorus", 0x12, dict(pm_depth_pct=100, am_depth_pct=0)),
                ("Flange", 0x13, dict(mod_depth_pct=100, feedback_gain_pct=0))):
            p = Patch.init(type_id).with_values(mod_frequency_hz=rate_hz, mod_delay_ms=5.0, mix_pct=100,
                                                eq_gain_db=0.0, **FLAT, **values)
            measured = dominant_hz(inst_hz(render(p, tone, SR)[:, 0]), SR)
            rows.append({"type": name, "set_hz": rate_hz, "error_pct": (measured / rate_hz - 1) * 100})
        p = Patch.init(0x17).with_values(mod_frequency_hz=rate_hz, mod_depth_pct=100, eq_gain_db=0.0, **FLAT)
        measured = dominant_hz(envelope(render(p, tone, SR)[:, 0]), SR / 48)
        rows.append({"type": "Tremolo", "set_hz": rate_hz, "error_pct": (measured / rate_hz - 1) * 100})
        if rate_hz <= 3.0:
            noise = rng.standard_normal(tone.size)
            p = Patch.init(0x15).with_values(mod_frequency_hz=rate_hz, mod_depth_pct=50, lowest_offset=30,
                                             feedback_gain_pct=0, shifter_stages=2, mix_pct=50, **FLAT)
            track, frame_rate_hz = notch_track(render(p, noise, SR)[:, 0], noise)
            measured = dominant_hz(np.log2(track), frame_rate_hz)
            rows.append({"type": "Phaser", "set_hz": rate_hz, "error_pct": (measured / rate_hz - 1) * 100})
    return rows


def main() -> None:
    result = {"sample_rate_hz": SR, "echo_timing": echo_timing(), "feedback": feedback_ratios(),
              "lfo_rate": lfo_rates()}
    worst_echo = max(abs(r["error_ms"]) for r in result["echo_timing"])
    worst_fb = max(r["max_ratio_error_pct"] for r in result["feedback"])
    worst_lfo = max(abs(r["error_pct"]) for r in result["lfo_rate"])
    result["summary"] = {"worst_echo_error_ms": worst_echo, "worst_feedback_ratio_error_pct": worst_fb,
                         "worst_lfo_rate_error_pct": worst_lfo}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "time_mod_accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Delay and LFO accuracy", "",
             f"Rendered at {SR} Hz; targets: echo within 1 ms, echo ratio within 10 %, LFO rate within 5 %.", "",
             f"* worst echo timing error: {worst_echo:.3f} ms over {len(result['echo_timing'])} cases",
             f"* worst feedback echo-ratio error: {worst_fb:.3f} %",
             f"* worst LFO rate error: {worst_lfo:.2f} % over {len(result['lfo_rate'])} cases", "",
             "| LFO | set Hz | error % |", "| --- | ---: | ---: |"]
    lines += [f"| {r['type']} | {r['set_hz']} | {r['error_pct']:+.2f} |" for r in result["lfo_rate"]]
    (RESULTS / "time_mod_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
