"""Calibration of a re-amp chain: latency, return gain, polarity, noise and replicate floor.

    CalibrationStimulus          the test signal, described as data (timeline below)
    measure(stimulus, recording) -> CalibrationRecord (pure maths, no device)
    calibrate(*, in_device, out_device, in_ch, out_ch, sample_rate, ...) -> CalibrationRecord
    CalibrationRecord.save(path) / .load(path) / .matches(devices, rate)
    replicate_floor(rig, patch, di, loss) -> float

Stimulus timeline (defaults, 48 kHz)::

    |<- quiet 300 ms ->|B|<- 150 ms ->|B| ... (5 blips) ...|<- 1 kHz tone 300 ms ->|<- tail ->|
      noise floor        single-sample blips at -6 dBFS      return gain at -12 dBFS

Latency (positive: the return lags the send) is measured once per blip: the
first sample after the blip's send position whose magnitude exceeds a
threshold set ``threshold_margin_db`` above the peak of the measured noise
floor. The blips must agree; when they do not, the record carries a warning
(the median is used). Polarity is the sign of the largest return sample near
each onset (majority). The return gain is the RMS ratio of the steady part
of the tone burst, so a band-limited chain is measured at 1 kHz, not at its
impulse peak. The send level is fixed by the stimulus, never adapted.

A calibration is reused while the devices, channels and rate are unchanged
(:meth:`CalibrationRecord.matches`). ``auto_match_hil --calibrate`` calls
:func:`calibrate` and :meth:`CalibrationRecord.save`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np

from magicstomp.errors import CalibrationError

from .calibration_record import ALGORITHM_VERSION, RECORD_FORMAT, CalibrationRecord

__all__ = ["CalibrationStimulus", "CalibrationRecord", "measure", "calibrate", "replicate_floor",
           "ALGORITHM_VERSION", "RECORD_FORMAT"]

log = logging.getLogger(__name__)

_EPS = 1e-12


@dataclass(frozen=True)
class CalibrationStimulus:
    """The calibration signal: a quiet window, single-sample blips, a tone burst.

    All sizes are in milliseconds at ``sample_rate``; amplitudes are linear (the
    send level is fixed here, at most -1 dBFS).
    """

    sample_rate: int
    quiet_ms: float = 300.0
    blip_count: int = 5
    blip_spacing_ms: float = 150.0
    blip_amplitude: float = 0.5
    tone_hz: float = 1000.0
    tone_ms: float = 300.0
    tone_amplitude: float = 0.25
    tail_ms: float = 200.0

    def __post_init__(self):
        if self.blip_count < 1:
            raise CalibrationError(f"blip_count={self.blip_count} must be at least 1")
        for name in ("blip_amplitude", "tone_amplitude"):
            value = getattr(self, name)
            if not 0 < value <= 10 ** (-1 / 20):
                raise CalibrationError(f"{name}={value} must be in (0, 0.891] (at most -1 dBFS)")
        if self.tone_hz >= 0.45 * self.sample_rate:
            raise CalibrationError(f"tone_hz={self.tone_hz} must be below 0.45 x the sample rate")

    def _samples(self, ms: float) -> int:
        return int(round(ms * 1e-3 * self.sample_rate))

    @property
    def quiet_samples(self) -> int:
        return self._samples(self.quiet_ms)

    @property
    def spacing_samples(self) -> int:
        return self._samples(self.blip_spacing_ms)

    @property
    def blip_positions(self) -> tuple:
        """Send positions of the blips, in samples from the start."""
        return tuple(self.quiet_samples + k * self.spacing_samples for k in range(self.blip_count))

    @property
    def tone_start(self) -> int:
        return self.blip_positions[-1] + self.spacing_samples

    @property
    def tone_samples(self) -> int:
        return self._samples(self.tone_ms)

    @property
    def length(self) -> int:
        return self.tone_start + self.tone_samples + self._samples(self.tail_ms)

    @property
    def max_latency_samples(self) -> int:
        """The longest latency this stimulus can measure (one blip spacing, less a margin)."""
        return self.spacing_samples * 3 // 4

    def render(self) -> np.ndarray:
        """The signal to send, float64 mono."""
        x = np.zeros(self.length)
        x[list(self.blip_positions)] = self.blip_amplitude
        t = np.arange(self.tone_samples) / self.sample_rate
        ramp = min(self.tone_samples // 10, self._samples(10.0))
        env = np.ones(self.tone_samples)
        if ramp:
            env[:ramp] = env[-ramp:][::-1] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        x[self.tone_start:self.tone_start + self.tone_samples] = (
            self.tone_amplitude * env * np.sin(2 * np.pi * self.tone_hz * t))
        return x

    def to_dict(self) -> dict:
        return asdict(self)


def _db(x: float) -> float:
    return float(20 * np.log10(max(x, _EPS)))


def measure(stimulus: CalibrationStimulus, recording, *, threshold_margin_db: float = 10.0,
            min_threshold: float = 1e-5, disagreement_samples: int = 1) -> CalibrationRecord:
    """Measure latency, polarity, gain and noise floor from one or more recordings.

    Parameters
    ----------
    stimulus : CalibrationStimulus
        What was sent.
    recording : array_like or list of array_like
        The return of each run, sample k recorded while sample k was sent.
    threshold_margin_db : float
        Onset threshold above the noise peak.
    min_threshold : float
        Lowest threshold (for a digitally clean loop with no noise at all).
    disagreement_samples : int
        Estimates spread wider than this add a warning.

    Raises
    ------
    CalibrationError
        when a recording is too short, or a blip cannot be found above the noise.
    """
    runs = [np.asarray(recording, dtype=np.float64)] if np.ndim(recording[0]) == 0 \
        else [np.asarray(r, dtype=np.float64) for r in recording]
    n_quiet = stimulus.quiet_samples
    estimates, polarities, gains_db, noise_rms, thresholds = [], [], [], [], []
    for run in runs:
        if run.ndim != 1 or len(run) < stimulus.length:
            raise CalibrationError(f"a calibration recording has shape {run.shape}; expected "
                                   f"{stimulus.length} mono samples (the stimulus length)")
        noise = run[:n_quiet]
        noise_peak = float(np.max(np.abs(noise)))
        noise_rms.append(float(np.sqrt(np.mean(noise ** 2))))
        threshold = max(noise_peak * 10 ** (threshold_margin_db / 20), min_threshold)
        thresholds.append(threshold)
        for pos in stimulus.blip_positions:
            window = run[pos:pos + stimulus.max_latency_samples]
            above = np.flatnonzero(np.abs(window) > threshold)
            if above.size == 0:
                peak_db = _db(float(np.max(np.abs(window))))
                raise CalibrationError(
                    f"no blip found above the threshold {_db(threshold):.1f} dBFS (noise peak "
                    f"{_db(noise_peak):.1f} dBFS) within {stimulus.max_latency_samples} samples of "
                    f"its send (the loudest return there is {peak_db:.1f} dBFS); check the wiring "
                    "and the channels, raise the return level, or the latency is longer than "
                    f"{1e3 * stimulus.max_latency_samples / stimulus.sample_rate:.0f} ms")
            onset = int(above[0])
            estimates.append(onset)
            near = window[onset:onset + max(8, stimulus.sample_rate // 1000)]
            polarities.append(1 if near[np.argmax(np.abs(near))] > 0 else -1)
        gains_db.append(_tone_gain_db(stimulus, run, latency_samples=estimates[-1]))
    return _record(stimulus, estimates, polarities, gains_db, noise_rms, thresholds,
                   disagreement_samples)


def _tone_gain_db(stimulus: CalibrationStimulus, run: np.ndarray, *, latency_samples: int) -> float:
    """RMS gain over the middle half of the tone burst, aligned by ``latency_samples``."""
    quarter = stimulus.tone_samples // 4
    start = stimulus.tone_start + quarter
    sent = stimulus.render()[start:start + 2 * quarter]
    back = run[start + latency_samples:start + latency_samples + 2 * quarter]
    return _db(float(np.sqrt(np.mean(back ** 2)))) - _db(float(np.sqrt(np.mean(sent ** 2))))


def _record(stimulus, estimates, polarities, gains_db, noise_rms, thresholds, disagreement):
    warnings = []
    latency = int(round(float(np.median(estimates))))
    spread = max(estimates) - min(estimates)
    if spread > disagreement:
        warnings.append(f"latency estimates disagree by {spread} samples ({min(estimates)} to "
                        f"{max(estimates)}); using the median {latency}: the chain may drop "
                        "samples (dropouts) or the return is noisy; calibrate again")
    polarity = 1 if sum(polarities) >= 0 else -1
    if abs(sum(polarities)) != len(polarities):
        warnings.append(f"blip polarity is inconsistent ({polarities.count(-1)} of "
                        f"{len(polarities)} inverted); the return may be distorted or noisy")
    if polarity < 0:
        warnings.append("the chain inverts polarity; takes are flipped back (check the re-amp "
                        "box's polarity switch or the cable wiring)")
    if max(gains_db) - min(gains_db) > 0.2:
        warnings.append(f"the return gain changed between runs ({min(gains_db):.2f} to "
                        f"{max(gains_db):.2f} dB); is a level control moving?")
    for w in warnings:
        log.warning("calibration: %s", w)
    return CalibrationRecord(
        sample_rate=stimulus.sample_rate, latency_samples=latency,
        latency_estimates=[int(e) for e in estimates], polarity=polarity,
        return_gain_db=round(float(np.mean(gains_db)), 4),
        noise_floor_dbfs=round(_db(float(np.mean(noise_rms))), 2),
        threshold=float(max(thresholds)), warnings=warnings, stimulus=stimulus.to_dict(),
        created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def calibrate(*, in_device, out_device, in_ch=1, out_ch: int = 1, sample_rate: int, midi=None,
              patch=None, runs: int = 3, stimulus: CalibrationStimulus | None = None,
              settle_ms: float = 300.0, timeout_s: float = 5.0,
              on_dropout: str | None = None) -> CalibrationRecord:
    """Measure the chain sound card -> re-amp box -> unit -> sound card.

    Parameters
    ----------
    in_device, out_device : int, str or hil.io.DeviceInfo
        Devices (index or name substring).
    in_ch, out_ch : int (or sequence of int for ``in_ch``)
        1-based channels (``--in-ch``, ``--out-ch``).
    sample_rate : int
        Stream rate in Hz.
    midi : magicstomp.midi.MagicstompMidi or str, optional
        When given, ``patch`` (a clean patch) is sent to the edit buffer first.
        Without it, put the unit in bypass or on a clean patch by hand.
    patch : magicstomp.patch.Patch, optional
        The clean patch to calibrate with (required with ``midi``).
    runs : int
        Stimulus repetitions; all blips of all runs are estimates.
    on_dropout : {"retry", "warn"}, optional
        What an under-/overrun does (see :func:`hil.io.playrec`; default from
        ``$MAGICSTOMP_HIL_ON_DROPOUT``, else "retry").

    Returns
    -------
    CalibrationRecord
    """
    from . import io
    from .rig import _open_midi

    if runs < 1:
        raise CalibrationError(f"runs={runs} must be at least 1")
    in_channels, out_channels = io.check_channels(in_ch, "input"), io.check_channels(out_ch, "output")
    in_dev, out_dev = io.resolve_device(in_device, "input"), io.resolve_device(out_device, "output")
    io.check_stream(in_dev, out_dev, in_channels=in_channels, out_channels=out_channels,
                    sample_rate=sample_rate)
    if midi is not None:
        if patch is None:
            raise CalibrationError("calibrating over MIDI needs a clean patch to send "
                                   "(patch=...); or omit midi and set the unit to bypass")
        port = _open_midi(midi) if isinstance(midi, str) else midi
        try:
            port.send_patch(patch)
        finally:
            if isinstance(midi, str):
                port.close()
        import time
        time.sleep(settle_ms * 1e-3)
    stim = stimulus or CalibrationStimulus(sample_rate=int(sample_rate))
    if stim.sample_rate != int(sample_rate):
        raise CalibrationError(f"the stimulus is built for {stim.sample_rate} Hz but the stream "
                               f"runs at {sample_rate} Hz")
    signal = stim.render()
    recordings = [io.playrec(signal, in_device=in_dev, out_device=out_dev, in_channels=in_channels,
                             out_channels=out_channels, sample_rate=int(sample_rate),
                             timeout_s=timeout_s, on_dropout=on_dropout) for _ in range(runs)]
    record = measure(stim, recordings)
    return record.with_values(in_device=in_dev.name, out_device=out_dev.name,
                              in_ch=list(in_channels), out_ch=list(out_channels))


def replicate_floor(rig, patch, di, loss) -> float:
    """The loss between two takes of the same patch: the noise floor of any loss comparison.

    ``loss(take, reference) -> float``; improvements smaller than this are noise.
    Both takes are full takes through ``rig`` (a HardwareRig sends the patch once
    and keeps it, so the floor measures the chain, not the MIDI transfer).
    """
    first = rig.render(patch, di)
    second = rig.render(patch, di)
    value = float(loss(second, first))
    if not np.isfinite(value):
        raise CalibrationError(f"the replicate loss is {value}; expected a finite number "
                               "(are the takes silent?)")
    return value
