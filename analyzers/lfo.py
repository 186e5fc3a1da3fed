"""LFO rate, depth, waveform and kind from the time-varying transfer function target/DI.

Any LFO effect makes the rig's transfer function ``H(f, t)`` periodic in time:
a tremolo moves every frequency's level together; a flanger or chorus sweeps a
comb of notches (equally spaced, ``1 / delay`` apart) and a phaser a few
all-pass notches, so each frequency bin's level rises and falls once (or
twice) per LFO cycle, with a phase that changes across frequency. Band levels
(24 mel bands) average the moving notches away; single STFT bins do not.

``find_lfo``:

1. ``H = T D* / (|D|^2 + eps)`` per STFT bin (46 ms windows, 10 ms hop, 60 Hz-6 kHz),
   level in dB where the DI has energy, minus each bin's mean;
2. the power spectrum of each bin's level over time, summed over bins: the
   LFO is its strongest peak between 0.2 and 12 Hz (a sweep's second harmonic
   is folded back when the half rate holds 30 % of its power), refined by a
   DTFT on a fine grid;
3. **kind**: tremolo when the bins move in phase (coherence across bins > 0.7);
   else, from the cepstrum of ``log|H|`` along frequency, frame by frame: a comb
   delay of 0.2-6 ms is a flanger, 6-35 ms a chorus (its swing gives the sweep
   range in ms), and no comb a phaser;
4. **waveform** (tremolo): the 3rd harmonic of the level swing against the 1st
   (sine ~0, triangle 1/9, square 1/3);
5. **depth**: the level swing (peak to peak, dB) and, for combs, the delay sweep.

``None`` means no modulation: no peak 10x over the median of the spectrum, or
the two halves disagree (see :func:`stable_lfo`).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

from .alignment import parabolic_offset

FRAME_S = 0.01
BAND_HZ = (60.0, 6000.0)
RATE_RANGE_HZ = (0.2, 12.0)
MIN_PROMINENCE = 10.0
MIN_SWING_DB = 0.8
TREMOLO_COHERENCE = 0.7
FLANGER_MS, CHORUS_MS = (0.2, 6.0), (6.0, 35.0)
MIN_CYCLES = 2.0
HALF_RATE_SHARE = 0.3         # a notch passing a bin twice per cycle puts most power at 2x


def band_frames(target, di, sample_rate):
    """(bin Hz, target STFT, DI STFT, DI power, valid mask): bins within BAND_HZ x frames of
    FRAME_S; a bin is valid where the DI has power (within 30 dB of the frame's loudest bin
    and 60 dB of the whole's)."""
    hop = int(FRAME_S * sample_rate)
    n_fft = 1 << int(np.ceil(np.log2(0.046 * sample_rate)))
    kw = dict(fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    f, _, zt = scipy.signal.stft(target, **kw)
    _, _, zd = scipy.signal.stft(di, **kw)
    band = (f >= BAND_HZ[0]) & (f <= BAND_HZ[1])
    zt, zd, f = zt[band], zd[band], f[band]
    pd = np.abs(zd) ** 2
    valid = (pd > 1e-3 * pd.max(axis=0, keepdims=True)) & (pd > 1e-6 * pd.max())
    return f, zt, zd, pd, valid


def _levels(target, di, sample_rate):
    """(level in dB minus each bin's mean, valid mask, bin Hz): bins x frames."""
    f, zt, zd, pd, valid = band_frames(target, di, sample_rate)
    h = zt * np.conj(zd) / (pd + 1e-6 * pd.max())
    level = 10 * np.log10(np.abs(h) ** 2 + 1e-12)
    t = np.linspace(-1.0, 1.0, level.shape[1])
    basis = np.stack([np.ones_like(t), t, t ** 2], axis=1)          # a slow drift (a decaying
    for i in range(level.shape[0]):                                 # note through a driven amp)
        v = valid[i]                                                # is not an LFO
        if v.sum() > 3:
            coef, *_ = np.linalg.lstsq(basis[v], level[i, v], rcond=None)
            level[i] = level[i] - basis @ coef
    level = np.where(valid, level, 0.0)
    weight = np.sqrt((pd * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1))
    return level, valid, f, h, weight / max(float(weight.max()), 1e-30)


def _spectrum(level, valid, weight):
    """(rate grid Hz, summed power, windowed weighted levels per bin, bins used)."""
    n = level.shape[1]
    window = np.hanning(n)
    use = valid.sum(axis=1) > 0.3 * max(valid.any(axis=0).sum(), 1)
    x = level[use] * window * np.sqrt(weight[use])[:, None]
    n_pad = scipy.fft.next_fast_len(8 * n)
    spec = scipy.fft.rfft(x, n_pad, axis=1)
    grid = np.fft.rfftfreq(n_pad, FRAME_S)
    return grid, (np.abs(spec) ** 2).sum(axis=0), x, use


def _fine_rate(x, peak_hz, step):
    """DTFT of the bin levels around ``peak_hz``: (rate, complex value per bin at the rate)."""
    n = x.shape[1]
    freqs = np.arange(max(RATE_RANGE_HZ[0], peak_hz - 2 * step), peak_hz + 2 * step, step / 40)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(n) * FRAME_S, freqs))
    spectra = x @ basis
    i = int(np.argmax((np.abs(spectra) ** 2).sum(axis=0)))
    return float(freqs[i]), spectra[:, i]


def _comb_delay_ms(h, f, valid, sample_rate):
    """Median and 10-90 % range (ms) of the comb delay over frames, or None (no comb)."""
    df = f[1] - f[0]
    logmag = np.log(np.abs(h) + 1e-9)
    frames = np.nonzero(valid.mean(axis=0) > 0.1)[0]
    if frames.size < 10:
        return None
    v = valid[:, frames]
    lm = logmag[:, frames]
    mean = (lm * v).sum(axis=0) / np.maximum(v.sum(axis=0), 1)
    lm = np.where(v, lm - mean, 0.0)                  # bins the DI does not excite count as flat
    ceps = np.abs(np.fft.rfft(lm, axis=0))
    q_ms = 1000.0 * np.fft.rfftfreq(logmag.shape[0], df)
    sel = (q_ms >= FLANGER_MS[0]) & (q_ms <= CHORUS_MS[1])
    if sel.sum() < 3:
        return None
    c = ceps[sel]
    peak = c.argmax(axis=0)
    prominence = c.max(axis=0) / np.maximum(np.median(c, axis=0), 1e-12)
    good = prominence > 4.0
    if good.mean() < 0.5:
        return None
    delays = q_ms[sel][peak[good]]
    return float(np.median(delays)), float(np.percentile(delays, 10)), float(np.percentile(delays, 90))


def _fundamental(grid, power, k, median) -> int:
    """The lowest sub-multiple rate (1/5 .. 1/2 of ``grid[k]``) holding HALF_RATE_SHARE of the
    peak's power: a notch sweeping across a note's harmonic passes it several times a cycle."""
    for m in (5, 4, 3, 2):
        if grid[k] / m < RATE_RANGE_HZ[0]:
            continue
        c = int(np.argmin(np.abs(grid - grid[k] / m)))
        lo, hi = max(0, c - 3), c + 4
        j = lo + int(np.argmax(power[lo:hi]))
        if power[j] >= HALF_RATE_SHARE * power[k] and power[j] / median >= MIN_PROMINENCE:
            return j
    return k


def find_lfo(target: np.ndarray, di: np.ndarray, sample_rate: int) -> dict | None:
    """Rate (Hz), depth, waveform and kind of an LFO effect on the target, or None."""
    level, valid, f, h, weight = _levels(target, di, sample_rate)
    if level.shape[1] < 2 / FRAME_S or valid.any(axis=0).mean() < 0.3:
        return None
    grid, power, x, use = _spectrum(level, valid, weight)
    sel = (grid >= RATE_RANGE_HZ[0]) & (grid <= RATE_RANGE_HZ[1])
    if not sel.any() or x.shape[0] < 3:
        return None
    idx = np.nonzero(sel)[0]
    k = int(idx[np.argmax(power[idx])])
    prominence = float(power[k] / np.median(power[idx]))
    if prominence < MIN_PROMINENCE:
        return None
    k = _fundamental(grid, power, k, float(np.median(power[idx])))
    step = grid[1] - grid[0]
    rate_hz, at_rate = _fine_rate(x, float(grid[k] + parabolic_offset(power, k) * step), step)
    n_live = max(float(np.hanning(x.shape[1]).sum()), 1.0)
    w = np.sqrt(weight[use])
    amp_db = 2.0 * float(np.sum(np.abs(at_rate) * w) / max(np.sum(w ** 2), 1e-30)) / n_live
    swing_db = 2.0 * amp_db
    if swing_db < MIN_SWING_DB or rate_hz * level.shape[1] * FRAME_S < 0.75 * MIN_CYCLES:
        return None
    weights = np.abs(at_rate)
    coherence = float(np.abs(at_rate.sum()) / max(weights.sum(), 1e-30))
    out = {"rate_hz": rate_hz, "swing_db": float(swing_db), "prominence": prominence,
           "coherence": coherence, "depth": float(np.clip(1 - 10 ** (-swing_db / 20), 0, 1)),
           "waveform": None, "comb_delay_ms": None, "from": "transfer function"}
    if coherence > TREMOLO_COHERENCE:
        _, third = _fine_rate(x, 3 * rate_hz, step)
        ratio = float(np.sqrt(np.mean(np.abs(third) ** 2) / max(np.mean(np.abs(at_rate) ** 2), 1e-30)))
        out.update(kind="tremolo", harmonic3_ratio=ratio,
                   waveform="Sine" if ratio < 0.06 else ("Triangle" if ratio < 0.2 else "Square"))
        return out
    comb = _comb_delay_ms(h, f, valid, sample_rate)
    if comb is None:
        out["kind"] = "phaser"
    else:
        out.update(kind="flange" if comb[0] < FLANGER_MS[1] else "chorus", comb_delay_ms=comb)
    return out


def stable_lfo(target: np.ndarray, di: np.ndarray, sample_rate: int) -> dict | None:
    """``find_lfo`` on the whole signal, confirmed in both halves (±5 %, ±15 % with
    1.5-3 cycles per half, a sweep's 2nd harmonic accepted); fewer than 1.5 cycles
    per half is taken for a drift (a decaying note through a driven amp), not an LFO."""
    whole = find_lfo(target, di, sample_rate)
    if whole is None:
        return None
    half = target.size // 2
    if whole["rate_hz"] * half / sample_rate < 0.75 * MIN_CYCLES:     # a drift, not an LFO
        return None
    cycles = whole["rate_hz"] * half / sample_rate
    tolerance = 0.05 if cycles >= 3 else 0.15         # 2-3 cycles resolve a rate coarsely
    for part in (slice(0, half), slice(half, None)):
        found = find_lfo(target[part], di[part], sample_rate)
        if found is None or min(abs(found["rate_hz"] / m - whole["rate_hz"]) for m in (1, 2)
                                ) > tolerance * whole["rate_hz"]:     # or its sweep's 2nd harmonic
            return None
    return whole
