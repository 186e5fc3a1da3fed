"""Amp Simulator (0x08) and the reusable amp and speaker stages.

Signal path of :class:`AmpStage` (all at the processing rate except the drive)::

    input coupling high-pass -> voicing pre-emphasis peak -> preamp gain
    -> DriveCore: 1 or 2 clipping stages at 2x rate (bias, asymmetry, curve hardness,
       coupling HP + Miller LP between stages)
    -> tone stack: bass low shelf, lo-mid and hi-mid peaks, treble high shelf,
       fixed voicing peak/scoop -> presence high shelf -> master tone (treble cut)
    -> post low-pass, DC-blocking high-pass -> trim x master volume

The eleven voicings (:data:`AMP_VOICINGS`) differ in every one of those blocks.
Knob meanings (dB per step, tapers) are the assumed mappings in ``mappings.py``;
frequencies of the tone-stack bands belong to the voicing. :class:`SpeakerStage`
convolves with the cabinet IR that stands in for the speaker simulation
(``ir.py``); "Off" passes the signal through.

The Amp Simulator runs noise gate -> amp -> speaker and outputs L = R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EmulationError
from .base import Processor
from .dsp import db_to_gain, rbj_biquad
from .dynamics import NoiseGateStage
from .ir import FirConvolver, cabinet_ir
from .mappings import knob_value, require_keys, variant_value
from .shaper import DriveCore

MASTER_TONE_HZ = 1200.0
DC_BLOCK_HZ = 25.0


@dataclass(frozen=True)
class DriveVoicing:
    """The drive front shared by amp and distortion voicings (frequencies in Hz, levels in dB).

    ``hp_hz`` is the input high-pass, ``pre_hz``/``pre_db``/``pre_q`` a fixed
    peak before the drive, ``base_gain_db`` the preamp gain at knob 0;
    ``stage1`` = (bias, asym, hard), ``stage2`` = (gain_db, bias, asym, hard) or
    None and the inter-stage filters are as in
    :class:`~magicstomp.emulator.shaper.DriveCore`.
    """

    hp_hz: float
    pre_hz: float
    pre_db: float
    pre_q: float
    base_gain_db: float
    stage1: tuple
    stage2: tuple | None
    inter_hp_hz: float
    inter_lp_hz: float

    def drive_core(self, sample_rate: int, *, pre_sections, post_sections, gain_in: float,
                   gain_out: float) -> DriveCore:
        """A :class:`DriveCore` with this voicing's stages between the given filters and gains."""
        return DriveCore(sample_rate, stage1=self.stage1, stage2=self.stage2,
                         inter_hp_hz=self.inter_hp_hz, inter_lp_hz=self.inter_lp_hz,
                         pre_sections=pre_sections, post_sections=post_sections,
                         gain_in=gain_in, gain_out=gain_out)


@dataclass(frozen=True)
class AmpVoicing(DriveVoicing):
    """The fixed circuit character of one amp type: the drive front, then the tone stack.

    ``voice_hz``/``voice_db`` is a fixed tone-stack peak (> 0) or scoop (< 0).
    ``trim_db`` evens out the loudness of the types: with the jazz DI (-22.6 dBFS
    RMS), gain 5, all tone knobs at 5 and master 10 every type measured -14 +/- 0.5
    dBFS RMS (speaker Off) when the trims were set.
    """

    bass_hz: float
    lo_mid_hz: float
    hi_mid_hz: float
    treble_hz: float
    voice_hz: float
    voice_db: float
    presence_hz: float
    post_lp_hz: float
    trim_db: float


#: amp type label -> voicing (values chosen by ear against the types' names). Columns:
#: hp, pre peak (Hz, dB, Q), base gain, stage1, stage2, inter-stage HP/LP,
#: bass, lo-mid, hi-mid, treble, voice (Hz, dB), presence, post LP, trim.
AMP_VOICINGS = {
    "Heavy 1": AmpVoicing(110, 800, 6, 0.7, 18, (0.10, 0.80, 0.6), (12, -0.05, 0.9, 0.3),
                          200, 7000, 90, 400, 1600, 4000, 500, -4, 3500, 8500, -10.5),
    "Heavy 2": AmpVoicing(160, 1200, 8, 0.8, 22, (0.05, 0.90, 0.8), (14, 0.05, 0.85, 0.6),
                          250, 6000, 110, 450, 1800, 4500, 700, -6, 4000, 8000, -11),
    "Lead 1": AmpVoicing(80, 700, 9, 0.8, 14, (0.15, 0.70, 0.2), (8, 0.10, 0.8, 0.1),
                         120, 5000, 100, 500, 1200, 3500, 800, 2, 3000, 6500, -13.5),
    "Lead 2": AmpVoicing(140, 1600, 8, 0.7, 16, (0.20, 0.60, 0.4), (10, 0.15, 0.7, 0.3),
                         180, 6500, 100, 600, 1500, 4000, 400, -4, 3500, 8000, -11),
    "Drive 1": AmpVoicing(60, 1500, 4, 0.7, 8, (0.10, 0.75, 0.3), (6, 0.10, 0.8, 0.2),
                          100, 7500, 120, 450, 1400, 3800, 650, 0, 3200, 7500, -11),
    "Drive 2": AmpVoicing(90, 2000, 5, 0.9, 10, (0.25, 0.55, 0.2), (6, 0.20, 0.7, 0.2),
                          130, 8000, 120, 550, 1700, 4200, 900, 2, 3800, 8000, -12),
    "Crunch 1": AmpVoicing(50, 1200, 3, 0.6, 2, (0.20, 0.60, 0.1), None,
                           100, 9000, 100, 400, 1300, 3500, 400, -2, 3000, 9000, -8),
    "Crunch 2": AmpVoicing(120, 3000, 6, 0.7, 4, (0.30, 0.50, 0.15), None,
                           100, 9000, 130, 500, 1800, 4000, 1200, 4, 4000, 8500, -9),
    "Clean 1": AmpVoicing(40, 3000, 2, 0.7, -8, (0.10, 0.85, 0.0), None,
                          100, 10000, 80, 450, 1600, 3000, 500, -5, 4000, 10000, 0.5),
    "Clean 2": AmpVoicing(40, 800, 0, 0.7, -10, (0.0, 1.0, 0.5), None,
                          100, 12000, 100, 600, 2000, 5000, 2500, 2, 5000, 12000, 1),
    "Solid": AmpVoicing(60, 1000, 3, 0.7, 6, (0.0, 1.0, 1.0), None,
                        100, 6000, 100, 500, 1500, 3500, 900, -3, 3500, 6000, -9.5),
}


def _voicing(label) -> AmpVoicing:
    voicing = AMP_VOICINGS.get(label)
    if voicing is None:
        raise EmulationError(f"amplifier_type={label!r} is not an amp type; expected one of "
                             f"{', '.join(AMP_VOICINGS)}")
    return voicing


def rbj_sections(sample_rate, specs):
    """RBJ sections for (kind, f0_hz, q, gain_db) specs, leaving out 0 dB peaks and shelves."""
    return [rbj_biquad(kind, f0, sample_rate, q=q, gain_db=g) for kind, f0, q, g in specs
            if not (kind in ("peaking", "lowshelf", "highshelf") and g == 0.0)]


class AmpStage:
    """Preamp, tone stack and power section of one amp type (no gate, no speaker).

    Parameters
    ----------
    params : dict
        Physical values of amplifier_type, preamp_gain, master_volume, master_tone,
        treble, hi_mid, lo_mid, bass, presence (other keys are ignored).
    sample_rate : int
        Sample rate in Hz.
    """

    KEYS = ("amplifier_type", "preamp_gain", "master_volume", "master_tone", "treble", "hi_mid",
            "lo_mid", "bass", "presence")

    def __init__(self, params: dict, sample_rate: int):
        require_keys(params, self.KEYS, stage="AmpStage")
        v = _voicing(params["amplifier_type"])
        self.voicing = v
        sr = sample_rate
        pre = rbj_sections(sr, [("highpass", v.hp_hz, 0.7071, 0.0),
                             ("peaking", v.pre_hz, v.pre_q, v.pre_db)])
        hz = {k: getattr(v, k) * variant_value(k) for k in
              ("bass_hz", "lo_mid_hz", "hi_mid_hz", "treble_hz", "presence_hz")}
        post = rbj_sections(sr, [
            ("lowshelf", hz["bass_hz"], 0.7071, knob_value("bass", params["bass"])),
            ("peaking", hz["lo_mid_hz"], 0.9, knob_value("lo_mid", params["lo_mid"])),
            ("peaking", hz["hi_mid_hz"], 0.9, knob_value("hi_mid", params["hi_mid"])),
            ("highshelf", hz["treble_hz"], 0.7071, knob_value("treble", params["treble"])),
            ("peaking", v.voice_hz, 0.8, v.voice_db),
            ("highshelf", hz["presence_hz"], 0.7071, knob_value("presence", params["presence"])),
            ("highshelf", MASTER_TONE_HZ * variant_value("master_tone_hz"), 0.6,
             knob_value("master_tone", params["master_tone"])),
            ("lowpass", v.post_lp_hz, 0.7071, 0.0),
            ("highpass", DC_BLOCK_HZ, 0.7071, 0.0)])
        gain_db = (v.base_gain_db + variant_value("drive_base_db")
                   + knob_value("preamp_gain", params["preamp_gain"]))
        out_gain = (db_to_gain(v.trim_db + variant_value("front_level_db"))
                    * knob_value("master_volume", params["master_volume"]))
        self._drive = v.drive_core(sr, pre_sections=pre, post_sections=post,
                                   gain_in=db_to_gain(gain_db), gain_out=out_gain)
        self.reset()

    def reset(self) -> None:
        """Clear every filter and the drive stages."""
        self._drive.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Run mono ``x`` (n,) through the amp; returns (n,)."""
        return self._drive.process(x)


class SpeakerStage:
    """Speaker simulation: convolution with a cabinet IR, or pass-through for "Off".

    Parameters
    ----------
    params : dict
        Physical value of ``speaker_type``.
    sample_rate : int
        Sample rate in Hz.
    """

    def __init__(self, params: dict, sample_rate: int):
        require_keys(params, ("speaker_type",), stage="SpeakerStage")
        label = params["speaker_type"]
        self._conv = None if label == "Off" else FirConvolver(cabinet_ir(label, int(sample_rate)))

    def reset(self) -> None:
        """Forget the convolution tail."""
        if self._conv is not None:
            self._conv.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter mono ``x`` (n,) through the cabinet; returns (n,)."""
        if self._conv is None:
            return np.array(x, dtype=np.float64, copy=True)
        return self._conv.process(x)


class MonoStageChain(Processor):
    """Base of the single types built from mono stages: ``STAGES`` in series, L = R out.

    Each class in ``STAGES`` is built as ``cls(params, sample_rate)`` and has
    ``reset()`` and ``process(x) -> y`` on mono blocks.
    """

    STAGES: tuple = ()

    def _setup(self) -> None:
        self._stages = tuple(cls(self.params, self.sample_rate) for cls in self.STAGES)

    def reset(self) -> None:
        for stage in self._stages:
            stage.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        y = x
        for stage in self._stages:
            y = stage.process(y)
        return np.column_stack((y, y))


class AmpSimulator(MonoStageChain):
    """Amp Simulator (0x08): noise gate -> amp -> speaker; mono in, L = R out."""

    STAGES = (NoiseGateStage, AmpStage, SpeakerStage)
