"""Residual EQ after the knob search, in the manner of Fractal's Tone Match.

After the search, what is left between the target and the best take is mostly a
long-term spectral difference. This module

1. measures it: the level-matched long-term spectrum of target minus take, in
   dB on a third-octave grid (:func:`residual_curve`);
2. fits it onto the patch's own EQ controls where the type has them (tone
   stack knobs of the Amp Multi types, post-EQ band gains of the Distortion
   Multi types, band gains of the EQ types): one take per control measures how
   it moves the spectrum, a regularized least-squares step sets them, and a
   last take checks the result (:func:`fit_eq_controls`, 2 rounds by default);
3. exports what remains as a correction curve (CSV: ``frequency_hz,gain_db``)
   and a minimum-phase correction impulse response (WAV) for a DAW
   (:func:`write_curve_csv`, :func:`correction_ir`, :func:`write_correction_ir`).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from magicstomp.errors import AudioInputError, ParameterError

from .constraints import ParameterSpace
from .objective import MatchLoss

log = logging.getLogger(__name__)

MAX_CORRECTION_DB = 12.0
FIT_RANGE_HZ = (60.0, 12000.0)
#: the correction curve fades from full to 0 dB over this many octaves inside FIT_RANGE_HZ
FADE_OCTAVES = 0.5


@dataclass
class ResidualEQResult:
    """Outcome of :func:`fit_eq_controls`."""

    patch: object                  # the patch with the fitted EQ controls (or the input patch)
    freqs_hz: np.ndarray           # third-octave centres
    before_db: np.ndarray          # residual (target - take) before the fit
    after_db: np.ndarray           # residual after the fit: the correction curve to export
    changes: dict = field(default_factory=dict)   # key -> (old, new) physical values
    takes: int = 0

    @property
    def before_rms_db(self) -> float:
        return _band_rms(self.freqs_hz, self.before_db)

    @property
    def after_rms_db(self) -> float:
        return _band_rms(self.freqs_hz, self.after_db)


def _band_rms(freqs_hz, curve_db) -> float:
    band = (freqs_hz >= FIT_RANGE_HZ[0]) & (freqs_hz <= FIT_RANGE_HZ[1])
    return float(np.sqrt(np.mean(np.asarray(curve_db)[band] ** 2)))


def eq_keys(type_ref) -> tuple:
    """The EQ controls of an effect type that the residual EQ may set (may be empty)."""
    from magicstomp.effects import effect_type
    t = effect_type(type_ref)
    return tuple(p.key for p in t.params if p.role == "band_gain" and p.kind != "enum")


def residual_curve(target, take, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Third-octave centres (Hz) and the level-matched target-minus-take spectrum (dB)."""
    return MatchLoss(target, sample_rate).spectrum_difference_db(take)


def fit_eq_controls(patch, target, render, sample_rate: int, *, keys=None,
                    delta_unit: float = 0.15, rounds: int = 2,
                    ridge: float = 0.05) -> ResidualEQResult:
    """Fit the long-term spectral residual onto the patch's EQ controls.

    Parameters
    ----------
    patch : Patch
        The best patch of the search.
    target : array_like
        The target recording (aligned to the DI).
    render : callable
        ``render(patch) -> take`` (one take through the rig).
    sample_rate : int
        Sample rate in Hz.
    keys : iterable of str, optional
        EQ controls to use; default :func:`eq_keys` of the patch's type.
    delta_unit : float
        Probe move of each control, in normalized units, to measure its effect.
    rounds : int
        Gauss-Newton rounds (each costs one take per control plus one).
    ridge : float
        Regularization of the least-squares step (larger = smaller moves).

    Returns
    -------
    ResidualEQResult
        With the input patch unchanged when the type has no EQ controls or when
        the fit does not reduce the residual.
    """
    if not 0.0 < delta_unit <= 0.5:
        raise ParameterError(f"delta_unit={delta_unit!r} must be in (0, 0.5]",
                             field="delta_unit", value=delta_unit)
    loss = MatchLoss(target, sample_rate)
    keys = eq_keys(patch.effect_type) if keys is None else tuple(keys)
    freqs, before = loss.spectrum_difference_db(render(patch))
    takes = 1
    best_patch, best_curve = patch, before
    if not keys:
        return ResidualEQResult(patch, freqs, before, before, {}, takes)
    space = ParameterSpace(patch.effect_type, keys)
    band = (freqs >= FIT_RANGE_HZ[0]) & (freqs <= FIT_RANGE_HZ[1])
    for _ in range(int(rounds)):
        u0 = space.to_unit(best_patch)
        jac = np.zeros((int(band.sum()), len(keys)))
        moves = np.zeros(len(keys))
        for j in range(len(keys)):
            u = u0.copy()
            u[j] = u0[j] + delta_unit if u0[j] + delta_unit <= 1.0 else u0[j] - delta_unit
            probe = space.from_unit(best_patch, u)
            moves[j] = space.to_unit(probe)[j] - u0[j]
            _, curve = loss.spectrum_difference_db(render(probe))
            takes += 1
            if moves[j] != 0:
                jac[:, j] = (best_curve[band] - curve[band]) / moves[j]   # dB change per unit
        scale = np.maximum(np.linalg.norm(jac, axis=0), 1e-9)
        a = jac / scale
        step = np.linalg.solve(a.T @ a + ridge * np.eye(len(keys)), a.T @ best_curve[band]) / scale
        candidate = space.from_unit(best_patch, np.clip(u0 + step, 0.0, 1.0))
        if candidate == best_patch:
            break
        _, curve = loss.spectrum_difference_db(render(candidate))
        takes += 1
        if _band_rms(freqs, curve) >= _band_rms(freqs, best_curve):
            break
        best_patch, best_curve = candidate, curve
    changes = {k: (patch.get(k), best_patch.get(k)) for k in keys
               if patch.get_raw(k) != best_patch.get_raw(k)}
    return ResidualEQResult(best_patch, freqs, before, best_curve, changes, takes)


def fade_weight(freqs_hz) -> np.ndarray:
    """0 at and beyond the fit range's limits (60 Hz, 12 kHz), 1 inside it from
    ``FADE_OCTAVES`` away from them, a raised-cosine (in log frequency) in between."""
    f = np.maximum(np.asarray(freqs_hz, dtype=float), 1e-9)
    octaves_inside = np.minimum(np.log2(f / FIT_RANGE_HZ[0]), np.log2(FIT_RANGE_HZ[1] / f))
    w = np.clip(octaves_inside / FADE_OCTAVES, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * w)


def smooth_curve(freqs_hz, gain_db, *, max_db: float = MAX_CORRECTION_DB) -> np.ndarray:
    """The curve clipped to +/-``max_db`` and faded to 0 dB at and outside the fit range
    (:func:`fade_weight`): the correction never acts below 60 Hz or above 12 kHz, where the
    residual is mostly noise, hum or the emulator's anti-aliasing."""
    g = np.clip(np.asarray(gain_db, dtype=float), -max_db, max_db)
    return g * fade_weight(freqs_hz)


def write_curve_csv(path, freqs_hz, gain_db) -> Path:
    """Write the correction curve as ``frequency_hz,gain_db`` rows; returns the path."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frequency_hz", "gain_db"])
        for f, g in zip(freqs_hz, smooth_curve(freqs_hz, gain_db)):
            writer.writerow([f"{f:.1f}", f"{g:.2f}"])
    return path


def correction_ir(freqs_hz, gain_db, sample_rate: int, *, length: int = 2048) -> np.ndarray:
    """Minimum-phase FIR (``length`` taps) whose magnitude follows the correction curve.

    The curve is interpolated on a log-frequency axis and faded to 0 dB at and outside
    the fit range on that fine grid (:func:`smooth_curve`), the phase is made minimum
    by the real-cepstrum (homomorphic) method, and the tail is faded out.
    """
    if length < 64 or length & (length - 1):
        raise ParameterError(f"length={length!r} must be a power of two of at least 64",
                             field="length", value=length)
    freqs_hz = np.asarray(freqs_hz, dtype=float)
    if freqs_hz.size < 2 or np.any(np.diff(freqs_hz) <= 0):
        raise AudioInputError("the correction curve needs at least two increasing frequencies")
    n_fft = 4 * length
    grid = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    raw = np.clip(np.asarray(gain_db, dtype=float), -MAX_CORRECTION_DB, MAX_CORRECTION_DB)
    log_f = np.log(np.maximum(grid, freqs_hz[0]))
    gain = smooth_curve(grid, np.interp(log_f, np.log(freqs_hz), raw))   # 0 dB beyond the limits
    log_mag = gain * np.log(10.0) / 20.0
    cepstrum = np.fft.irfft(log_mag, n_fft)
    fold = np.zeros(n_fft)
    fold[0], fold[n_fft // 2] = cepstrum[0], cepstrum[n_fft // 2]
    fold[1:n_fft // 2] = 2.0 * cepstrum[1:n_fft // 2]
    ir = np.fft.irfft(np.exp(np.fft.rfft(fold)), n_fft)[:length]
    ir[length // 2:] *= np.hanning(length)[length // 2:]
    return ir


def write_correction_ir(path, ir, sample_rate: int) -> Path:
    """Write the IR as a mono 32-bit float WAV, peak-normalized only if it would clip."""
    import soundfile as sf
    ir = np.asarray(ir, dtype=float)
    peak = float(np.max(np.abs(ir)))
    if peak > 0.999:
        ir = ir * (0.999 / peak)
    path = Path(path)
    sf.write(str(path), ir.astype(np.float32), int(sample_rate), subtype="FLOAT")
    return path
