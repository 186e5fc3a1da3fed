"""Amp Multi (0x37-0x3A) and Distortion Multi (0x3B-0x3E): a guitar rig in one effect type.

Signal chain (Yamaha documents no block diagram; this is the order a guitarist
expects from a pedalboard into an amp with effects after the preamp)::

    Amp Multi:        noise gate -> compressor -> amp -> speaker   \\
    Distortion Multi: noise gate -> compressor -> distortion         > front (mono)
        -> modulation -> delay -> reverb                            (stereo)

The gate comes first, as in the Amp Simulator type (gate -> amp -> speaker):
it keys on the raw guitar level, and the compressor and the drive cannot
raise the hiss in the pauses it has closed.

A multi has no global mix. Each section after the front adds its own wet to
what passes through it, so a level of 0 removes exactly that section::

    s1 = front                                   chorus / flange / phaser:
    s1 = front + level * wet_mod(front)             level = *_level knob (mappings.py)
    s1 = tremolo(front) on both outputs          tremolo: inline, no level
    s2 = s1 + delay_level * wet_delay(mono(s1))  L/R taps at delay_tap_*_pct % of the time
    out = s2 + wet_reverb(mono(s2))              ReverbStage applies reverb_level

``mono(s) = 0.5 * (L + R)``. Speeds, depths and levels shown as 0-10 use the
rows of :mod:`.mappings`. The modulation sections have no stage-count,
offset or L/R-phase bytes; the values used are the module constants below.
"""

from __future__ import annotations

import numpy as np

from .base import Processor
from .delay import MultiDelayStage
from .delay_lines import add_and_fold, mix_and_fold
from .mappings import knob_value, variant_value
from .modulation import FLANGE_SWEEP_MS, CHORUS_SWEEP_MS, ModulatedDelayStage, PhaserStage, TremoloStage
from .reverb import ReverbStage

#: The multis' phaser: a classic 4-stage pedal phaser sweeping up from ~400 Hz (assumed).
MULTI_PHASER_STAGES = 4
MULTI_PHASER_OFFSET = 50.0
#: L/R LFO offset of the multis' chorus and flanger (assumed; the single types use the same).
MULTI_STEREO_PHASE_DEG = 90.0

#: Modulation section of each type: (kind, key prefix).
_MOD_SECTIONS = {"chorus": "chorus_", "flanger": "flanger_", "tremolo": "tremolo_", "phaser": "phaser_"}


def _mod_kind(params: dict) -> str:
    for kind, prefix in _MOD_SECTIONS.items():
        if f"{prefix}speed" in params:
            return kind
    raise KeyError("no modulation section")  # pragma: no cover - every multi has one


def modulation_stage(params: dict, sample_rate: int):
    """The modulation section of a multi from its own keys; returns (kind, stage, level)."""
    kind = _mod_kind(params)
    prefix = _MOD_SECTIONS[kind]
    rate_hz = knob_value(f"{prefix}speed", params[f"{prefix}speed"])
    depth_pct = knob_value(f"{prefix}depth", params[f"{prefix}depth"])
    waveform = params[f"{prefix}waveform"]
    if kind == "tremolo":
        return kind, TremoloStage(sample_rate, rate_hz=rate_hz, depth_pct=depth_pct, waveform=waveform), 1.0
    level = knob_value(f"{prefix}level", params[f"{prefix}level"])
    if kind == "phaser":
        stage = PhaserStage(sample_rate, rate_hz=rate_hz, depth_pct=depth_pct,
                            feedback_pct=params["phaser_feedback_pct"], stages=MULTI_PHASER_STAGES,
                            lowest_offset=MULTI_PHASER_OFFSET, waveform=waveform)
    elif kind == "chorus":
        stage = ModulatedDelayStage(
            sample_rate, base_delay_ms=params["chorus_delay_time_ms"],
            sweep_ms=CHORUS_SWEEP_MS * variant_value("mod_sweep") * depth_pct / 100.0,
            rate_hz=rate_hz, waveform=waveform,
            phase_deg=MULTI_STEREO_PHASE_DEG)
    else:
        stage = ModulatedDelayStage(
            sample_rate, base_delay_ms=params["flanger_delay_time_ms"],
            sweep_ms=FLANGE_SWEEP_MS * variant_value("mod_sweep") * depth_pct / 100.0,
            rate_hz=rate_hz, waveform=waveform,
            feedback=params["flanger_feedback_pct"] / 100.0, phase_deg=MULTI_STEREO_PHASE_DEG)
    return kind, stage, level


class _Multi(Processor):
    """Front stages (built by subclasses), then modulation, delay and reverb as documented above."""

    def _front(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def front_key(self) -> tuple:
        """What the front's output depends on besides the input: the processor kind, the
        rate, every value the front stages read, and the unit variant they were built with.
        Two patches with equal keys give the same :meth:`process_front` of the same input."""
        keys = sorted({k for stage in self.front for k in getattr(stage, "KEYS", ())}
                      | {"speaker_type"} & set(self.params))
        variant = self.variant
        return (type(self).__name__, self.sample_rate, tuple((k, self.params[k]) for k in keys),
                None if variant is None else tuple(sorted(variant.values.items())))

    def _setup(self) -> None:
        p, sr = self.params, self.sample_rate
        self.front = self._front()
        self.mod_kind, self.mod, self.mod_level = modulation_stage(p, sr)
        self.delay = MultiDelayStage(p, sr)
        self.delay_level = knob_value("delay_level", p["delay_level"])
        self.reverb = ReverbStage(p, sr)

    def reset(self) -> None:
        for stage in (*self.front, self.mod, self.delay, self.reverb):
            stage.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        return self.process_back(self.process_front(x))

    def process_front(self, x: np.ndarray) -> np.ndarray:
        """The mono output of the front stages (gate, compressor, amp or distortion)."""
        y = x
        for stage in self.front:
            y = stage.process(y)
        return y

    def process_back(self, y: np.ndarray) -> np.ndarray:
        """Modulation, delay and reverb on the front's output ``y`` (not modified); (n, 2)."""
        if self.mod_kind == "tremolo":
            y = self.mod.process(y)
        n = y.shape[0]
        out = np.empty((n, 2))
        mono = y
        if self.mod_kind != "tremolo" and self.mod_level:      # a section at level 0 is silent
            mono = np.empty(n)
            mix_and_fold(y, self.mod.process(y), self.mod_level, out, mono)
        else:
            out[:, 0] = y
            out[:, 1] = y
        if self.delay_level:
            wet = self.delay.process(mono)
            mono = np.empty(n)
            add_and_fold(out, wet, self.delay_level, mono)
        if self.reverb.gain:                                   # level 0: the reverb adds zeros
            out += self.reverb.process(mono)
        return out


class AmpMulti(_Multi):
    """Amp Multi (Chorus 0x37, Flange 0x38, Tremolo 0x39, Phaser 0x3A)."""

    def _front(self) -> list:
        from .amp import AmpStage, SpeakerStage
        from .dynamics import CompressorStage, NoiseGateStage
        p, sr = self.params, self.sample_rate
        return [NoiseGateStage(p, sr), CompressorStage(p, sr), AmpStage(p, sr), SpeakerStage(p, sr)]


class DistortionMulti(_Multi):
    """Distortion Multi (Chorus 0x3B, Flange 0x3C, Tremolo 0x3D, Phaser 0x3E)."""

    def _front(self) -> list:
        from .distortion import DistortionStage
        from .dynamics import CompressorStage, NoiseGateStage
        p, sr = self.params, self.sample_rate
        return [NoiseGateStage(p, sr), CompressorStage(p, sr), DistortionStage(p, sr)]
