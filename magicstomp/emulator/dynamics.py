"""Dynamics: the Compressor type (0x36) and the reusable compressor and noise-gate stages.

Compressor (feed-forward, log domain, after Giannoulis, Massberg & Reiss, JAES 2012):

* level detector: mean square over a 5 ms one-pole window, read as the level of
  a sine, ``L = 10 log10(2 ms)`` dBFS (a full-scale sine reads 0 dBFS);
* static curve: above ``threshold_db`` the level rises 1/``ratio`` dB per dB
  ("inf" = limiter), with a quadratic soft knee of the width set by ``knee``
  (see ``mappings.py``);
* ballistics: the gain change in dB follows a one-pole smoother with the attack
  time constant while the reduction grows and the release time constant while it
  shrinks (0 ms attack = instant);
* make-up gain ``gain_db`` after the curve.

Noise gate (the amp and distortion types' gate):

* detector: peak envelope, instant rise, 20 ms exponential fall;
* opens when the envelope reaches the threshold (``gate_threshold``, 0-10 knob,
  mapped in ``mappings.py``; 0 = gate off) and starts closing once the envelope
  is 3 dB below it (hysteresis) and the hold time has passed;
* gain ramps linearly from 0 to 1 in ``gate_attack_ms`` and from 1 to 0 in
  ``gate_decay_time_ms`` (so the gate is fully shut exactly hold + decay after
  the signal fell below the threshold).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .base import Processor
from .mappings import knob_value, require_keys

DETECTOR_RMS_MS = 5.0
GATE_RELEASE_MS = 20.0
GATE_HYSTERESIS_DB = 3.0
_TINY = 1e-30
_DB_PER_NEPER_POWER = 10.0 / math.log(10.0)   # 10 log10(p) = this * ln(p)
_NEPER_PER_DB = math.log(10.0) / 20.0          # 10 ** (db / 20) = exp(db * this)
_GAIN_FLOOR_DB = 1e-9   # gain reductions smaller than this are released to exactly 0 dB

#: standalone Compressor key -> the shared key the stage reads
_STANDALONE_KEYS = {
    "threshold_db": "compressor_threshold_db", "ratio": "compressor_ratio",
    "attack_time_ms": "compressor_attack_ms", "release_time_ms": "compressor_release_ms",
    "knee": "compressor_knee", "gain_db": "compressor_gain_db",
}


def _coeff(time_ms: float, sample_rate: int) -> float:
    """One-pole smoothing coefficient for a time constant (0 ms -> 0 = instant)."""
    return 0.0 if time_ms <= 0 else math.exp(-1000.0 / (time_ms * sample_rate))


@numba.njit(cache=True)
def _compress(x, cfg, state):
    # cfg: k_rms, threshold_db, slope (1/ratio - 1), knee_db, a_att, a_rel, makeup_db,
    #      mean square at the knee's lower end, make-up gain (linear)
    k_rms, thr, slope, knee = cfg[0], cfg[1], cfg[2], cfg[3]
    a_att, a_rel, makeup, ms_knee, makeup_lin = cfg[4], cfg[5], cfg[6], cfg[7], cfg[8]
    ms, gs = state[0], state[1]
    y = np.empty_like(x)
    for i in range(x.size):
        ms += k_rms * (x[i] * x[i] - ms)
        if ms < _TINY:
            ms = 0.0
        gc = 0.0
        if ms > ms_knee:                    # below the knee the curve is flat: no log needed
            over = _DB_PER_NEPER_POWER * math.log(2.0 * ms) - thr
            if 2.0 * over < knee:
                gc = slope * (over + 0.5 * knee) ** 2 / (2.0 * knee)
            else:
                gc = slope * over
        a = a_att if gc < gs else a_rel
        gs = a * gs + (1.0 - a) * gc
        if gs > -_GAIN_FLOOR_DB:            # fully released: exactly no reduction
            gs = 0.0
        y[i] = x[i] * (makeup_lin if gs == 0.0 else math.exp((gs + makeup) * _NEPER_PER_DB))
    state[0], state[1] = ms, gs
    return y


class CompressorStage:
    """Feed-forward compressor reading the multis' ``compressor_*`` keys.

    Parameters
    ----------
    params : dict
        Physical values: compressor_threshold_db, compressor_ratio (number or
        "inf"), compressor_attack_ms, compressor_release_ms, compressor_knee
        ("Hard", "1".."5"), compressor_gain_db.
    sample_rate : int
        Sample rate in Hz.
    """

    KEYS = ("compressor_threshold_db", "compressor_ratio", "compressor_attack_ms",
            "compressor_release_ms", "compressor_knee", "compressor_gain_db")

    def __init__(self, params: dict, sample_rate: int):
        require_keys(params, self.KEYS, stage="CompressorStage")
        ratio = params["compressor_ratio"]
        slope = -1.0 if isinstance(ratio, str) else 1.0 / float(ratio) - 1.0
        self._cfg = np.array([
            1.0 - _coeff(DETECTOR_RMS_MS, sample_rate),
            float(params["compressor_threshold_db"]), slope,
            knob_value("compressor_knee", params["compressor_knee"]),
            _coeff(float(params["compressor_attack_ms"]), sample_rate),
            _coeff(float(params["compressor_release_ms"]), sample_rate),
            float(params["compressor_gain_db"])])
        knee_db, threshold_db = self._cfg[3], self._cfg[1]
        self._cfg = np.append(self._cfg, [0.5 * 10.0 ** ((threshold_db - 0.5 * knee_db) / 10.0),
                                          10.0 ** (float(params["compressor_gain_db"]) / 20.0)])
        self._bypass = slope == 0.0
        self._makeup = 10.0 ** (float(params["compressor_gain_db"]) / 20.0)
        self.reset()

    def reset(self) -> None:
        """Detector and gain smoother back to silence (no gain reduction)."""
        self._state = np.zeros(2)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Compress mono ``x`` (n,); returns (n,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if self._bypass:                       # 1:1 - only the make-up gain acts
            return x * self._makeup
        return _compress(x, self._cfg, self._state)


@numba.njit(cache=True)
def _gate(x, cfg, state):
    # cfg: open_level, close_level, release coeff, hold samples, attack step, decay step
    thr_open, thr_close, a_rel, hold, up, down = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4], cfg[5]
    env, gain, left, is_open = state[0], state[1], state[2], state[3]
    y = np.empty_like(x)
    for i in range(x.size):
        mag = abs(x[i])
        env = mag if mag > env else a_rel * env
        if env < _TINY:
            env = 0.0
        if env >= (thr_close if is_open > 0.0 else thr_open):
            is_open, left = 1.0, hold
        elif left > 0.0:
            left -= 1.0
        else:
            is_open = 0.0
        gain = min(1.0, gain + up) if is_open > 0.0 else max(0.0, gain - down)
        y[i] = x[i] * gain
    state[0], state[1], state[2], state[3] = env, gain, left, is_open
    return y


class NoiseGateStage:
    """Noise gate on the shared keys gate_threshold, gate_attack_ms, gate_hold_time_ms, gate_decay_time_ms.

    Parameters
    ----------
    params : dict
        Physical values of the four gate keys.
    sample_rate : int
        Sample rate in Hz.
    """

    KEYS = ("gate_threshold", "gate_attack_ms", "gate_hold_time_ms", "gate_decay_time_ms")

    def __init__(self, params: dict, sample_rate: int):
        require_keys(params, self.KEYS, stage="NoiseGateStage")
        threshold_db = knob_value("gate_threshold", params["gate_threshold"])
        self.enabled = threshold_db is not None
        self.threshold_db = threshold_db
        if self.enabled:
            attack = float(params["gate_attack_ms"]) * 1e-3 * sample_rate
            decay = float(params["gate_decay_time_ms"]) * 1e-3 * sample_rate
            self._cfg = np.array([
                10.0 ** (threshold_db / 20.0),
                10.0 ** ((threshold_db - GATE_HYSTERESIS_DB) / 20.0),
                _coeff(GATE_RELEASE_MS, sample_rate),
                round(float(params["gate_hold_time_ms"]) * 1e-3 * sample_rate),
                1.0 if attack < 1.0 else 1.0 / attack,
                1.0 if decay < 1.0 else 1.0 / decay])
        self.reset()

    def reset(self) -> None:
        """Gate closed, envelope empty."""
        self._state = np.zeros(4)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Gate mono ``x`` (n,); returns (n,)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if not self.enabled:
            return x.copy()
        return _gate(x, self._cfg, self._state)


class Compressor(Processor):
    """Compressor (0x36): :class:`CompressorStage` on the standalone keys; mono in, L = R out."""

    def _setup(self) -> None:
        shared = {_STANDALONE_KEYS[k]: v for k, v in self.params.items() if k in _STANDALONE_KEYS}
        self._stage = CompressorStage(shared, self.sample_rate)

    def reset(self) -> None:
        self._stage.reset()

    def process(self, x: np.ndarray) -> np.ndarray:
        y = self._stage.process(x)
        return np.column_stack((y, y))
