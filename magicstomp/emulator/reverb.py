"""Reverbs of the virtual Magicstomp: Reverb (0x09), Spring Reverb (0x34) and the
reverb section of the Amp/Distortion Multi types (:class:`ReverbStage`).

Reverb core (:class:`ReverbCore`)
---------------------------------
input -> initial delay -> early reflections (a tapped delay, pattern per reverb type)
                       -> ER/Rev delay -> 4 allpass diffusers -> 8-line feedback delay network

* **Reverb time** T is honoured exactly: every line of length d samples has the loop
  gain g = 10^(-3 d / (T fs)), so every recirculation loses 60 dB per T seconds
  (the Hadamard mixing matrix is lossless). RT60 measured by Schroeder backward
  integration is within a few percent of T (``tests/test_emulator_reverb.py``).
* **HF ratio** r_hf: a first-order high shelf per line (corner :data:`HF_CORNER_HZ`)
  sets the loop gain above the corner to 10^(-3 d / (r_hf T fs)): RT60 up there is
  r_hf T. **LF ratio** likewise with a low shelf below :data:`LF_CORNER_HZ`.
* **Reverb type** picks the early-reflection pattern (time span, count, stereo
  spread) and the size of the network (line lengths): Hall large, Stage medium
  with wide lateral reflections, Room small, Plate very small and dense with no
  discrete reflections (a cluster within the first 12 ms).
* **Density** (0-100 %) sets how many of the type's reflections are used
  (2 to 16, spread over the same time span) and the echo density of the tail
  (line lengths shrink as density rises).
* **Diffusion** (0-10) sets the allpass diffuser gain (0.35-0.75, a smoother onset)
  and the stereo spread of the wet signal (0 = the same signal on both sides,
  10 = two decorrelated outputs). The spread keeps each side's energy, so the mono
  fold 0.5 (L + R) of the tail is up to 3 dB louder at 0 than at 10.
* Wet level: the tail's impulse-response energy is normalized to
  0.3 sqrt(T / 2 s) whatever the network size (so density and type change the
  character, not the loudness); early reflections have the same energy as a 2 s tail.

Reverb 0x09 adds the HPF/LPF ("Thru" = off, 12 dB/oct on the reverb input), the
ER/Rev balance (0 % = reverb only, 100 % = early reflections only; an equal-power
crossfade, so it changes the character, not the level), a gate on the
wet signal keyed by the input level (gated reverb; "Off" = no gate) and the mix
(out = (1 - mix) dry + mix wet on both outputs).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import EmulationError
from . import reverb_kernels as kern
from .base import Processor
from .dsp import SosFilter, rbj_biquad, table_hz
from .mappings import knob_value, variant_value

#: Corner of the HF-ratio high shelf (assumption: Yamaha does not publish it).
HF_CORNER_HZ = 3000.0
#: Corner of the LF-ratio low shelf (assumption).
LF_CORNER_HZ = 250.0
#: Late-reverb energy at T = 2 s; grows as sqrt(T / 2 s).
LATE_ENERGY_AT_2S = 0.3
#: Early-reflection energy (sum of squared tap gains).
ER_ENERGY = LATE_ENERGY_AT_2S
_MAX_ER_TAPS = 16
_BASE_LINES_MS = np.array([29.7, 37.1, 41.1, 43.7, 53.3, 59.9, 67.7, 73.1])
_DIFFUSERS_MS = np.array([4.77, 3.59, 12.73, 9.31])
#: type -> (first reflection ms, last reflection ms, stereo spread 0..1, network size scale)
_TYPE_SHAPES = {
    "Hall": (12.0, 80.0, 0.6, 1.0),
    "Stage": (8.0, 60.0, 1.0, 0.75),
    "Room": (2.5, 35.0, 0.5, 0.45),
    "Plate": (0.5, 12.0, 0.3, 0.3),
}
# Hadamard rows (+ - patterns) used as orthogonal output taps for L and R.
_OUT_L = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)
_OUT_R = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)
_IN_SIGNS = np.array([1, 1, 1, 1, -1, -1, -1, -1], dtype=float)


def _pow2(n: int) -> int:
    return 1 << max(1, int(n)).bit_length()


def _er_pattern(reverb_type: str):
    """16 reflections (time ms, gain, pan -1..1) of a reverb type, from a fixed seed."""
    first_ms, last_ms, spread, _ = _TYPE_SHAPES[reverb_type]
    rng = np.random.default_rng(sorted(_TYPE_SHAPES).index(reverb_type) + 99)
    times_ms = np.sort(first_ms + (last_ms - first_ms) * rng.random(_MAX_ER_TAPS) ** 1.5)
    gains = np.exp(-2.0 * (times_ms - first_ms) / (last_ms - first_ms))
    gains *= np.where(rng.random(_MAX_ER_TAPS) < 0.3, -1.0, 1.0)
    pans = spread * np.where(np.arange(_MAX_ER_TAPS) % 2 == 0, 1.0, -1.0) * rng.uniform(
        0.4, 1.0, _MAX_ER_TAPS)
    return times_ms, gains, pans


def _first_order_shelf(kind: str, corner_hz: float, gain: float, sample_rate: int):
    """(b0, b1, a1) of a bilinear first-order shelf: 'low' scales DC by ``gain``,
    'high' scales Nyquist by ``gain``; the other end has unity gain."""
    k = math.tan(math.pi * min(corner_hz, 0.45 * sample_rate) / sample_rate)
    a1 = (k - 1.0) / (k + 1.0)
    if kind == "low":
        return (1.0 + k * gain) / (1.0 + k), (k * gain - 1.0) / (1.0 + k), a1
    return (k + gain) / (k + 1.0), (k - gain) / (k + 1.0), a1


class ReverbCore:
    """Early reflections + FDN tail, wet only: ``process(mono (n,)) -> (n, 2)``.

    Parameters
    ----------
    sample_rate : int
    time_s : float
        RT60 of the tail at mid frequencies, > 0.
    hf_ratio, lf_ratio : float
        RT60 above :data:`HF_CORNER_HZ` / below :data:`LF_CORNER_HZ` relative to ``time_s``.
    diffusion : float
        0-10: allpass diffuser gain and stereo spread.
    density_pct : float
        0-100: number of early reflections and echo density of the tail.
    reverb_type : str
        "Hall", "Room", "Stage" or "Plate".
    initial_delay_ms, er_rev_delay_ms : float
        Delay of the first reflection pattern, and of the tail after it.
    er_balance_pct : float
        0 = tail only, 100 = early reflections only (equal-power crossfade).
    max_reflections : int
        Reflections at 100 % density (2 to 16); fewer cost less.
    """

    def __init__(self, sample_rate: int, *, time_s: float, hf_ratio: float = 1.0,
                 lf_ratio: float = 1.0, diffusion: float = 5.0, density_pct: float = 100.0,
                 reverb_type: str = "Hall", initial_delay_ms: float = 0.0,
                 er_rev_delay_ms: float = 0.0, er_balance_pct: float = 0.0,
                 max_reflections: int = _MAX_ER_TAPS):
        if reverb_type not in _TYPE_SHAPES:
            raise EmulationError(f"reverb type {reverb_type!r} is not emulated; expected one of "
                                 f"{', '.join(_TYPE_SHAPES)}")
        if not time_s > 0:
            raise EmulationError(f"reverb time {time_s} s is not positive; expected 0.3 to 99 s")
        fs = self.sample_rate = int(sample_rate)
        density = min(max(density_pct, 0.0), 100.0) / 100.0
        width = min(max(diffusion, 0.0), 10.0) / 10.0
        balance = min(max(er_balance_pct, 0.0), 100.0) / 100.0
        scale = _TYPE_SHAPES[reverb_type][3] * (1.6 - 0.6 * density)
        per_ms = fs / 1000.0
        self._line_len_samples = np.maximum(np.round(_BASE_LINES_MS * scale * per_ms), 8).astype(
            np.int64)
        self._ap_len_samples = np.round(_DIFFUSERS_MS * min(1.0, scale) * per_ms).astype(np.int64)
        self._ap_gain = 0.35 + 0.04 * min(max(diffusion, 0.0), 10.0)
        self._coef = self._loop_coefficients(time_s, hf_ratio, lf_ratio)
        self._low_shelf = lf_ratio != 1.0
        # early reflections
        most = min(max(int(max_reflections), 2), _MAX_ER_TAPS)
        n_taps = int(round(2 + (most - 2) * density))
        chosen = np.round(np.linspace(0, _MAX_ER_TAPS - 1, n_taps)).astype(int)  # same span
        times_ms, gains, pans = (a[chosen] for a in _er_pattern(reverb_type))
        gains = gains * math.sqrt(ER_ENERGY / np.sum(gains ** 2) * balance)
        ini = float(initial_delay_ms) * fs / 1000.0
        self._er_tap_samples = np.round(ini + times_ms * fs / 1000.0).astype(np.int64)
        gl, gr = gains * np.sqrt(1 - pans), gains * np.sqrt(1 + pans)   # each side: energy sum g^2
        self._er_gl, self._er_gr = self._spread(gl, gr, width)
        self._late_tap_samples = int(round(ini + float(er_rev_delay_ms) * fs / 1000.0))
        # tail output taps, scaled to the target energy
        mean_delay_s = float(np.mean(self._line_len_samples)) / fs
        g_mean = 10.0 ** (-3.0 * mean_delay_s / time_s)
        # a unit of energy injected recirculates as 1 / (1 - g^2), spread over the 8
        # lines; output taps of +-late_gain on every line read it all back.
        energy = 1.0 / max(1.0 - g_mean ** 2, 1e-9)
        late_gain = math.sqrt(LATE_ENERGY_AT_2S * math.sqrt(time_s / 2.0) / energy * (1 - balance))
        self._out_l, self._out_r = self._spread(_OUT_L * late_gain, _OUT_R * late_gain, width)
        self._in_gain = _IN_SIGNS / math.sqrt(8)
        self._ibuf_len = _pow2(max(self._late_tap_samples, int(self._er_tap_samples.max())) + 1)
        self._ap_buf_len = _pow2(int(self._ap_len_samples.max()) + 1)
        self._lines_len = _pow2(int(self._line_len_samples.max()) + 1)
        self.reset()

    def _loop_coefficients(self, time_s: float, hf_ratio: float, lf_ratio: float) -> np.ndarray:
        """Per line: gain (with the 1/sqrt(8) of the mixing), low- and high-shelf (b0, b1, a1)."""
        coef = np.empty((kern.FDN_LINES, 7))
        hf_corner_hz = HF_CORNER_HZ * variant_value("reverb_damping_hz")
        for i, d in enumerate(self._line_len_samples):
            g_mid = 10.0 ** (-3.0 * d / (time_s * self.sample_rate))
            g_lo = 10.0 ** (-3.0 * d / (time_s * max(lf_ratio, 1e-3) * self.sample_rate))
            g_hi = 10.0 ** (-3.0 * d / (time_s * max(hf_ratio, 1e-3) * self.sample_rate))
            coef[i, 0] = g_mid / math.sqrt(8)
            coef[i, 1:4] = _first_order_shelf("low", LF_CORNER_HZ, g_lo / g_mid, self.sample_rate)
            coef[i, 4:7] = _first_order_shelf("high", hf_corner_hz, g_hi / g_mid, self.sample_rate)
        return coef

    @staticmethod
    def _spread(left, right, width: float):
        """Blend two decorrelated outputs, keeping their energy: width 1 keeps them apart,
        0 sends (L + R) / sqrt(2) to both."""
        angle = (1.0 - width) * math.pi / 4
        a, b = math.cos(angle), math.sin(angle)
        return a * left + b * right, a * right + b * left

    def reset(self) -> None:
        """Empty every delay line and filter memory."""
        self._ibuf = np.zeros(self._ibuf_len)
        self._ap_buf = np.zeros((len(self._ap_len_samples), self._ap_buf_len))
        self._lines = np.zeros((kern.FDN_LINES, self._lines_len))
        self._fstate = np.zeros((kern.FDN_LINES, 2))
        self._pos = np.zeros(3, dtype=np.int64)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Wet stereo (n, 2) of mono ``x`` (n,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((x.shape[0], 2))
        kern.fdn_process(x, out, self._ibuf, self._er_tap_samples, self._er_gl, self._er_gr,
                         self._late_tap_samples, self._ap_buf, self._ap_len_samples,
                         self._ap_gain, self._lines, self._line_len_samples, self._coef,
                         self._low_shelf, self._fstate, self._in_gain, self._out_l,
                         self._out_r, self._pos)
        return out


def _gate_settings(params, sample_rate: int):
    """(threshold, release coef, attack step, hold samples, decay step); None: gate Off."""
    level_db = params["gate_level_db"]
    if isinstance(level_db, str):
        return None
    per_ms = sample_rate / 1000.0
    return (10.0 ** (float(level_db) / 20.0),
            math.exp(-1.0 / (GATE_DETECT_RELEASE_MS * per_ms)),
            1.0 / max(1.0, float(params["gate_attack_ms"]) * per_ms),
            float(params["gate_hold_time_ms"]) * per_ms,
            1.0 / max(1.0, float(params["gate_decay_time_ms"]) * per_ms))


#: Release time of the gate's level detector (peak follower).
GATE_DETECT_RELEASE_MS = 10.0


class Reverb(Processor):
    """Reverb (0x09): the :class:`ReverbCore` with HPF/LPF, gate and mix; see the module doc."""

    def _setup(self) -> None:
        p, fs = self.params, self.sample_rate
        self._core = ReverbCore(
            fs, time_s=float(p["reverb_time_s"]), hf_ratio=float(p["hi_freq_ratio"]),
            lf_ratio=float(p["lo_freq_ratio"]), diffusion=float(p["stereo_diffusion"]),
            density_pct=float(p["reflection_density_pct"]), reverb_type=str(p["reverb_type"]),
            initial_delay_ms=float(p["initial_delay_ms"]),
            er_rev_delay_ms=float(p["er_rev_delay_ms"]),
            er_balance_pct=float(p["er_rev_balance_pct"]))
        sections = []
        hpf_hz = table_hz(p["hi_pass_frequency_hz"])
        lpf_hz = table_hz(p["lo_pass_frequency_hz"])
        if hpf_hz is not None:
            sections.append(rbj_biquad("highpass", hpf_hz, fs))
        if lpf_hz is not None:
            sections.append(rbj_biquad("lowpass", lpf_hz, fs))
        self._sos = np.array(sections).reshape(-1, 6)
        self._gate = _gate_settings(p, fs)
        self._mix = float(p["mix_pct"]) / 100.0

    def reset(self) -> None:
        """Empty the network and the filters; close the gate."""
        self._core.reset()
        self._filter = SosFilter(self._sos)
        self._gate_state = np.zeros(3)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Stereo (n, 2): (1 - mix) dry + mix (gated) wet, from mono ``x`` (n,)."""
        wet = self._core.process(self._filter.process(x))
        if self._gate is not None:
            gains = np.empty(x.shape[0])
            kern.gate_gain(x, gains, *self._gate, self._gate_state)
            gains *= self._mix
            wet *= gains[:, None]
        else:
            wet *= self._mix
        wet += ((1.0 - self._mix) * x)[:, None]
        return wet


class ReverbStage:
    """The reverb section of the Amp Multi and Distortion Multi types (wet only).

    Parameters
    ----------
    params : dict
        Physical values with the keys ``{prefix}time_s``, ``{prefix}hf_ratio``,
        ``{prefix}diffusion`` (0-10), ``{prefix}density_pct``, ``{prefix}level`` (0-10)
        and ``{prefix}ini_delay_ms``, as in ``Patch.values()`` of those types.
    sample_rate : int
    prefix : str
        Key prefix, "reverb_" for the multis.

    Notes
    -----
    ``process(mono (n,)) -> (n, 2)`` returns the **wet signal only**, already scaled
    by the level (``knob_value("reverb_level", level)``: linear, 10 = unity); the
    caller adds it to its dry path. Level 0 returns zeros without running the
    network. The core is a Hall :class:`ReverbCore` with LF ratio 1, an
    ER/Rev delay of :data:`STAGE_ER_REV_DELAY_MS` and :data:`STAGE_ER_BALANCE_PCT`
    % early reflections, at most :data:`STAGE_MAX_REFLECTIONS` of them (the multis
    have no such parameters; assumed values, the last one also saves time).
    ``reset()`` empties it. Block-size independent like every processor.
    """

    def __init__(self, params: dict, sample_rate: int, *, prefix: str = "reverb_"):
        self.sample_rate = int(sample_rate)
        self.gain = float(knob_value("reverb_level", params[f"{prefix}level"]))
        self._core = ReverbCore(
            self.sample_rate, time_s=float(params[f"{prefix}time_s"]),
            hf_ratio=float(params[f"{prefix}hf_ratio"]),
            diffusion=float(params[f"{prefix}diffusion"]),
            density_pct=float(params[f"{prefix}density_pct"]), reverb_type="Hall",
            initial_delay_ms=float(params[f"{prefix}ini_delay_ms"]),
            er_rev_delay_ms=STAGE_ER_REV_DELAY_MS, er_balance_pct=STAGE_ER_BALANCE_PCT,
            max_reflections=STAGE_MAX_REFLECTIONS)

    def reset(self) -> None:
        """Empty the network."""
        self._core.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Wet stereo (n, 2) of mono ``x`` (n,), scaled by the level."""
        if self.gain == 0.0:
            return np.zeros((np.shape(x)[0], 2))
        out = self._core.process(x)
        out *= self.gain
        return out


#: Assumed ER-to-tail delay of the multis' reverb.
STAGE_ER_REV_DELAY_MS = 10.0
#: Assumed share of early reflections in the multis' reverb.
STAGE_ER_BALANCE_PCT = 25.0
#: Reflections of the multis' reverb at 100 % density.
STAGE_MAX_REFLECTIONS = 8

#: Spring tank model (assumed: a typical 2-spring guitar-amp tank).
SPRING_RT60_S = 2.5
SPRING_LOOP_MS = (33.0, 39.5)         # round trip of each spring (left, right output)
SPRING_STAGES = 60                    # stretched allpasses per spring (the chirp)
SPRING_ALLPASS_COEF = 0.6
SPRING_BAND_HZ = (100.0, 4500.0)      # the tank passes roughly this band
SPRING_WET_GAIN = 1.0


class SpringReverb(Processor):
    """Spring Reverb (0x34): a two-spring tank added to the dry signal by reverb_level.

    Each spring is a feedback loop: delay (:data:`SPRING_LOOP_MS` round trip) ->
    one-pole damping -> a chain of :data:`SPRING_STAGES` stretched first-order
    allpasses H(z) = (a + z^-K) / (1 + a z^-K), K = round(fs / 8820), whose
    group delay rises towards ~4.4 kHz: every echo is smeared into the rising
    "boing" chirp of a real spring. The tank input is band-limited to
    :data:`SPRING_BAND_HZ` (a tank's transducers pass little else), the loop gain
    gives an RT60 of :data:`SPRING_RT60_S`, and the two springs (different lengths)
    feed the left and right outputs. out = dry + level_gain * wet on both sides.
    """

    def _setup(self) -> None:
        fs = self.sample_rate
        self._gain = float(knob_value("reverb_level", self.params["reverb_level"]))
        self._stretch_samples = max(1, int(round(fs / 8820.0)))
        a = SPRING_ALLPASS_COEF
        disp_delay = SPRING_STAGES * self._stretch_samples * (1 - a) / (1 + a)
        self._loop_len_samples = np.round(
            np.array(SPRING_LOOP_MS) * fs / 1000.0 - disp_delay).astype(np.int64)
        self._loop_len_samples = np.maximum(self._loop_len_samples, 1)
        round_trip = self._loop_len_samples + disp_delay
        self._loop_gain = 10.0 ** (-3.0 * round_trip / (SPRING_RT60_S * fs))
        self._damp = math.exp(-2.0 * math.pi * SPRING_BAND_HZ[1] / fs)
        self._sos = np.array([rbj_biquad("highpass", SPRING_BAND_HZ[0], fs),
                              rbj_biquad("lowpass", SPRING_BAND_HZ[1], fs)])
        g2 = float(np.mean(self._loop_gain)) ** 2
        self._norm = SPRING_WET_GAIN * math.sqrt(max(1.0 - g2, 1e-9) / 0.5)

    def reset(self) -> None:
        """Silence both springs."""
        self._filter = SosFilter(self._sos)
        self._loop_buf = np.zeros((_pow2(int(self._loop_len_samples.max()) + 1), 2))
        self._disp_buf = np.zeros((SPRING_STAGES, _pow2(self._stretch_samples + 1), 2))
        self._damp_state = np.zeros(2)
        self._pos = np.zeros(2, dtype=np.int64)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Stereo (n, 2): dry + level x spring (left and right springs) from mono ``x`` (n,)."""
        out = np.empty((x.shape[0], 2))
        if self._gain == 0.0:
            out[:] = x[:, None]
            return out
        kern.spring_process(self._filter.process(x), out, self._loop_buf, self._loop_len_samples,
                            self._loop_gain, self._disp_buf, self._stretch_samples,
                            SPRING_ALLPASS_COEF, self._damp, self._damp_state, self._pos)
        out *= self._gain * self._norm
        out += x[:, None]
        return out
