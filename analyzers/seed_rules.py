"""The seed's rules for a target without its DI (used by ``initial_patch(di=None)``).

* gain ~ 1 - spectral flatness; booster when the 1.5-6 kHz tilt exceeds 3 dB and
  the centroid 2.2 kHz;
* delay from the autocorrelation of the onset envelope (lag 25 ms-1.5 s; its
  height gives the mix, the ratio of the second to the first peak the feedback);
* reverb from the late/early energy ratio after onsets (0.08-0.6 s against
  0-0.08 s): ratio > 1 means a tail, decay 0.5 s per unit of ratio, mix
  (ratio - 1) / 6;
* modulation from the 0.2-6 Hz peak of the 10 ms RMS envelope (6x its median).

These are rough by design (a target alone cannot separate the playing from the
effect); with a DI, :mod:`analyzers.heuristics` measures the rig instead.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from magicstomp.neutral import NeutralPatch

from .alignment import parabolic_offset
from .fill import DELAY_RANGE_S, fill_effects


def from_target_only(target, sample_rate, feats, analyzer) -> NeutralPatch:
    """The seed's rules on the target alone (module docstring); ``feats["target"]``
    holds the backend's summary of the target."""
    t = feats["target"]
    env, env_rate = analyzer.onset_envelope(target, sample_rate)
    env = env - env.mean()
    ac = np.correlate(env, env, mode="full")[env.size - 1:]
    ac = ac / ac[0] if ac[0] > 0 else ac
    lo, hi = int(DELAY_RANGE_S[0] * env_rate) + 2, min(int(1.5 * env_rate), ac.size - 1)
    delay = None
    if hi > lo:
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.2:
            k2 = 2 * k
            fb = float(np.clip(ac[k2] / ac[k], 0, 0.9)) if k2 < ac.size else 0.0
            delay = {"time_ms": 1000.0 * (k + parabolic_offset(ac, k)) / env_rate, "feedback": fb,
                     "mix": float(np.clip(ac[k], 0, 0.6))}
    hop = int(0.01 * sample_rate)
    n = target.size // hop * hop
    rms = np.sqrt(np.mean(target[:n].reshape(-1, hop) ** 2, axis=1))      # 10 ms blocks
    onsets = scipy.signal.find_peaks(np.diff(np.log(rms + 1e-9)), height=1.0, distance=30)[0]
    early, late = 0.0, 0.0
    for o in onsets:
        early += float(np.sum(rms[o:o + 8] ** 2))
        late += float(np.sum(rms[o + 8:o + 60] ** 2))
    ratio = late / early if early > 0 else 0.0
    reverb = None
    if ratio > 1.0:
        reverb = {"decay_s": float(np.clip(0.5 * ratio, 0.3, 10.0)),
                  "mix": float(np.clip((ratio - 1.0) / 6.0, 0.0, 0.8))}
    m = rms - rms.mean()
    spec = np.abs(np.fft.rfft(m * np.hanning(m.size), 8 * m.size))
    freqs = np.fft.rfftfreq(8 * m.size, 0.01)
    sel = (freqs >= 0.2) & (freqs <= 6.0)
    modulation = None
    if sel.any() and spec[sel].max() > 6 * np.median(spec[sel]):
        modulation = {"rate_hz": float(freqs[sel][np.argmax(spec[sel])]), "depth": 0.5,
                      "kind": "tremolo"}
    feats.update(delay=delay, reverb=reverb, modulation=modulation,
                 derived={"late_early_ratio": ratio})
    neutral = NeutralPatch(amp_gain=float(np.clip(1.0 - t["flatness"], 0, 1)),
                           booster=bool(t["tilt_db"] > 3.0 and t["centroid_hz"] > 2200.0),
                           tempo_bpm=float(t["tempo_bpm"]) or None, features=feats)
    fill_effects(neutral, delay, reverb, modulation)
    return neutral
