"""Session plots (PNG, matplotlib's Agg canvas, no display needed).

    loss_figure(history)                          loss against take, best-so-far line
    spectra_figure(signals, sample_rate)          long-term spectra (Welch), level-matched
    mel_figure(signals, sample_rate)              mel spectrograms side by side

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


def loss_figure(history):
    """Loss of every take, and the best loss so far, against the take index."""
    fig = _figure(7, 3.5)
    ax = fig.add_subplot(1, 1, 1)
    index = np.array([t.index for t in history])
    loss = np.array([t.loss for t in history], dtype=float)
    finite = np.where(np.isfinite(loss), loss, np.nan)
    ax.plot(index, finite, "o", ms=3, alpha=0.6, label="take")
    ax.plot(index, np.fmin.accumulate(np.nan_to_num(finite, nan=np.inf)), "-", lw=2,
            label="best so far")
    ax.set_xlabel("take")
    ax.set_ylabel("loss")
    ax.set_title("Loss against take")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def spectra_figure(signals: dict, sample_rate: int):
    """Long-term average spectra in dB, each level-matched to the first signal's RMS."""
    from scipy.signal import welch

    fig = _figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    ref = _rms(np.asarray(next(iter(signals.values()))))
    for label, x in signals.items():
        x = np.asarray(x, dtype=float)
        gain = ref / _rms(x) if _rms(x) > 0 else 1.0
        freqs_hz, psd = welch(x * gain, fs=sample_rate, nperseg=min(4096, x.size))
        keep = freqs_hz >= 20.0
        ax.semilogx(freqs_hz[keep], 10 * np.log10(psd[keep] + 1e-20), label=label, lw=1.2)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("level (dB, level-matched)")
    ax.set_title("Long-term spectra")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def mel_figure(signals: dict, sample_rate: int):
    """Mel spectrograms (64 bands to 8 kHz, dB) side by side, level-matched to the first
    signal's RMS, on one colour scale."""
    from analyzers.features import MelFrontend

    front = MelFrontend(sample_rate)
    ref = _rms(np.asarray(next(iter(signals.values())), dtype=float))
    mels = {}
    for label, x in signals.items():
        x = np.asarray(x, dtype=float)
        gain = ref / _rms(x) if _rms(x) > 0 else 1.0
        mels[label] = 10 * np.log10(front.mel_power(x * gain) + 1e-10)
    top = max(float(m.max()) for m in mels.values())
    fig = _figure(3.6 * len(mels) + 1.0, 3.5)
    fig.subplots_adjust(left=0.07, right=0.89, bottom=0.16, top=0.9, wspace=0.18)
    duration_s = max(np.asarray(x).size for x in signals.values()) / float(sample_rate)
    for i, (label, mel) in enumerate(mels.items()):
        ax = fig.add_subplot(1, len(mels), i + 1)
        image = ax.imshow(mel, origin="lower", aspect="auto", vmin=top - 80, vmax=top,
                          extent=(0, duration_s, 0, mel.shape[0]), cmap="magma")
        ax.set_title(label)
        ax.set_xlabel("time (s)")
        if i == 0:
            ax.set_ylabel("mel band")
    fig.colorbar(image, cax=fig.add_axes((0.91, 0.16, 0.015, 0.74)), label="dB")
    return fig
