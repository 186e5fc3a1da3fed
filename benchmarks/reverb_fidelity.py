"""Measured reverb times of the emulated Reverb (0x09) against the patch's reverb time.

For each reverb time T (and each sample rate) the impulse response of a Reverb
patch (tail only, flat HF/LF ratios, no filters, 100 % wet) is rendered and its
RT60 measured by Schroeder backward integration with a line fit from -5 to
-25 dB (T20) and from -5 to -35 dB (T30). The HF and LF ratios are checked
band-wise (5-10 kHz and 60-120 Hz octave-ish bands, T = 2 s).

Usage::

    .venv/bin/python benchmarks/reverb_fidelity.py

Writes ``benchmarks/results/reverb_fidelity.json`` and ``.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

from magicstomp.emulator import render, to_mono  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402
from tests.signals import band, rt60_s  # noqa: E402

TIMES_S = (0.3, 0.5, 1.0, 2.0, 3.2, 5.0, 10.0, 20.0)
RATES_HZ = (44100, 48000, 96000)


def impulse_response(sample_rate, duration_s, **values) -> np.ndarray:
    base = dict(mix_pct=100, er_rev_balance_pct=0, hi_freq_ratio=1.0, lo_freq_ratio=1.0,
                lo_pass_frequency_hz="Thru", hi_pass_frequency_hz="Thru",
                initial_delay_ms=0.0, er_rev_delay_ms=0.0, gate_level_db="Off")
    base.update(values)
    x = np.zeros(int(duration_s * sample_rate))
    x[0] = 1.0
    return to_mono(render(Patch.init(0x09).with_values(**base), x, sample_rate))


def main() -> int:
    rows = []
    for rate in RATES_HZ:
        for time_s in TIMES_S:
            ir = impulse_response(rate, max(1.0, 0.8 * time_s), reverb_time_s=time_s)
            t20, t30 = rt60_s(ir, rate), rt60_s(ir, rate, stop_db=-35.0)
            rows.append({"rate_hz": rate, "reverb_time_s": time_s, "t20_s": round(t20, 3),
                         "t30_s": round(t30, 3),
                         "t20_error_pct": round(100 * (t20 / time_s - 1), 1),
                         "t30_error_pct": round(100 * (t30 / time_s - 1), 1)})
    bands = []
    for key, ratio, (lo, hi) in (("hi_freq_ratio", 0.3, (5000, 10000)),
                                 ("hi_freq_ratio", 0.6, (5000, 10000)),
                                 ("lo_freq_ratio", 0.3, (60, 120)),
                                 ("lo_freq_ratio", 2.0, (60, 120))):
        ir = impulse_response(44100, 4.0, reverb_time_s=2.0, **{key: ratio})
        measured = rt60_s(band(ir, lo, hi, 44100), 44100)
        bands.append({"parameter": key, "ratio": ratio, "band_hz": [lo, hi],
                      "expected_s": round(2.0 * ratio, 2), "measured_s": round(measured, 3)})
    out_dir = REPO_DIR / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reverb_fidelity.json").write_text(
        json.dumps({"rt60": rows, "band_decays": bands}, indent=2) + "\n")
    lines = ["# Reverb fidelity (Reverb 0x09)", "",
             "RT60 by Schroeder backward integration (T20: -5 to -25 dB, T30: -5 to -35 dB).", "",
             "| rate Hz | T s | T20 s | error | T30 s | error |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['rate_hz']} | {r['reverb_time_s']} | {r['t20_s']} | "
              f"{r['t20_error_pct']:+.1f} % | {r['t30_s']} | {r['t30_error_pct']:+.1f} % |"
              for r in rows]
    lines += ["", "Band-wise decay at T = 2 s (44.1 kHz):", "",
              "| parameter | ratio | band Hz | expected RT60 s | measured s |",
              "| --- | ---: | --- | ---: | ---: |"]
    lines += [f"| {b['parameter']} | {b['ratio']} | {b['band_hz'][0]}-{b['band_hz'][1]} | "
              f"{b['expected_s']} | {b['measured_s']} |" for b in bands]
    (out_dir / "reverb_fidelity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
