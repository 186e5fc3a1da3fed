"""Session plots (PNG, matplotlib's Agg canvas, no display needed).

    loss_figure(history, bypass_loss=None)        loss against take, best so far, bypass line
    spectra_figure(signals, sample_rate, correction=None)
                                                  long-term spectra (Welch), level-matched, on
                                                  the top 70 dB, over a difference panel
    mel_figure(signals, sample_rate)              mel spectrograms side by side, y axis in Hz

``signals`` is an ordered ``{label: samples}`` (target, initial take, optimized take).
"""

from __future__ import annotations

import numpy as np


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def loss_figure(history, *, bypass_loss=None):
    """Loss of every take, and the best loss so far, against the take number (0 = the
    starting patch); a dashed line at ``bypass_loss`` (the dry DI) when given."""
    fig = _figure(7, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    index = np.array([t.index for t in history])
    loss = np.array([t.loss for t in history], dtype=float)
    finite = np.where(np.isfinite(loss), loss, np.nan)
    ax.plot(index, finite, "o", ms=3, alpha=0.6, label="take")
    ax.plot(index, np.fmin.accumulate(np.nan_to_num(finite, nan=np.inf)), "-", lw=2,
            label="best so far")
    if bypass_loss is not None and np.isfinite(bypass_loss):
        ax.axhline(bypass_loss, ls="--", lw=1.2, color="0.4", label="bypass (dry DI)")
    ax.set_xlabel("take (0 = the starting patch)")
    ax.set_ylabel("loss")
    ax.set_title("Loss against take")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


#: the spectra panel shows this many dB under the highest plotted level
SPECTRA_RANGE_DB = 70.0
SPECTRA_HEADROOM_DB = 5.0
#: the difference panel is symmetric around 0 dB, at least this wide, at most MAX
DIFF_MIN_DB, DIFF_MAX_DB = 6.0, 24.0
#: fractional-octave smoothing of the difference curve (1/6 octave)
DIFF_SMOOTH_OCTAVES = 1.0 / 6.0
MEL_TICKS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000)


def spectrum_db_limits(curves_db) -> tuple:
    """(bottom, top) of the spectra axis: the top ``SPECTRA_RANGE_DB`` dB under the highest
    finite level plotted, plus ``SPECTRA_HEADROOM_DB`` above it."""
    top = max(float(np.nanmax(np.where(np.isfinite(c), c, np.nan))) for c in curves_db)
    return top - SPECTRA_RANGE_DB, top + SPECTRA_HEADROOM_DB


def difference_db_limits(curves_db) -> tuple:
    """(bottom, top) of the difference axis: symmetric, the largest |difference| rounded up
    to 3 dB, between ``DIFF_MIN_DB`` and ``DIFF_MAX_DB``."""
    finite = [np.abs(c[np.isfinite(c)]) for c in map(np.asarray, curves_db)]
    peak = max((float(c.max()) for c in finite if c.size), default=0.0)
    half = min(max(DIFF_MIN_DB, 3.0 * np.ceil(peak / 3.0)), DIFF_MAX_DB)
    return -half, half


def octave_smooth(freqs_hz, level_db, octaves: float = DIFF_SMOOTH_OCTAVES) -> np.ndarray:
    """Mean of ``level_db`` over +/- half ``octaves`` around each frequency (power-free,
    in dB: the difference curves are already level ratios)."""
    f = np.asarray(freqs_hz, dtype=float)
    v = np.asarray(level_db, dtype=float)
    lo, hi = f * 2 ** (-octaves / 2), f * 2 ** (octaves / 2)
    cum = np.concatenate([[0.0], np.cumsum(v)])
    i0, i1 = np.searchsorted(f, lo), np.searchsorted(f, hi, side="right")
    return (cum[i1] - cum[i0]) / np.maximum(i1 - i0, 1)


def _long_term_db(signals: dict, sample_rate: int) -> tuple:
    """Welch spectra in dB (20 Hz up), each level-matched to the first signal's RMS."""
    from scipy.signal import welch

    ref = _rms(np.asarray(next(iter(signals.values())), dtype=float))
    curves, freqs = {}, None
    for label, x in signals.items():
        x = np.asarray(x, dtype=float)
        gain = ref / _rms(x) if _rms(x) > 0 else 1.0
        freqs_hz, psd = welch(x * gain, fs=sample_rate, nperseg=min(4096, x.size))
        keep = freqs_hz >= 20.0
        freqs, curves[label] = freqs_hz[keep], 10 * np.log10(psd[keep] + 1e-20)
    return freqs, curves


def spectra_figure(signals: dict, sample_rate: int, *, correction=None):
    """Long-term spectra (level-matched to the first signal) on the top
    ``SPECTRA_RANGE_DB`` dB, and under them the difference first minus last signal
    (target minus optimized take, 1/6-octave smoothed, left out where both spectra are
    under the panel) with the residual-EQ
    correction curve ``correction = (freqs_hz, gain_db)`` when given."""
    freqs, curves = _long_term_db(signals, sample_rate)
    fig = _figure(7, 6)
    ax, diff_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for label, level_db in curves.items():
        ax.semilogx(freqs, level_db, label=label, lw=1.2)
    bottom, top = spectrum_db_limits(curves.values())
    ax.set_ylim(bottom, top)
    ax.set_ylabel("level (dB, level-matched)")
    ax.set_title("Long-term spectra")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left")
    labels = list(curves)
    first, last = curves[labels[0]], curves[labels[-1]]
    diff = octave_smooth(freqs, first - last)
    diff[np.maximum(first, last) < bottom] = np.nan   # both under the panel: noise, not tone
    drawn = [diff]
    diff_ax.semilogx(freqs, diff, lw=1.2, color="C3", label=f"{labels[0]} - {labels[-1]}")
    if correction is not None:
        c_freqs, c_gain = (np.asarray(v, dtype=float) for v in correction)
        diff_ax.semilogx(c_freqs, c_gain, "o-", ms=3, lw=1.2, color="C4",
                         label="residual-EQ correction (CSV/IR)")
        drawn.append(c_gain)
    diff_ax.axhline(0.0, color="0.4", lw=0.8)
    diff_ax.set_ylim(*difference_db_limits(drawn))
    diff_ax.set_xlabel("frequency (Hz)")
    diff_ax.set_ylabel("difference (dB)")
    diff_ax.grid(alpha=0.3, which="both")
    diff_ax.legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    return fig


def mel_ticks(n_mels: int, fmax_hz: float, ticks_hz=MEL_TICKS_HZ) -> tuple:
    """(positions, labels) placing ``ticks_hz`` on a mel image whose band i spans [i, i+1]."""
    import librosa

    centres_hz = librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=fmax_hz)[1:-1]
    shown = [f for f in ticks_hz if centres_hz[0] <= f <= fmax_hz]
    positions = np.interp(shown, centres_hz, np.arange(n_mels) + 0.5, right=float(n_mels))
    labels = [f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for f in shown]
    return positions, labels


def mel_figure(signals: dict, sample_rate: int):
    """Mel spectrograms (64 bands to 8 kHz, dB) side by side, level-matched to the first
    signal's RMS, on one colour scale; the y axis is labelled in Hz."""
    from analyzers.features import FMAX_HZ, MelFrontend

    front = MelFrontend(sample_rate)
    ref = _rms(np.asarray(next(iter(signals.values())), dtype=float))
    mels = {}
    for label, x in signals.items():
        x = np.asarray(x, dtype=float)
        gain = ref / _rms(x) if _rms(x) > 0 else 1.0
        mels[label] = 10 * np.log10(front.mel_power(x * gain) + 1e-10)
    top = max(float(m.max()) for m in mels.values())
    fig = _figure(3.6 * len(mels) + 1.0, 3.5)
    fig.subplots_adjust(left=0.08, right=0.89, bottom=0.16, top=0.9, wspace=0.18)
    duration_s = max(np.asarray(x).size for x in signals.values()) / float(sample_rate)
    for i, (label, mel) in enumerate(mels.items()):
        ax = fig.add_subplot(1, len(mels), i + 1)
        image = ax.imshow(mel, origin="lower", aspect="auto", vmin=top - 80, vmax=top,
                          extent=(0, duration_s, 0, mel.shape[0]), cmap="magma")
        positions, tick_labels = mel_ticks(mel.shape[0], min(FMAX_HZ, sample_rate / 2))
        ax.set_yticks(positions)
        ax.set_yticklabels(tick_labels if i == 0 else [])
        ax.set_title(label)
        ax.set_xlabel("time (s)")
        if i == 0:
            ax.set_ylabel("frequency (Hz, mel scale)")
    fig.colorbar(image, cax=fig.add_axes((0.91, 0.16, 0.015, 0.74)), label="dB")
    return fig
