"""What a real re-amp chain does to a take, as data: latency, jitter, noise, gain, colouring.

:class:`Imperfections` imitates the sound card + re-amp box + cables around the
unit, for tests and benchmarks of code that must cope with real takes (the
virtual rig, the JACK virtual unit). Every random draw comes from a
``numpy.random.Generator`` passed in by the caller, so a seeded rig gives the
same takes in the same order.

Sign conventions: a positive latency means the return *lags* the send; gains
are in dB relative to the unit's output (0 dB = unchanged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

from magicstomp.errors import ParameterError


@dataclass(frozen=True)
class Imperfections:
    """A re-amp chain's non-idealities, applied to the unit's (mono) output.

    Parameters
    ----------
    latency_samples : int
        Nominal round-trip latency; the return lags the send by this much.
    latency_jitter_samples : int
        Each take's latency is ``latency_samples + k`` with ``k`` drawn uniformly
        from ``-jitter .. +jitter`` (what a calibration cannot remove).
    noise_dbfs : float or None
        RMS level of white noise added to the return (e.g. -70), or None for none.
    gain_db : float
        Fixed return gain of the interface input (e.g. -6 for a padded input).
    gain_wobble_db : float
        Each take's gain gets an extra uniform draw in ``+/- gain_wobble_db``.
    polarity_inverted : bool
        The chain inverts polarity (a miswired re-amp box or balanced cable).
    highpass_hz, lowpass_hz : float or None
        Interface colouring: 2nd-order Butterworth high-/low-pass corners.
    """

    latency_samples: int = 0
    latency_jitter_samples: int = 0
    noise_dbfs: float | None = None
    gain_db: float = 0.0
    gain_wobble_db: float = 0.0
    polarity_inverted: bool = False
    highpass_hz: float | None = None
    lowpass_hz: float | None = None

    def __post_init__(self):
        for name in ("latency_samples", "latency_jitter_samples"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ParameterError(f"{name}={value!r} must be a whole number of samples >= 0",
                                     field=name, value=value, allowed=">= 0")
        if self.gain_wobble_db < 0:
            raise ParameterError(f"gain_wobble_db={self.gain_wobble_db} must be >= 0 dB",
                                 field="gain_wobble_db", value=self.gain_wobble_db)
        if self.noise_dbfs is not None and self.noise_dbfs > 0:
            raise ParameterError(f"noise_dbfs={self.noise_dbfs} must be <= 0 dBFS (e.g. -70)",
                                 field="noise_dbfs", value=self.noise_dbfs)

    @classmethod
    def typical(cls, *, latency_samples: int = 300) -> "Imperfections":
        """A plausible USB interface + re-amp box: 300-sample latency, +/-1 sample jitter,
        -80 dBFS noise, +/-0.2 dB gain wobble, 20 Hz / 20 kHz corners."""
        return cls(latency_samples=latency_samples, latency_jitter_samples=1, noise_dbfs=-80.0,
                   gain_wobble_db=0.2, highpass_hz=20.0, lowpass_hz=20000.0)

    def to_dict(self) -> dict:
        """Plain-JSON form (for session reports)."""
        return asdict(self)

    def draw_latency(self, rng: np.random.Generator) -> int:
        """This take's latency in samples (nominal plus a jitter draw)."""
        jitter = self.latency_jitter_samples
        extra = int(rng.integers(-jitter, jitter + 1)) if jitter else 0
        return max(0, self.latency_samples + extra)

    def apply(self, take: np.ndarray, sample_rate: int, rng: np.random.Generator, *,
              extra_samples: int = 0) -> np.ndarray:
        """Return ``take`` as the chain delivers it: coloured, scaled, delayed, noisy.

        The result has ``len(take) + extra_samples`` samples (room for the latency,
        like a recording that runs on after the send); the take starts after this
        take's latency draw.
        """
        x = np.asarray(take, dtype=np.float64)
        n_out = len(x) + int(extra_samples)
        sos = []
        if self.highpass_hz:
            sos.append(signal.butter(2, self.highpass_hz, "highpass", fs=sample_rate, output="sos"))
        if self.lowpass_hz and self.lowpass_hz < 0.5 * sample_rate:
            sos.append(signal.butter(2, self.lowpass_hz, "lowpass", fs=sample_rate, output="sos"))
        if sos:
            x = signal.sosfilt(np.concatenate(sos), x)
        gain_db = self.gain_db
        if self.gain_wobble_db:
            gain_db += float(rng.uniform(-self.gain_wobble_db, self.gain_wobble_db))
        x = x * (10.0 ** (gain_db / 20.0)) * (-1.0 if self.polarity_inverted else 1.0)
        latency = self.draw_latency(rng)
        out = np.zeros(n_out)
        if latency < n_out:
            seg = x[:n_out - latency]
            out[latency:latency + len(seg)] = seg
        if self.noise_dbfs is not None:
            out += rng.standard_normal(n_out) * 10.0 ** (self.noise_dbfs / 20.0)
        return out
