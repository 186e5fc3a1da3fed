"""Modulation: Chorus, Flange, Phaser, Tremolo, and the stages the multis reuse.

Every LFO starts at phase 0 (the right channel at its documented offset) and is
a function of the absolute sample count, so renders are deterministic and
block-size independent.

* Chorus / Flange: a stereo pair of modulated delay lines. Delay sweeps upward
  from the base delay: d(t) = base + depth * SWEEP_MS * (1 + lfo(t)) / 2. The
  right line's LFO runs :data:`STEREO_PHASE_DEG` ahead. Chorus adds AM (wet gain
  1 - am * (1 - lfo) / 2); Flange adds feedback (f % of each line's output back
  into it).
* Phaser: a cascade of first-order allpasses per channel whose break frequency
  sweeps over octaves: f(t) = f_low * 2 ** (PHASER_SWEEP_OCT * depth * (1 + lfo) / 2),
  f_low = PHASER_BASE_HZ * 2 ** (PHASER_OFFSET_OCT * lowest_offset / 100); output
  fed back with f %; the R LFO starts at the L/R phase angle. Mixing with dry
  gives stages / 2 moving notches.
* Tremolo: gain 1 - depth * (1 - lfo) / 2 on both outputs (no mix byte).
* The LSH / peaking / HSH EQ filters the effect input (the wet path; the whole
  signal for Tremolo). Mix crossfades: out = (1 - mix) * dry + mix * wet.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .base import Processor
from .delay import crossfade
from .delay_lines import TINY, Lfo, RingDelay, StaticFilter, TappedLine, run_swept_pair
from .dsp import ms_to_samples, rbj_biquad
from .mappings import variant_value

#: Peak-to-peak delay sweep at 100 % depth (assumed; Yamaha does not document it).
CHORUS_SWEEP_MS = 5.0
FLANGE_SWEEP_MS = 4.0
#: Right-channel LFO lead of Chorus / Flange (assumed: quadrature, wide but mono-compatible).
STEREO_PHASE_DEG = 90.0
#: Phaser sweep: lowest break frequency at offset 0, octaves spanned by the offset and by depth 100 %.
PHASER_BASE_HZ, PHASER_OFFSET_OCT, PHASER_SWEEP_OCT = 100.0, 4.0, 4.0
#: Phaser coefficients are recomputed every this many samples (absolute sample grid).
PHASER_CONTROL_SAMPLES = 16
#: Q of the peaking EQ is the table's value; shelves use this slope Q.
SHELF_Q = 0.7071


def eq_filter(params: dict, sample_rate: int) -> StaticFilter:
    """The LSH / peaking / HSH EQ of a modulation type (bands with 0 dB are left out)."""
    sections = []
    if params.get("lo_shelf_gain_db", 0.0) != 0.0:
        sections.append(rbj_biquad("lowshelf", params["lo_shelf_frequency_hz"], sample_rate,
                                   q=SHELF_Q, gain_db=params["lo_shelf_gain_db"]))
    if params.get("eq_gain_db", 0.0) != 0.0:
        sections.append(rbj_biquad("peaking", params["eq_frequency_hz"], sample_rate,
                                   q=params["eq_bandwidth_q"], gain_db=params["eq_gain_db"]))
    if params.get("hi_shelf_gain_db", 0.0) != 0.0:
        sections.append(rbj_biquad("highshelf", params["hi_shelf_frequency_hz"], sample_rate,
                                   q=SHELF_Q, gain_db=params["hi_shelf_gain_db"]))
    return StaticFilter(np.array(sections).reshape(-1, 6))


class _StereoLfo:
    """Two LFOs, the right one ``phase_deg`` ahead; values as (n, 2) ``offset + scale * lfo``."""

    def __init__(self, rate_hz: float, waveform: str, *, sample_rate: int, phase_deg: float):
        self.lfos = (Lfo(rate_hz, waveform, sample_rate=sample_rate),
                     Lfo(rate_hz, waveform, sample_rate=sample_rate, phase_deg=phase_deg))

    def reset(self) -> None:
        for lfo in self.lfos:
            lfo.reset()

    def peek(self, n: int, offset: float = 0.0, scale: float = 1.0) -> np.ndarray:
        out = np.empty((n, 2))
        for ch, lfo in enumerate(self.lfos):
            lfo.peek(n, offset=offset, scale=scale, out=out[:, ch])
        return out

    def next(self, n: int, offset: float = 0.0, scale: float = 1.0) -> np.ndarray:
        out = self.peek(n, offset, scale)
        for lfo in self.lfos:
            lfo.advance(n)
        return out


class ModulatedDelayStage:
    """Stereo chorus/flange core: wet (n, 2) from mono input, at unit level.

    Parameters
    ----------
    base_delay_ms, sweep_ms : float
        Delay at the LFO minimum and peak-to-peak sweep (already scaled by depth).
    rate_hz, waveform : LFO rate and shape ("Sine", "Triangle", "Square").
    feedback : float
        Gain (not %) from each line's output back into it.
    am_depth : float
        0..1 amplitude modulation of the wet by the same LFO.
    """

    def __init__(self, sample_rate: int, *, base_delay_ms: float, sweep_ms: float, rate_hz: float,
                 waveform: str = "Sine", feedback: float = 0.0, am_depth: float = 0.0,
                 phase_deg: float = STEREO_PHASE_DEG):
        self.base_samples = ms_to_samples(base_delay_ms, sample_rate)
        self.sweep_samples = ms_to_samples(sweep_ms, sample_rate)
        self.feedback = float(feedback)
        self.am_depth = float(am_depth)
        self.lfo = _StereoLfo(rate_hz, waveform, sample_rate=sample_rate, phase_deg=phase_deg)
        longest = self.base_samples + self.sweep_samples + 2
        # without feedback both lines hold the input: one line, two modulated taps
        self.line = TappedLine(longest) if feedback == 0.0 else RingDelay(2, longest)

    def reset(self) -> None:
        self.lfo.reset()
        self.line.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        gain = None
        if self.am_depth > 0.0:
            gain = self.lfo.peek(n, 1.0 - 0.5 * self.am_depth, 0.5 * self.am_depth)
        half = 0.5 * self.sweep_samples
        delay = self.lfo.next(n, self.base_samples + half, half)
        if isinstance(self.line, TappedLine):
            wet = self.line.run(x, d_out=delay, d_fb=np.ones(1), feedback=0.0)
        else:
            wet = np.empty((n, 2))
            run_swept_pair(np.ascontiguousarray(x, dtype=np.float64), delay, self.feedback,
                           self.line.buf, self.line.widx, wet)
        if gain is not None:
            wet *= gain
        return wet


@njit(cache=True)
def _phaser_kernel(x, lfo, start, f_low_hz, octaves, sample_rate, stages, feedback, coef, z, last, out):
    nyquist_guard = 0.45 * sample_rate
    for i in range(x.shape[0]):
        refresh = (start + i) % PHASER_CONTROL_SAMPLES == 0
        for ch in range(lfo.shape[1]):
            if refresh:
                f = f_low_hz * 2.0 ** (octaves * 0.5 * (1.0 + lfo[i, ch]))
                t = math.tan(math.pi * min(f, nyquist_guard) / sample_rate)
                coef[ch] = (t - 1.0) / (t + 1.0)
            a = coef[ch]
            v = x[i] + feedback * last[ch]
            for k in range(stages):
                y = a * v + z[ch, k]
                s = v - a * y
                z[ch, k] = s if abs(s) > TINY else 0.0
                v = y
            last[ch] = v if abs(v) > TINY else 0.0
            out[i, ch] = v


class PhaserStage:
    """Stereo allpass phaser: wet (n, 2) at unit level (mix with dry for notches)."""

    def __init__(self, sample_rate: int, *, rate_hz: float, depth_pct: float, feedback_pct: float,
                 stages: int, lowest_offset: float, phase_deg: float = 0.0, waveform: str = "Sine"):
        self.sample_rate = sample_rate
        self.f_low_hz = PHASER_BASE_HZ * 2.0 ** (PHASER_OFFSET_OCT * lowest_offset / 100.0)
        self.octaves = PHASER_SWEEP_OCT * depth_pct / 100.0
        self.feedback = feedback_pct / 100.0
        self.stages = int(stages)
        self.lfo = _StereoLfo(rate_hz, waveform, sample_rate=sample_rate, phase_deg=phase_deg)
        self.channels = 1 if float(phase_deg) % 360.0 == 0.0 else 2   # L = R: run one cascade
        self.reset()

    def reset(self) -> None:
        self.lfo.reset()
        self._n = 0
        self.coef = np.zeros(self.channels)
        self.z = np.zeros((self.channels, max(self.stages, 1)))
        self.last = np.zeros(self.channels)

    def process(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        lfo = self.lfo.next(n)[:, : self.channels]
        out = np.empty((n, self.channels))
        _phaser_kernel(x, lfo, self._n, self.f_low_hz, self.octaves, float(self.sample_rate),
                       self.stages, self.feedback, self.coef, self.z, self.last, out)
        self._n += n
        return out


class TremoloStage:
    """Amplitude modulation of a mono signal: gain 1 - depth * (1 - lfo) / 2 (1 at the LFO peak)."""

    def __init__(self, sample_rate: int, *, rate_hz: float, depth_pct: float, waveform: str = "Sine"):
        self.depth = depth_pct / 100.0
        self.lfo = Lfo(rate_hz, waveform, sample_rate=sample_rate)

    def reset(self) -> None:
        self.lfo.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        half = 0.5 * self.depth
        return x * self.lfo.next(x.shape[0], offset=1.0 - half, scale=half)


class _ModProcessor(Processor):
    """EQ on the effect input, a wet stage, crossfade mix."""

    stage: object
    mix: float

    def _setup(self) -> None:
        self.eq = eq_filter(self.params, self.sample_rate)
        self.mix = self.params.get("mix_pct", 100) / 100.0
        self._build()

    def _build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> None:
        self.eq.reset()
        self.stage.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        return crossfade(x, self.stage.process(self.eq.process(x)), mix=self.mix)


class Chorus(_ModProcessor):
    """Chorus (0x12): PM depth sweeps the delay, AM depth modulates the wet level."""

    def _build(self) -> None:
        p = self.params
        self.stage = ModulatedDelayStage(
            self.sample_rate, base_delay_ms=p["mod_delay_ms"],
            sweep_ms=CHORUS_SWEEP_MS * variant_value("mod_sweep") * p["pm_depth_pct"] / 100.0,
            rate_hz=p["mod_frequency_hz"],
            waveform=p["mod_waveform"], am_depth=p["am_depth_pct"] / 100.0)


class Flange(_ModProcessor):
    """Flange (0x13): a swept short delay with feedback."""

    def _build(self) -> None:
        p = self.params
        self.stage = ModulatedDelayStage(
            self.sample_rate, base_delay_ms=p["mod_delay_ms"],
            sweep_ms=FLANGE_SWEEP_MS * variant_value("mod_sweep") * p["mod_depth_pct"] / 100.0,
            rate_hz=p["mod_frequency_hz"],
            waveform=p["mod_waveform"], feedback=p["feedback_gain_pct"] / 100.0)


class Phaser(_ModProcessor):
    """Phaser (0x15): swept allpass cascade, stages and L/R phase angle honoured."""

    def _build(self) -> None:
        p = self.params
        self.stage = PhaserStage(
            self.sample_rate, rate_hz=p["mod_frequency_hz"], depth_pct=p["mod_depth_pct"],
            feedback_pct=p["feedback_gain_pct"], stages=p["shifter_stages"],
            lowest_offset=p["lowest_offset"], phase_deg=p["l_r_phase_angle_deg"])


class Tremolo(_ModProcessor):
    """Tremolo (0x17): EQ then amplitude modulation, the same on both outputs (no mix byte)."""

    def _build(self) -> None:
        p = self.params
        self.stage = TremoloStage(self.sample_rate, rate_hz=p["mod_frequency_hz"],
                                  depth_pct=p["mod_depth_pct"], waveform=p["mod_waveform"])

    def process(self, x: np.ndarray) -> np.ndarray:
        y = self.stage.process(self.eq.process(x))
        return np.stack([y, y], axis=1)
