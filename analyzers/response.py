"""The target's linear response to the DI: a regularised deconvolution (used by the
analysis' delay, echo and reverb measurements)."""

from __future__ import annotations

import numpy as np
import scipy.fft

IR_SECONDS = 3.0
REG = 0.01                    # Tikhonov term, relative to the DI's mean power


def impulse_response(target: np.ndarray, di: np.ndarray, sample_rate: int, *,
                     seconds: float = IR_SECONDS) -> np.ndarray:
    """Regularised deconvolution of ``target`` by ``di`` (aligned, same rate): h[0..seconds)."""
    n = scipy.fft.next_fast_len(target.size + di.size)
    spec_d = scipy.fft.rfft(di, n)
    power = np.abs(spec_d) ** 2
    h = scipy.fft.irfft(scipy.fft.rfft(target, n) * np.conj(spec_d) / (power + REG * power.mean()), n)
    return h[:int(seconds * sample_rate)]
