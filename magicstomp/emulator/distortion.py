"""Distortion (0x2F) and the reusable distortion stage with its pre and post EQs.

Signal path of :class:`DistortionStage`::

    3-band parametric pre-EQ (pre_frequency/gain/bandwidth_1..3) x pre_eq_level
    -> voicing input high-pass and pre-emphasis -> preamp gain
    -> DriveCore (1 or 2 clipping stages at 2x rate)
    -> voicing peak/scoop -> master tone (treble cut) -> 4-band parametric post-EQ
    -> voicing post low-pass, DC blocker -> trim x master volume

All EQ bands are RBJ peaking filters whose gain at the set frequency is exactly
the set gain and whose Q is the table's bandwidth value. "Bypass" skips the
drive (and the voicing filters) but keeps both EQs and the levels. The six
amp-named types (Lead, Drive, Crunch) share the amp voicings' clipping stages;
Fuzz, Distortion, Overdrive, Tube and Solid State have their own.
The Distortion type runs noise gate -> distortion and outputs L = R.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..errors import EmulationError
from .amp import (AMP_VOICINGS, DC_BLOCK_HZ, MASTER_TONE_HZ, DriveVoicing, MonoStageChain,
                  rbj_sections)
from .dsp import db_to_gain, rbj_biquad
from .dynamics import NoiseGateStage
from .mappings import knob_value, require_keys, variant_value
from .shaper import BiquadChain


@dataclass(frozen=True)
class DistortionVoicing(DriveVoicing):
    """Fixed character of one distortion type: the drive front, a voice peak, post LP, trim."""

    voice_hz: float
    voice_db: float
    post_lp_hz: float
    trim_db: float


def _from_amp(name: str, post_lp_hz: float, trim_db: float) -> DistortionVoicing:
    a = AMP_VOICINGS[name]
    front = {f.name: getattr(a, f.name) for f in fields(DriveVoicing)}
    return DistortionVoicing(**front, voice_hz=a.voice_hz, voice_db=a.voice_db,
                             post_lp_hz=post_lp_hz, trim_db=trim_db)


#: distortion type label -> voicing; None = "Bypass" (no drive, unity level). Columns: hp,
#: pre peak (Hz, dB, Q), base gain, stage1, stage2, inter-stage HP/LP, voice (Hz, dB), post
#: LP, trim. Trims: jazz DI, gain 5, master 10, flat EQs -> -14 +/- 0.5 dBFS RMS per type.
DISTORTION_VOICINGS = {
    "Lead 1": _from_amp("Lead 1", 5500, -13.5),
    "Lead 2": _from_amp("Lead 2", 6000, -11),
    "Drive 1": _from_amp("Drive 1", 6500, -11),
    "Drive 2": _from_amp("Drive 2", 7000, -12),
    "Crunch 1": _from_amp("Crunch 1", 7500, -8),
    "Crunch 2": _from_amp("Crunch 2", 7500, -9),
    "Fuzz 1": DistortionVoicing(60, 300, 3, 0.7, 6, (0.15, 0.40, 0.7), (12, 0.10, 0.5, 0.9),
                                80, 4000, 1000, -3, 5500, -14.5),
    "Fuzz 2": DistortionVoicing(40, 600, 2, 0.7, 16, (0.20, 0.35, 0.9), None,
                                100, 8000, 800, -2, 6000, -16),
    "Distortion 1": DistortionVoicing(100, 1000, 6, 0.6, 20, (0.0, 1.0, 0.9), None,
                                      100, 8000, 700, 0, 4500, -12.5),
    "Distortion 2": DistortionVoicing(90, 1500, 4, 0.7, 18, (0.05, 0.95, 1.0), None,
                                      100, 8000, 500, -4, 6000, -11),
    "Overdrive 1": DistortionVoicing(200, 720, 8, 0.7, 6, (0.0, 1.0, 0.0), None,
                                     100, 8000, 720, 2, 5000, -10),
    "Overdrive 2": DistortionVoicing(150, 1800, 5, 0.7, 8, (0.10, 0.80, 0.2), (4, 0.05, 0.9, 0.1),
                                     120, 7000, 600, 0, 8000, -9.5),
    "Tube": DistortionVoicing(40, 1000, 0, 0.7, 4, (0.30, 0.50, 0.0), (6, 0.20, 0.6, 0.0),
                              90, 9000, 400, 1, 9000, -11),
    "Solid State": DistortionVoicing(60, 1200, 2, 0.7, 10, (0.0, 1.0, 1.0), None,
                                     100, 8000, 900, -2, 7000, -10.5),
    "Bypass": None,
}


def _peaking(sample_rate, bands):
    """RBJ peaking sections for (f0_hz, gain_db, q) bands, leaving out 0 dB bands."""
    return rbj_sections(sample_rate, [("peaking", float(f0), float(q), float(g))
                                      for f0, g, q in bands])


class DistortionStage:
    """Pre-EQ, drive, master tone and post-EQ of the Distortion types (no gate).

    Parameters
    ----------
    params : dict
        Physical values of distortion_type, pre_eq_level, preamp_gain, master_volume,
        master_tone, pre_{frequency,gain,bandwidth}_{1..3}_*,
        post_{frequency,gain,bandwidth}_{1..4}_* (other keys are ignored).
    sample_rate : int
        Sample rate in Hz.
    """

    KEYS = ("distortion_type", "pre_eq_level", "preamp_gain", "master_volume", "master_tone",
            *(f"pre_{k}_{i}_{u}" for i in (1, 2, 3)
              for k, u in (("frequency", "hz"), ("gain", "db"), ("bandwidth", "q"))),
            *(f"post_{k}_{i}_{u}" for i in (1, 2, 3, 4)
              for k, u in (("frequency", "hz"), ("gain", "db"), ("bandwidth", "q"))))

    def __init__(self, params: dict, sample_rate: int):
        require_keys(params, self.KEYS, stage="DistortionStage")
        label = params["distortion_type"]
        if label not in DISTORTION_VOICINGS:
            raise EmulationError(f"distortion_type={label!r} is not a distortion type; expected "
                                 f"one of {', '.join(DISTORTION_VOICINGS)}")
        v = DISTORTION_VOICINGS[label]
        sr = sample_rate
        p = params
        pre_bands = [(p[f"pre_frequency_{i}_hz"], p[f"pre_gain_{i}_db"], p[f"pre_bandwidth_{i}_q"])
                     for i in (1, 2, 3)]
        post_bands = [(p[f"post_frequency_{i}_hz"], p[f"post_gain_{i}_db"],
                       p[f"post_bandwidth_{i}_q"]) for i in (1, 2, 3, 4)]
        tone = ("highshelf", MASTER_TONE_HZ * variant_value("master_tone_hz"), 0.6,
                knob_value("master_tone", p["master_tone"]))
        level_in = knob_value("pre_eq_level", p["pre_eq_level"])
        drive_gain_db = knob_value("preamp_gain", p["preamp_gain"])
        post_eq = _peaking(sr, post_bands)
        out_gain = knob_value("master_volume", p["master_volume"])
        tone_sections = rbj_sections(sr, [tone])
        if v is None:                       # Bypass: EQs and levels only
            self._drive = None
            self._pre = BiquadChain(_peaking(sr, pre_bands))
            self._post = BiquadChain(tone_sections + post_eq)
            self._gains = (level_in, out_gain)
        else:
            pre = _peaking(sr, pre_bands) + [rbj_biquad("highpass", v.hp_hz, sr),
                                             *_peaking(sr, [(v.pre_hz, v.pre_db, v.pre_q)])]
            post = (_peaking(sr, [(v.voice_hz, v.voice_db, 0.8)]) + tone_sections + post_eq
                    + [rbj_biquad("lowpass", v.post_lp_hz, sr),
                       rbj_biquad("highpass", DC_BLOCK_HZ, sr)])
            self._drive = v.drive_core(
                sr, pre_sections=pre, post_sections=post,
                gain_in=level_in * db_to_gain(v.base_gain_db + variant_value("drive_base_db")
                                              + drive_gain_db),
                gain_out=db_to_gain(v.trim_db + variant_value("front_level_db")) * out_gain)
        self.reset()

    def reset(self) -> None:
        """Clear the EQs and the drive stages."""
        if self._drive is not None:
            self._drive.reset()
        else:
            self._pre.reset()
            self._post.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        """Run mono ``x`` (n,) through the distortion; returns (n,)."""
        if self._drive is not None:
            return self._drive.process(x)
        y = self._pre.process(x)
        y *= self._gains[0]
        y = self._post.process(y)
        y *= self._gains[1]
        return y


class Distortion(MonoStageChain):
    """Distortion (0x2F): noise gate -> distortion stage; mono in, L = R out."""

    STAGES = (NoiseGateStage, DistortionStage)
