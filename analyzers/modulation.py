"""Modulation (tremolo, chorus, flange, phaser) measured against the DI.

Two detectors, both on 10 ms frames where the DI plays:

* ``find_modulation``: the per-band level ratio target/DI (24 mel bands to
  6 kHz); the strongest peak of its spectrum between 0.2 and 12 Hz is the rate
  (zero-padded FFT, then a fine DTFT around the peak), the size of the swing the
  depth; in phase across bands (coherence > 0.7) = tremolo, else chorus;
* ``find_phase_modulation``: the complex transfer function Y X*/|X|^2 per STFT
  bin (60 Hz-3 kHz); a chorus moves the phase of the wet path, which band levels
  of a low-pitched DI barely show. A peak holding at least 15 % of the
  modulation power with a relative variation of 0.05-1.5 (echoes and reverb vary
  more, a dry signal less) is reported as a chorus.

``stable_modulation`` keeps a result only when both halves agree (±5 %).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

from .alignment import parabolic_offset

MOD_RANGE_HZ = (0.2, 12.0)
MOD_FRAME_S = 0.01
PHASE_FMAX_HZ = 3000.0
PHASE_MIN_FRACTION = 0.15
PHASE_VARIATION = (0.05, 1.5)


def _band_levels_db(x, sample_rate, n_fft):
    from .features import mel_filterbank
    hop = int(MOD_FRAME_S * sample_rate)
    f, t, z = scipy.signal.stft(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop,
                                boundary=None, padded=False)
    fb = mel_filterbank(sample_rate, n_fft, 24, 6000.0)
    return fb @ (np.abs(z) ** 2)


def find_modulation(target: np.ndarray, di: np.ndarray, sample_rate: int) -> dict | None:
    """Rate/depth/kind of a periodic level modulation of the target against the DI."""
    n_fft = 1 << int(np.ceil(np.log2(0.03 * sample_rate)))
    pt, pd = _band_levels_db(target, sample_rate, n_fft), _band_levels_db(di, sample_rate, n_fft)
    band_energy = pd.sum(axis=1)
    use = band_energy > 1e-4 * band_energy.max()
    pt, pd = pt[use], pd[use]
    frame_energy = pd.sum(axis=0)
    live = frame_energy > 1e-3 * frame_energy.max()
    if live.mean() < 0.3:
        return None
    ratio_db = 10 * np.log10((pt + 1e-12) / (pd + 1e-12))
    ratio_db = ratio_db - ratio_db[:, live].mean(axis=1, keepdims=True)
    ratio_db[:, ~live] = 0.0
    weights = np.sqrt(pd.mean(axis=1))
    rate = 1.0 / MOD_FRAME_S
    n = ratio_db.shape[1]
    window = np.hanning(n) * live
    weighted = ratio_db * window
    n_pad = scipy.fft.next_fast_len(8 * n)                  # coarse search: zero-padded FFT
    coarse = (weights[:, None] * np.abs(scipy.fft.rfft(weighted, n_pad, axis=1)) ** 2).sum(axis=0)
    grid = np.fft.rfftfreq(n_pad, 1.0 / rate)
    sel = (grid >= MOD_RANGE_HZ[0]) & (grid <= MOD_RANGE_HZ[1])
    if not sel.any():
        return None
    peak_hz = float(grid[sel][np.argmax(coarse[sel])])
    if not coarse[sel].max() > 8.0 * np.median(coarse[sel]):
        return None
    step = rate / n_pad                                     # fine search: DTFT around the peak
    freqs = np.arange(max(MOD_RANGE_HZ[0], peak_hz - 2 * step), peak_hz + 2 * step, step / 50)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(n) / rate, freqs))
    spectra = weighted @ basis                              # (bands, freqs)
    power = (weights[:, None] * np.abs(spectra) ** 2).sum(axis=0)
    i = int(np.argmax(power))
    f0 = float(freqs[i])
    magnitude = float((weights * np.abs(spectra[:, i])).sum())
    if magnitude <= 0:
        return None
    coherent = np.abs((weights * spectra[:, i]).sum()) / magnitude
    amp_db = float((weights * 2.0 * np.abs(spectra[:, i])).sum() / weights.sum()
                   / max(window.sum(), 1.0))
    swing_db = 2.0 * amp_db                                  # peak to peak
    if swing_db < 1.0:
        return None
    return {"rate_hz": f0, "depth": float(np.clip(1.0 - 10 ** (-swing_db / 20), 0.0, 1.0)),
            "prominence": float(coarse[sel].max() / np.median(coarse[sel])),
            "coherence": float(coherent), "swing_db": swing_db,
            "kind": "tremolo" if coherent > 0.7 else "chorus"}


def find_phase_modulation(target: np.ndarray, di: np.ndarray, sample_rate: int) -> dict | None:
    """Rate of a periodic change of the complex transfer function (a chorus), or None."""
    hop = int(MOD_FRAME_S * sample_rate)
    n_fft = 1 << int(np.ceil(np.log2(0.085 * sample_rate)))
    stft = dict(fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    _, _, spec_t = scipy.signal.stft(target, **stft)
    freqs, _, spec_d = scipy.signal.stft(di, **stft)
    band = (freqs >= 60.0) & (freqs <= PHASE_FMAX_HZ)
    spec_t, spec_d = spec_t[band], spec_d[band]
    power = np.abs(spec_d) ** 2
    live = (power > 1e-3 * power.max(axis=0, keepdims=True)) & (power > 1e-5 * power.max())
    frames = live.any(axis=0).sum()
    keep = live.sum(axis=1) > 0.3 * frames
    if keep.sum() < 3 or frames < 1.0 / MOD_FRAME_S:        # at least 1 s of playing
        return None
    live, weights = live[keep], power[keep].mean(axis=1)
    ratio = np.where(live, spec_t[keep] * np.conj(spec_d[keep]) / np.maximum(power[keep], 1e-30), 0)
    mean = ratio.sum(axis=1, keepdims=True) / live.sum(axis=1, keepdims=True)
    dev = np.where(live, ratio - mean, 0)
    variation = float(np.sqrt((weights * (np.abs(dev) ** 2).sum(axis=1) / live.sum(axis=1)).sum()
                              / max((weights * np.abs(mean[:, 0]) ** 2).sum(), 1e-30)))
    if not PHASE_VARIATION[0] <= variation <= PHASE_VARIATION[1]:
        return None
    n = dev.shape[1]
    n_pad = scipy.fft.next_fast_len(8 * n)
    spectrum = (weights[:, None] * np.abs(scipy.fft.fft(dev * np.hanning(n), n_pad, axis=1)) ** 2
                ).sum(axis=0)
    half = n_pad // 2
    folded = spectrum[:half] + np.r_[spectrum[0], spectrum[::-1][:half - 1]]   # +f and -f
    grid = np.arange(half) / (n_pad * MOD_FRAME_S)
    sel = np.nonzero((grid >= MOD_RANGE_HZ[0]) & (grid <= MOD_RANGE_HZ[1]))[0]
    k = int(sel[np.argmax(folded[sel])])
    fraction = float(folded[max(0, k - 8):k + 9].sum() / folded[sel].sum())
    if fraction < PHASE_MIN_FRACTION:
        return None
    rate_hz = float(grid[k] + parabolic_offset(folded, k) / (n_pad * MOD_FRAME_S))
    return {"rate_hz": rate_hz, "depth": float(np.clip(variation, 0.0, 1.0)), "coherence": None,
            "swing_db": None, "prominence": fraction, "kind": "chorus", "from": "phase"}


def stable_modulation(target, di, sample_rate):
    """A modulation found in the whole signal and, at the same rate (±5 %), in both
    halves, with at least 3 cycles per half: first from band levels (tremolo and
    strong combs), else from the complex transfer function (chorus)."""
    level = np.abs(di)
    live = np.nonzero(level > 10 ** (-50 / 20) * level.max())[0]
    target, di = target[live[0]:live[-1] + 1], di[live[0]:live[-1] + 1]   # where the DI plays
    for finder in (find_modulation, find_phase_modulation):
        found = _stable(finder, target, di, sample_rate)
        if found is not None:
            return found
    return None


def measured_modulation(target, di, sample_rate):
    """The analysis' modulation: :func:`stable_modulation` (band levels, then phase), else
    :func:`analyzers.lfo.stable_lfo` (per-bin transfer function: slow flangers and phasers
    on single notes, whose moving notches band levels average away), else
    :func:`analyzers.lfo_driven.find_driven_lfo` (the transfer with what the DI explains
    removed: a modulation section behind a driven amp). When the first two hear the same
    rate (±5 %), the kind, waveform and comb delay come from the per-bin analysis; a rate
    heard is brought down to the sub-multiple the bins swing at steadily, if any."""
    from .lfo_driven import find_driven_lfo, lowest_multiple
    found = _first_two(target, di, sample_rate)
    if found is None:
        return find_driven_lfo(target, di, sample_rate)
    rate_hz = lowest_multiple(target, di, sample_rate, found["rate_hz"])
    return found if rate_hz == found["rate_hz"] else {**found, "rate_hz": rate_hz}


def _first_two(target, di, sample_rate):
    from .lfo import stable_lfo
    found = stable_modulation(target, di, sample_rate)
    lfo = stable_lfo(target, di, sample_rate)
    if found is None:
        return lfo
    if lfo is not None and any(abs(m * lfo["rate_hz"] - found["rate_hz"]) <= 0.05 * found["rate_hz"]
                               for m in (2, 3, 4, 5)):
        return lfo                      # band levels heard a harmonic of the sweep
    if lfo is not None and abs(lfo["rate_hz"] - found["rate_hz"]) <= 0.05 * found["rate_hz"]:
        found = {**found, "kind": lfo["kind"], "waveform": lfo.get("waveform"),
                 "comb_delay_ms": lfo.get("comb_delay_ms")}
    return found


def _stable(finder, target, di, sample_rate):
    whole = finder(target, di, sample_rate)
    if whole is None:
        return None
    half = target.size // 2
    if whole["rate_hz"] * half / sample_rate < 3.0:
        return None
    for part in (slice(0, half), slice(half, None)):
        found = finder(target[part], di[part], sample_rate)
        if found is None or abs(found["rate_hz"] - whole["rate_hz"]) > 0.05 * whole["rate_hz"]:
            return None
    return whole
