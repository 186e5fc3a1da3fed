"""An LFO heard through the DI-to-target transfer when an amp or a drive precedes it.

Behind a driven amp (the Amp and Distortion Multis' modulation section) the
level of the transfer ``H(f, t) = T D* / |D|^2`` in one STFT bin also follows
the playing: the amp compresses a loud attack more than a decaying tail, a
single decaying note drifts over seconds and its beating partials swing other
bins. These follow the DI, so they are regressed out, bin by bin, on the DI's
own level (broadband, its 0.3 s mean and slope, the bin's own, the DI's 8
strongest level movements across bins) and a slow trend. What is left of a
static patch is unstructured; an LFO still moves the bins at one rate.

``find_driven_lfo`` tries the strongest peaks (5x over the median, within 4x of
the top one) of the summed power spectrum of the bins' residual levels, at
least two cycles per half, and keeps the first that

* swings steadily: the **phase lock** ``sum_b w_b |sum_k A_bk| / sum_b w_b sum_k |A_bk|``
  of each bin's swing ``A_bk`` at the rate in the four quarters ``k`` of the take
  is >= 0.75 (1 for a steady LFO, about 0.45 for noise);
* is not heard elsewhere: the DI's own level spectrum (the playing's rhythm, which
  an echo or a reverb re-plays) stays under 2x the peak there, and a tanh drive of
  the DI (what a static amp would make of this playing) under max(4, 0.1x) of it.

A comb sweeping across a note's harmonics passes a bin several times per cycle,
so the rate is brought down to the lowest sub-multiple (/2../6) holding 20 % of
the power with a lock >= 0.8 and not in the rhythm (:func:`lowest_multiple`
does the same for a rate another detector heard).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

from .lfo import FRAME_S, band_frames   # frames shared with the level-ratio detector
RATE_RANGE_HZ = (0.3, 12.0)
SMOOTH_S = 0.3
MIN_CYCLES_PER_HALF = 2.0
MIN_PROMINENCE = 5.0        # the peak over the median of the rate spectrum
MIN_LOCK = 0.75             # phase lock over 4 parts of the take (about 0.45 for noise)
LOCK_SEGMENTS = 4
MAX_NUISANCE_SHARE = 0.1    # a static drive's swing at the rate, against the target's,
MAX_NUISANCE = 4.0          # and over the median of its own spectrum (noise: 1-3)
NUISANCE_GAINS = (3.0, 30.0)
MAX_RHYTHM_SHARE = 2.0      # the DI's own level swing at the rate, against the target's
SUB_SHARE, SUB_LOCK = 0.2, 0.8
HEARD_SUB_LOCK = 0.75       # under a rate another detector heard
CANDIDATES = 6               # the strongest peaks tried, down to a quarter of the top one
CANDIDATE_SHARE = 0.25
DI_COMPONENTS = 8


def residual_levels(target, di, sample_rate):
    """(level of H in dB per bin x frame with the DI-driven part removed, valid mask, weights)."""
    _, zt, _, pd, valid = band_frames(target, di, sample_rate)
    floor = 1e-6 * pd.max()
    level = 10 * np.log10(np.abs(zt) ** 2 + 1e-12 * np.abs(zt).max() ** 2 + 1e-30) \
        - 10 * np.log10(pd + floor)
    di_db = 10 * np.log10(pd + floor)
    basis = np.column_stack([_di_basis(pd), _di_components(di_db, valid, pd)])
    for i in range(level.shape[0]):
        v = valid[i]
        if v.sum() > 2 * basis.shape[1] + 2:
            b = np.column_stack([basis, di_db[i]])
            coef, *_ = np.linalg.lstsq(b[v], level[i, v], rcond=None)
            level[i] -= b @ coef
    level = np.where(valid, level, 0.0)
    weight = (pd * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    return level, valid, weight / max(float(weight.max()), 1e-30)


def _di_basis(pd):
    """Regressors per frame: constant, slow trend, the DI's level, its 0.3 s mean and slope."""
    n = pd.shape[1]
    t = np.linspace(-1.0, 1.0, n)
    total = 10 * np.log10(pd.sum(axis=0) + 1e-30)
    total = np.maximum(total, total.max() - 60.0) - total.max()
    k = max(1, int(SMOOTH_S / FRAME_S))
    smooth = np.convolve(np.pad(total, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), "same")[k:-k]
    return np.stack([np.ones(n), t, t ** 2, total, smooth, np.gradient(smooth)], axis=1)


def _di_components(di_db, valid, pd, count=DI_COMPONENTS):
    """The DI's own strongest level movements across bins (principal components over frames):
    beats between a note's partials, which a driven amp turns into level swings of other bins."""
    use = valid.mean(axis=1) > 0.2
    if use.sum() < 2:
        return np.zeros((di_db.shape[1], 0))
    x = np.where(valid[use], di_db[use], np.nan)
    x = np.nan_to_num(x - np.nanmean(x, axis=1, keepdims=True))
    x = x * np.sqrt(pd[use].mean(axis=1) / pd[use].mean(axis=1).max())[:, None]
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt[:count].T


def _bin_spectra(level, n_pad):
    """Each bin's level spectrum (Hann window), zero-padded to ``n_pad``."""
    return scipy.fft.rfft(level * np.hanning(level.shape[1]), n_pad, axis=1)


def _fine_rate(level, weight, rate_hz, step_hz):
    """DTFT of the bins' levels on a fine grid around ``rate_hz``: the strongest rate."""
    n = level.shape[1]
    freqs = np.arange(max(RATE_RANGE_HZ[0], rate_hz - 2 * step_hz), rate_hz + 2 * step_hz, step_hz / 40)
    x = level * np.hanning(n) * np.sqrt(weight)[:, None]
    spectra = x @ np.exp(-2j * np.pi * np.outer(np.arange(n) * FRAME_S, freqs))
    return float(freqs[int(np.argmax((np.abs(spectra) ** 2).sum(axis=0)))])


def _spectrum(target, di, sample_rate):
    """(levels, weights, rate grid, power normalised to its median over the rate range, range)."""
    level, valid, weight = residual_levels(target, di, sample_rate)
    n = level.shape[1]
    use = valid.sum(axis=1) > 0.2 * max(valid.any(axis=0).sum(), 1)
    level, weight = level[use], weight[use]
    n_pad = scipy.fft.next_fast_len(8 * n)
    grid = np.fft.rfftfreq(n_pad, FRAME_S)
    power = (weight[:, None] * np.abs(_bin_spectra(level, n_pad)) ** 2).sum(axis=0)
    lowest = max(RATE_RANGE_HZ[0], MIN_CYCLES_PER_HALF / (0.5 * n * FRAME_S))
    sel = np.nonzero((grid >= lowest) & (grid <= RATE_RANGE_HZ[1]))[0]
    return level, weight, grid, power / max(float(np.median(power[sel])), 1e-30), sel


def phase_lock(level, weight, rate_hz, segments=LOCK_SEGMENTS):
    """How steadily each bin swings at ``rate_hz`` across ``segments`` parts of the take:
    |sum of the parts' phasors| / sum of their sizes, weighted over bins (1 = a steady LFO)."""
    n = level.shape[1]
    seg = n // segments
    phasor = np.exp(-2j * np.pi * rate_hz * np.arange(seg * segments) * FRAME_S)
    parts = (level[:, :seg * segments] * phasor).reshape(level.shape[0], segments, seg)
    a = (parts * np.hanning(seg)).sum(axis=2)
    return float((weight * np.abs(a.sum(axis=1))).sum()
                 / max(float((weight * np.abs(a).sum(axis=1)).sum()), 1e-30))


def _nuisance(di, sample_rate):
    """The rate spectrum a static drive would give with this playing (tanh at two gains)."""
    x = di / max(float(np.max(np.abs(di))), 1e-30)
    return np.max([_spectrum(np.tanh(g * x), di, sample_rate)[3] for g in NUISANCE_GAINS], axis=0)


def _rhythm(di, sample_rate, n_pad, sel):
    """The rate spectrum of the DI's own level (dB, floored 60 dB down, slow trend removed),
    over its median: the playing's rhythm, which an echo or a reverb turns into swings."""
    hop = int(FRAME_S * sample_rate)
    frames = di[:di.size // hop * hop].reshape(-1, hop)
    level = 10 * np.log10(np.sum(frames ** 2, axis=1) + 1e-30)
    level = np.maximum(level, level.max() - 60.0)
    t = np.linspace(-1.0, 1.0, level.size)
    level = level - np.polyval(np.polyfit(t, level, 2), t)
    power = np.abs(scipy.fft.rfft(level * np.hanning(level.size), n_pad)) ** 2
    return power / max(float(np.median(power[sel])), 1e-30)


def _at(power, grid, rate_hz, tolerance=0.03):
    near = np.abs(grid - rate_hz) <= tolerance * rate_hz + (grid[1] - grid[0])
    return float(power[near].max()) if near.any() else 0.0


def _fundamental(level, weight, grid, power, rate_hz, lowest_hz, heard_elsewhere, min_lock=SUB_LOCK):
    """The lowest sub-multiple of ``rate_hz`` that holds power, swings steadily and is not
    ``heard_elsewhere`` (a static drive or the rhythm): a comb sweeping across a note's
    harmonics passes a bin several times per LFO cycle."""
    for m in (6, 5, 4, 3, 2):
        f0 = rate_hz / m
        if f0 < lowest_hz or _at(power, grid, f0) < SUB_SHARE * _at(power, grid, rate_hz):
            continue
        f0 = _fine_rate(level, weight, f0, float(grid[1] - grid[0]))
        if phase_lock(level, weight, f0) >= min_lock and not heard_elsewhere(f0, drive=False):
            return f0
    return rate_hz


class _HeardElsewhere:
    """Would the playing's rhythm through an echo or, with ``drive``, a static drive of the
    DI swing at this rate as much? Spectra computed on first use. A sub-multiple of a clean
    rate is checked against the rhythm only: a single note's partials beat where a slow
    sweep's fundamental also lies."""

    def __init__(self, di, sample_rate, grid, power, sel):
        self.di, self.sample_rate, self.grid, self.power, self.sel = di, sample_rate, grid, power, sel
        self.spectra = []

    def __call__(self, rate_hz, drive=True):
        if not self.spectra:
            self.spectra = [(_rhythm(self.di, self.sample_rate, 2 * (self.grid.size - 1), self.sel),
                             MAX_RHYTHM_SHARE, 0.0),
                            (_nuisance(self.di, self.sample_rate), MAX_NUISANCE_SHARE, MAX_NUISANCE)]
        own = _at(self.power, self.grid, rate_hz)
        return any(_at(n, self.grid, rate_hz) > max(floor, share * own)
                   for n, share, floor in self.spectra[:2 if drive else 1])


def find_driven_lfo(target: np.ndarray, di: np.ndarray, sample_rate: int) -> dict | None:
    """Rate (Hz) of an LFO moving the transfer DI -> target steadily over the take, or None."""
    if target.size < 4.0 * sample_rate:
        return None
    level, weight, grid, power, sel = _spectrum(target, di, sample_rate)
    if level.shape[0] < 8 or sel.size < 3:
        return None
    peaks, _ = scipy.signal.find_peaks(power[sel], height=MIN_PROMINENCE)
    if not peaks.size:
        return None
    peaks = sel[peaks[np.argsort(power[sel][peaks])[::-1][:CANDIDATES]]]
    heard_elsewhere = _HeardElsewhere(di, sample_rate, grid, power, sel)
    for k in peaks[power[peaks] >= CANDIDATE_SHARE * power[peaks].max()]:
        rate_hz = _fine_rate(level, weight, float(grid[k]), float(grid[1] - grid[0]))
        lock = phase_lock(level, weight, rate_hz)
        if lock < MIN_LOCK or heard_elsewhere(rate_hz):
            continue
        rate_hz = _fundamental(level, weight, grid, power, rate_hz, float(grid[sel[0]]), heard_elsewhere)
        return {"rate_hz": rate_hz, "lock": lock, "prominence": float(power[k]),
                "from": "driven transfer", **_kind(level, weight, rate_hz, target, di, sample_rate)}
    return None


def lowest_multiple(target, di, sample_rate, rate_hz):
    """``rate_hz`` or the sub-multiple of it that the bins swing at steadily (the LFO under a
    harmonic another detector heard: a phaser's notches pass a harmonic 2-5 times a cycle)."""
    level, weight, grid, power, sel = _spectrum(target, di, sample_rate)
    if level.shape[0] < 2 or sel.size < 3:
        return rate_hz
    return _fundamental(level, weight, grid, power, rate_hz, float(grid[sel[0]]), lambda f, drive: False,
                        HEARD_SUB_LOCK)


def _kind(level, weight, rate_hz, target, di, sample_rate):
    """Tremolo when the bins swing in phase; else a comb (flange 0.2-6 ms, chorus 6-35 ms)
    or none (phaser), from the cepstrum of the transfer (:func:`analyzers.lfo._comb_delay_ms`)."""
    from .lfo import FLANGER_MS, TREMOLO_COHERENCE, _comb_delay_ms, _levels
    n = level.shape[1]
    a = (level * np.hanning(n)) @ np.exp(-2j * np.pi * rate_hz * np.arange(n) * FRAME_S)
    w = np.sqrt(weight)
    coherence = float(np.abs((w * a).sum()) / max(float((w * np.abs(a)).sum()), 1e-30))
    swing_db = 4.0 * float((w * np.abs(a)).sum() / max(float(w.sum()), 1e-30)) / np.hanning(n).sum()
    out = {"coherence": coherence, "swing_db": swing_db, "waveform": None, "comb_delay_ms": None,
           "depth": float(np.clip(1 - 10 ** (-swing_db / 20), 0, 1))}     # peak to peak, as lfo.py
    if coherence > TREMOLO_COHERENCE:
        return {**out, "kind": "tremolo"}
    _, valid, f, h, _ = _levels(target, di, sample_rate)
    comb = _comb_delay_ms(h, f, valid, sample_rate)
    kind = "phaser" if comb is None else ("flange" if comb[0] < FLANGER_MS[1] else "chorus")
    return {**out, "kind": kind, "comb_delay_ms": comb}
