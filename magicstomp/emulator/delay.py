"""Delays: Mono Delay, Stereo Delay, Mod. Delay, Echo, Tape Echo, and the multis' delay stage.

Signal flow shared by every delay here (one :class:`FeedbackDelay`)::

    in -> HPF -> LPF -> (+) -> [ring buffer] -> output tap(s) -> wet
                         ^                \\
                         +- sat <- HF-ratio shelf <- feedback gains <- feedback tap(s)

* The HPF / LPF tables filter everything that enters the line ("Thru" = off),
  so every echo is band-limited once, like filtering the wet output.
* ``hi_freq_ratio`` is the loop gain above :data:`DAMPING_CORNER_HZ` relative to
  below it (a first-order shelf inside the loop): each repeat loses a factor
  ``hi_freq_ratio`` more treble than bass. 1.0 = no damping.
* Feedback gain f % multiplies each repeat by f/100; negative values flip the
  polarity of every other echo.
* ``mix_pct`` crossfades: out = (1 - mix) * dry + mix * wet on both outputs.
"""

from __future__ import annotations

import numpy as np

from .base import Processor
from .delay_lines import Lfo, RingDelay, StaticFilter, TappedLine, mix_stereo
from .dsp import ms_to_samples, one_pole_coeff, rbj_biquad, table_hz
from .mappings import knob_value

#: Corner of the HF-ratio shelf in the feedback loop (assumed; Yamaha does not document it).
DAMPING_CORNER_HZ = 2500.0
#: Peak-to-peak delay sweep of Mod. Delay at depth 100 % (assumed, a chorus-like range).
MOD_DELAY_SWEEP_MS = 5.0
#: Tape Echo character (all assumed, from the behaviour of tape delays).
TAPE_WOW_HZ, TAPE_WOW_PITCH = 0.55, 0.0015          # peak pitch deviation (0.15 %)
TAPE_FLUTTER_HZ, TAPE_FLUTTER_PITCH = 6.3, 0.0008   # (0.08 %), like a worn transport
TAPE_DRIVE = 1.6                                     # soft-clip saturation on the record head
TAPE_HF_RATIO = 0.35                                 # each repeat darker
TAPE_HPF_HZ, TAPE_LPF_HZ = 60.0, 5000.0              # head / tape bandwidth


def wet_filter(hpf, lpf, sample_rate: int) -> StaticFilter:
    """The wet HPF/LPF pair from table values or Hz; a str ("Thru") or None leaves it out."""
    sections = []
    hpf_hz, lpf_hz = table_hz(hpf), table_hz(lpf)
    if hpf_hz is not None:
        sections.append(rbj_biquad("highpass", hpf_hz, sample_rate))
    if lpf_hz is not None and lpf_hz < 0.45 * sample_rate:
        sections.append(rbj_biquad("lowpass", lpf_hz, sample_rate))
    return StaticFilter(np.array(sections).reshape(-1, 6))


def crossfade(dry: np.ndarray, wet: np.ndarray, *, mix: float) -> np.ndarray:
    """(1 - mix) * dry + mix * wet as (n, 2); ``wet`` may be (n, 1) or (n, 2)."""
    out = np.empty((dry.shape[0], 2))
    mix_stereo(dry, wet, 1.0 - mix, mix, out)
    return out


class FeedbackDelay:
    """``c`` filtered feedback delay lines fed by one mono signal.

    Parameters
    ----------
    sample_rate : int
    out_ms, fb_ms : sequence of c floats
        Output-tap and feedback-tap delay of each line in ms.
    fb_matrix : (c, c) array-like
        ``fb_matrix[i][j]``: gain (not %) from line j's feedback tap into line i.
    hf_ratio, hpf, lpf, drive
        Loop damping, wet filters (table values, "Thru" = off) and tape saturation.
    sweep_ms : float
        Extra buffer for modulated taps (the largest delay added on top of the base).
    """

    def __init__(self, *, sample_rate: int, out_ms, fb_ms, fb_matrix, hf_ratio: float = 1.0,
                 hpf="Thru", lpf="Thru", drive: float = 0.0, sweep_ms: float = 0.0):
        self.sample_rate = sample_rate
        self.out_samples = np.array([ms_to_samples(t, sample_rate) for t in out_ms])
        self.fb_samples = np.maximum([ms_to_samples(t, sample_rate) for t in fb_ms], 1.0)
        self.fb_matrix = np.asarray(fb_matrix, dtype=np.float64)
        self.channels = len(self.out_samples)
        self.hf_ratio = float(hf_ratio)
        self.damp_coef = one_pole_coeff(DAMPING_CORNER_HZ, sample_rate)
        self.drive = float(drive)
        self.filter = wet_filter(hpf, lpf, sample_rate)
        longest = max(self.out_samples.max(), self.fb_samples.max()) + ms_to_samples(sweep_ms, sample_rate) + 2
        # Lines with one feedback time, equal gains and no cross terms hold the same
        # samples: run one line read by several output taps instead.
        gain = self.fb_matrix[0, 0]
        self.shared = bool(np.all(self.fb_samples == self.fb_samples[0])
                           and np.allclose(self.fb_matrix, gain * np.eye(self.channels)))
        self.line = TappedLine(longest) if self.shared else RingDelay(self.channels, longest)

    def reset(self) -> None:
        self.filter.reset()
        self.line.reset()

    def process(self, x: np.ndarray, *, offset_samples: np.ndarray | None = None) -> np.ndarray:
        """Wet output (n, c) for mono ``x``.

        ``offset_samples`` (n, 1) is added to every tap (the same on all lines).
        """
        fed = self.filter.process(x)
        d_out, d_fb = self.out_samples[None, :], self.fb_samples[None, :]
        if offset_samples is not None:
            d_out, d_fb = d_out + offset_samples, d_fb + offset_samples
        if self.shared:
            return self.line.run(fed, d_out=d_out, d_fb=d_fb[:, 0], feedback=self.fb_matrix[0, 0],
                                 damp_coef=self.damp_coef,
                                 hf_ratio=self.hf_ratio, drive=self.drive)
        return self.line.run(fed, d_out=d_out, d_fb=d_fb, fb=self.fb_matrix, damp_coef=self.damp_coef,
                             hf_ratio=np.full(self.channels, self.hf_ratio), drive=self.drive)


class _DelayProcessor(Processor):
    """A FeedbackDelay plus the crossfade mix; subclasses build ``self.delay``, ``self.mix``."""

    delay: FeedbackDelay
    mix: float

    def reset(self) -> None:
        self.delay.reset()

    def _wet(self, x: np.ndarray) -> np.ndarray:
        return self.delay.process(x)

    def process(self, x: np.ndarray) -> np.ndarray:
        return crossfade(x, self._wet(x), mix=self.mix)


class MonoDelay(_DelayProcessor):
    """Mono Delay (0x0D): one line, the same echo on both outputs."""

    def _setup(self) -> None:
        p = self.params
        self.delay = FeedbackDelay(
            sample_rate=self.sample_rate, out_ms=[p["delay_time_ms"]], fb_ms=[p["delay_time_ms"]],
            fb_matrix=[[p["feedback_gain_pct"] / 100.0]], hf_ratio=p["hi_freq_ratio"],
            hpf=p["hi_pass_frequency_hz"], lpf=p["lo_pass_frequency_hz"])
        self.mix = p["mix_pct"] / 100.0


class StereoDelay(_DelayProcessor):
    """Stereo Delay (0x0E): two independent lines, L and R time and feedback."""

    def _setup(self) -> None:
        p = self.params
        times = [p["delay_time_l_ms"], p["delay_time_r_ms"]]
        self.delay = FeedbackDelay(
            sample_rate=self.sample_rate, out_ms=times, fb_ms=times,
            fb_matrix=np.diag([p["feedback_gain_l_pct"] / 100.0, p["feedback_gain_r_pct"] / 100.0]),
            hf_ratio=p["hi_freq_ratio"], hpf=p["hi_pass_frequency_hz"], lpf=p["lo_pass_frequency_hz"])
        self.mix = p["mix_pct"] / 100.0


class Echo(_DelayProcessor):
    """Echo (0x11): L/R lines with separate output and feedback taps and cross feedback.

    line L <- in + FB.L * tap_fb(L) + (R->L) * tap_fb(R); line R likewise with
    FB.R and L->R. The outputs read each line at Delay L / Delay R.
    """

    def _setup(self) -> None:
        p = self.params
        fb = np.array([[p["feedback_gain_l_pct"], p["feedback_gain_r_l_pct"]],
                       [p["feedback_gain_l_r_pct"], p["feedback_gain_r_pct"]]], dtype=float) / 100.0
        self.delay = FeedbackDelay(
            sample_rate=self.sample_rate, out_ms=[p["delay_time_l_ms"], p["delay_time_r_ms"]],
            fb_ms=[p["delay_time_fb_l_ms"], p["delay_time_fb_r_ms"]], fb_matrix=fb,
            hf_ratio=p["hi_freq_ratio"], hpf=p["hi_pass_frequency_hz"], lpf=p["lo_pass_frequency_hz"])
        self.mix = p["mix_pct"] / 100.0


class ModDelay(_DelayProcessor):
    """Mod. Delay (0x0F): a mono delay whose time sweeps upward from Delay Time.

    delay(t) = time + depth/100 * MOD_DELAY_SWEEP_MS * (1 + lfo(t)) / 2, on the
    output and feedback taps alike (LFO phase 0 at reset).
    """

    def _setup(self) -> None:
        p = self.params
        self.sweep_samples = p["mod_depth_pct"] / 100.0 * ms_to_samples(MOD_DELAY_SWEEP_MS, self.sample_rate)
        self.lfo = Lfo(p["mod_frequency_hz"], p["mod_waveform"], sample_rate=self.sample_rate)
        self.delay = FeedbackDelay(
            sample_rate=self.sample_rate, out_ms=[p["delay_time_ms"]], fb_ms=[p["delay_time_ms"]],
            fb_matrix=[[p["feedback_gain_pct"] / 100.0]], hf_ratio=p["hi_freq_ratio"],
            hpf=p["hi_pass_frequency_hz"], lpf=p["lo_pass_frequency_hz"], sweep_ms=MOD_DELAY_SWEEP_MS)
        self.mix = p["mix_pct"] / 100.0

    def reset(self) -> None:
        super().reset()
        self.lfo.reset()

    def _wet(self, x: np.ndarray) -> np.ndarray:
        half = 0.5 * self.sweep_samples
        offset = self.lfo.next(x.shape[0], offset=half, scale=half)
        return self.delay.process(x, offset_samples=offset[:, None])


class TapeEcho(_DelayProcessor):
    """Tape Echo (0x35): 0-10 knobs, with wow/flutter, record-head saturation and darkening repeats.

    Time, feedback and mix use the 0-10 mappings in :mod:`.mappings`. Wow and
    flutter are tape-speed wobbles: the delay moves by P / (2 pi f) seconds so
    that the pitch deviates by TAPE_WOW_PITCH at TAPE_WOW_HZ plus
    TAPE_FLUTTER_PITCH at TAPE_FLUTTER_HZ whatever the time (fixed phases,
    deterministic); the
    line saturates with soft_clip(TAPE_DRIVE * v) / TAPE_DRIVE; the loop damps highs
    with HF ratio TAPE_HF_RATIO inside a TAPE_HPF_HZ..TAPE_LPF_HZ band.
    """

    def _setup(self) -> None:
        p = self.params
        time_ms = knob_value("delay_time", p["delay_time"])
        self.wow_samples = TAPE_WOW_PITCH / (2 * np.pi * TAPE_WOW_HZ) * self.sample_rate
        self.flutter_samples = TAPE_FLUTTER_PITCH / (2 * np.pi * TAPE_FLUTTER_HZ) * self.sample_rate
        self.wow = Lfo(TAPE_WOW_HZ, "Sine", sample_rate=self.sample_rate)
        self.flutter = Lfo(TAPE_FLUTTER_HZ, "Sine", sample_rate=self.sample_rate, phase_deg=90.0)
        self.delay = FeedbackDelay(
            sample_rate=self.sample_rate, out_ms=[time_ms], fb_ms=[time_ms],
            fb_matrix=[[knob_value("feedback_level", p["feedback_level"])]],
            hf_ratio=TAPE_HF_RATIO, hpf=TAPE_HPF_HZ, lpf=TAPE_LPF_HZ, drive=TAPE_DRIVE,
            sweep_ms=1000.0 * (self.wow_samples + self.flutter_samples) / self.sample_rate)
        self.mix = knob_value("mix", p["mix"])

    def reset(self) -> None:
        super().reset()
        self.wow.reset()
        self.flutter.reset()

    def _wet(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        wobble = self.wow.next(n, scale=self.wow_samples)
        wobble += self.flutter.next(n, scale=self.flutter_samples)
        return self.delay.process(x, offset_samples=wobble[:, None])


class MultiDelayStage:
    """The Amp/Distortion Multi delay: one feedback delay with L and R output taps.

    The loop repeats every ``feedback_delay_time_ms``; the left output reads the
    line at ``delay_tap_l_pct`` % of that time, the right at ``delay_tap_r_pct`` %.
    Returns the wet (n, 2) at unit level (the multi scales it by its delay level).
    """

    def __init__(self, params: dict, sample_rate: int):
        time_ms = params["feedback_delay_time_ms"]
        taps_ms = [time_ms * params["delay_tap_l_pct"] / 100.0, time_ms * params["delay_tap_r_pct"] / 100.0]
        gain = params["delay_feedback_pct"] / 100.0
        self.delay = FeedbackDelay(
            sample_rate=sample_rate, out_ms=taps_ms, fb_ms=[time_ms, time_ms],
            fb_matrix=np.diag([gain, gain]), hf_ratio=params["delay_hf_ratio"],
            hpf=params["delay_hp_frequency_hz"], lpf=params["delay_lp_frequency_hz"])

    def reset(self) -> None:
        self.delay.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        return self.delay.process(x)
