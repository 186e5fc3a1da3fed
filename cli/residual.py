"""The residual EQ in the session: its report section and its exports.

The residual-EQ stage itself (a fit onto the patch's EQ controls on the model,
one take, kept if lower) is :mod:`optimize.match_residual`.

:func:`export_residual` writes ``<s>_residual_eq.csv`` (``frequency_hz,gain_db``)
and ``<s>_correction_ir.wav`` (minimum-phase FIR) from the final full-length
take against the target, for a DAW.
"""

from __future__ import annotations

import numpy as np

from optimize.match_residual import describe_changes

CURVE_SUFFIX = "_residual_eq.csv"
IR_SUFFIX = "_correction_ir.wav"
IR_LENGTH = 2048


def report_lines(info: dict | None) -> list:
    """The ``Residual EQ`` section of the report (empty without a record)."""
    if info is None:
        return []
    from .report import fmt_loss

    lines = ["", "Residual EQ (long-term spectrum fitted onto the patch's EQ controls):"]
    if "residual_rms_db_before" in info:
        lines.append(f"  residual before: {info['residual_rms_db_before']:.2f} dB rms "
                     f"(60 Hz-12 kHz), predicted after: {info['residual_rms_db_predicted']:.2f}"
                     " dB rms")
    if info.get("skipped"):
        lines.append(f"  not fitted: {info['skipped']}")
    elif "loss_after" in info:
        lines.append(f"  changed: {describe_changes(info['changes'])}")
        lines.append(f"  loss before: {fmt_loss(info['loss_before'])}, after: "
                     f"{fmt_loss(info['loss_after'])} (take {info['take']}, "
                     f"{'kept' if info['kept'] else 'discarded: not lower'})")
    if info.get("exported"):
        lines.append(f"  what remains ({info['final_residual_rms_db']:.2f} dB rms, final take vs "
                     f"target) is exported as {info['exported']}")
    return lines


def export_residual(writer, target, take, sample_rate: int) -> dict:
    """Write the correction curve (CSV) and the correction IR (WAV) of ``take`` vs ``target``.

    Returns ``{"files": [...], "rms_db": residual rms in the fit range, "freqs_hz": centres,
    "gain_db": the exported (clipped, faded) correction curve}``.
    """
    from optimize.residual_eq import (FIT_RANGE_HZ, correction_ir, residual_curve,
                                      smooth_curve, write_correction_ir, write_curve_csv)

    freqs, diff = residual_curve(np.asarray(target), np.asarray(take), sample_rate)
    csv_path = writer.register(write_curve_csv(writer.path(CURVE_SUFFIX), freqs, diff))
    ir = correction_ir(freqs, diff, sample_rate, length=IR_LENGTH)
    ir_path = writer.register(write_correction_ir(writer.path(IR_SUFFIX), ir, sample_rate))
    band = (freqs >= FIT_RANGE_HZ[0]) & (freqs <= FIT_RANGE_HZ[1])
    rms_db = float(np.sqrt(np.mean(np.asarray(diff)[band] ** 2)))
    return {"files": [csv_path.name, ir_path.name], "rms_db": round(rms_db, 2),
            "freqs_hz": np.asarray(freqs), "gain_db": smooth_curve(freqs, diff)}
