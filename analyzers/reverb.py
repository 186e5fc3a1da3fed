"""Reverb decay time (RT60) from the rig's impulse response.

The Schroeder integral of a deconvolved response is dominated by the
estimation noise that fills every late lag (a driven amp, a short or busy DI),
so it overstated decays 1.5-4x. Instead, the level of the response's diffuse
part (0.5-4 kHz, 10 ms frames, the direct sound's first 5 ms removed) is
fitted with a line from its peak down to 10 dB above the noise floor (the
median level of the last 15 % of a response long enough to hold only noise
there), iterating the end point as the fitted line meets the floor (after
Lundeby et al.). The RT60 is -60 dB over the slope. ``onset_ms`` (where the
level, after the direct sound's drop, first comes within 3 dB of the fitted
line) is a rough pre-delay: it is not validated (0 on most renders, whatever
their pre-delay).
"""

from __future__ import annotations

import numpy as np
import scipy.signal

FRAME_S = 0.01
BAND_HZ = (500.0, 4000.0)
DIRECT_S = 0.005
MIN_RANGE_DB = 15.0
NOISE_MARGIN_DB = 10.0
DRY_BIN_DB, DRY_PERCENTILE, DRY_MIN_FRAMES = 5.0, 5.0, 5


def _level_db(h: np.ndarray, sample_rate: int) -> np.ndarray:
    sos = scipy.signal.butter(4, BAND_HZ, "bandpass", fs=sample_rate, output="sos")
    x = scipy.signal.sosfiltfilt(sos, h)
    hop = int(FRAME_S * sample_rate)
    n = x.size // hop * hop
    power = (x[:n] ** 2).reshape(-1, hop).mean(axis=1)
    return 10 * np.log10(power + 1e-30)


def tail_excess_db(h: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """How far (dB) the tail of ``h`` (50-500 ms, against its first 5 ms) stands above the
    same measure of ``reference``, the DI deconvolved by itself: the method's own floor.

    A regularised deconvolution leaves a slowly decaying tail wherever the DI has
    little energy (measured: a 2-5 s "decay" 50-70 dB long on a static EQ), which
    the DI's self-response shares; a reverb lifts the tail above it.
    """
    def ratio_db(x):
        level = _level_db(x, sample_rate)
        direct = level[:int(np.ceil(DIRECT_S / FRAME_S))].max()
        return float(np.mean(level[int(0.05 / FRAME_S):int(0.5 / FRAME_S)]) - direct)
    return ratio_db(h) - ratio_db(reference)


def dry_level_db(target_db: np.ndarray, di_db: np.ndarray) -> np.ndarray:
    """The target's level (dB per frame) the DI's level ``di_db`` predicts without a reverb:
    per DRY_BIN_DB bin of DI level, a low percentile (DRY_PERCENTILE) of the target's
    level (a reverb only raises it), made non-decreasing in the DI's level. A driven amp
    compresses: a clean gain (the median target/DI ratio) predicts its sustain as a
    "tail" (11-18 s decays read on reverb-free renders)."""
    edges = np.arange(float(di_db.min()), float(di_db.max()) + DRY_BIN_DB, DRY_BIN_DB)
    which = np.clip(np.digitize(di_db, edges) - 1, 0, max(edges.size - 2, 0))
    centres, levels = [], []
    for k in range(max(edges.size - 1, 1)):
        sel = which == k
        if np.count_nonzero(sel) >= DRY_MIN_FRAMES:
            centres.append(edges[k] + 0.5 * DRY_BIN_DB)
            levels.append(float(np.percentile(target_db[sel], DRY_PERCENTILE)))
    if not centres:
        return target_db - np.inf
    return np.interp(di_db, centres, np.maximum.accumulate(levels))


def reverb_decay(h: np.ndarray, sample_rate: int) -> dict | None:
    """``{"decay_s", "onset_ms", "range_db", "noise_db"}`` of the diffuse tail of ``h``
    (lag 0 = the direct sound), or None when the tail spans less than 15 dB above the noise."""
    level = _level_db(h, sample_rate)
    first = int(np.ceil(DIRECT_S / FRAME_S))
    if level.size < first + 20:
        return None
    noise_db = float(np.median(level[-max(5, int(0.15 * level.size)):]))
    tail = level[first:]
    smooth = np.convolve(tail, np.ones(5) / 5, mode="same")
    peak = int(np.argmax(smooth[:max(1, int(0.5 / FRAME_S))]))
    if smooth[peak] - noise_db < MIN_RANGE_DB + NOISE_MARGIN_DB:
        return None
    end = peak + int(np.argmax(smooth[peak:] < noise_db + NOISE_MARGIN_DB))
    if end <= peak:
        end = smooth.size
    start, slope, icept = _fit_start(tail, peak, end)
    if slope is None:
        return None
    for _ in range(5):                                   # Lundeby-style: refit the end point
        cross = int(((noise_db + NOISE_MARGIN_DB - icept) / slope) / FRAME_S)
        new_end = int(np.clip(cross, start + 5, smooth.size))
        if abs(new_end - end) <= 1:
            break
        end = new_end
        slope, icept = np.polyfit(np.arange(start, end) * FRAME_S, tail[start:end], 1)
        if slope >= 0:
            return None
    line = icept + slope * np.arange(start + 1) * FRAME_S     # the tail's line, back to lag 0
    below = np.nonzero(smooth[:start + 1] < line - 3.0)[0]       # the gap after the direct sound
    onset = 0
    if below.size:
        gap = int(below[0])
        onset = gap + int(np.argmax(smooth[gap:start + 1] >= line[gap:] - 3.0))
    return {"decay_s": float(-60.0 / slope), "onset_ms": 1000.0 * onset * FRAME_S,
            "range_db": float(smooth[peak] - noise_db), "noise_db": noise_db}


def _fit_start(tail: np.ndarray, peak: int, end: int) -> tuple:
    """(first frame, slope dB/s, intercept) of the line fit to ``tail[start:end]``: the
    earliest start (peak, +20 ms ... +200 ms) whose residual is within 20 % of the best,
    so the direct sound's fast drop is left out but no decay is skipped."""
    fits = []
    for a in range(peak, min(peak + 21, end - 5), 2):
        t = np.arange(a, end) * FRAME_S
        slope, icept = np.polyfit(t, tail[a:end], 1)
        rms = float(np.sqrt(np.mean((tail[a:end] - (icept + slope * t)) ** 2)))
        fits.append((a, slope, icept, rms))
    if not fits:
        return peak, None, None
    best = min(f[3] for f in fits)
    a, slope, icept, _ = next(f for f in fits if f[3] <= 1.2 * best)
    return (a, slope, icept) if slope < 0 else (a, None, None)
