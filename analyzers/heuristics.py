"""The initial patch: measure the target (and the DI) and fill a NeutralPatch.

With a DI (the usual case) the target is the DI through the rig, so the rig is
measured, not guessed:

* the DI is aligned to the target, then the rig's **impulse response** is
  estimated by regularised deconvolution, ``H = T D* / (|D|^2 + 0.01 mean|D|^2)``
  (the best linear fit, also for a driven amp);
* **delay**: echoes are found in that response by a matched filter against its
  own direct sound (:mod:`analyzers.echo`: shape correlation, isolation from
  neighbouring peaks, a confidence; sub-sample time measured from the direct
  sound, so an amp's latency and a chorus in front do not bias it; behind a
  driven amp also in the response to the DI through clippers,
  :func:`analyzers.echo.hear_echoes`); the most confident is the delay time,
  its first repeat's ratio the feedback, its gain against the direct sound the mix;
* **reverb**: what remains of the response after the direct sound and the
  echoes; its energy against the direct sound gives the mix; the decay time
  and pre-delay come from a model of the response's smeared energy
  (:mod:`analyzers.reverb_fit`) or, behind a driven amp, from the target's tails
  where the DI stops (``tail_decay_s``); see :func:`measure_reverb`;
* **modulation**: the per-band level ratio target/DI over time (10 ms frames);
  the strongest peak of its spectrum between 0.2 and 12 Hz is the rate, the
  size of the swing the depth; in-phase across bands = tremolo, else chorus;
* **gain**: the part of the target a linear system cannot explain (one minus the
  coherence with the DI through the estimated response; 0.05 = clean, 0.5 = full
  gain, square-root taper); the crest-factor drop (12 dB = full gain) when a tremolo breaks
  the coherence;
  **treble/presence/booster**: the change of the 1.5-6 kHz tilt and centroid.

Without a DI the seed's rules are used (:mod:`analyzers.seed_rules`): gain
~ 1 - flatness, delay from the autocorrelation of the onset envelope, reverb
from the late/early energy ratio (0.08-0.6 s against 0-0.08 s after onsets),
modulation from the 0.2-6 Hz peak of the RMS envelope, booster when the tilt
exceeds 3 dB and the centroid 2.2 kHz. Either way the tempo comes from the
backend and a ``dotted_8th`` tag
is added when the delay is 0.75 beat (within 5 %).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

from magicstomp.neutral import NeutralPatch

from .alignment import align, apply_alignment, parabolic_offset
from .echo import LEAD_S, delay_from_echoes, echo_response, hear_echoes
from .factory import get_analyzer
from .fill import DELAY_RANGE_S, fill_effects
from .modulation import measured_modulation
from .response import IR_SECONDS, impulse_response
from .reverb import dry_level_db, tail_excess_db
from .reverb_fit import fit_reverb
from .seed_rules import from_target_only

LONG_IR_S = 8.0               # the reverb's level slope needs noise-only lags at the end
TAIL_EXCESS_DB = (6.0, 22.0)  # a response's tail this far over the DI's self-response = reverb
FIT_RMS_DB, FIT_GAIN_DB = 3.0, 0.4   # see _fit_hears_reverb
WET_ONLY_EXCESS_DB = 40.0     # ... or this far: a wet-only reverb
MAX_DECAY_S = 10.0            # longer "decays" are not reverbs: the response fit's grid ends at
                              # 12 s (a static EQ read 13.3 s there), a driven amp's sustain
                              # reads 11-18 s through the tails (measured on reverb-free renders)
NONLINEARITY_FULL = 0.5       # nonlinearity index that maps to amp_gain 1.0 (Heavy 1 at 10)
NONLINEARITY_CLEAN = 0.05     # below this a tone counts as clean (chorus, estimation noise)
ECHO_PROMINENCE = 10.0        # an echo stands 20 dB above its ±50 ms neighbourhood
ECHO_CANDIDATES = 4           # echo-time guesses handed to the search
CANDIDATE_PROMINENCE = 2.5    # a guess stands 8 dB above its ±50 ms neighbourhood
GAP_DB = 20.0                 # target this far above the DI's prediction = a tail
GAP_MIN_S = 0.15             # (0.25 s and 15 dB over the floor missed 4 of 5 multis' short
TAIL_OVER_FLOOR_DB = 10.0    # reverbs over a driven amp's hiss)
TAIL_SKIP_DB = 5.0
TAIL_OVER_DRY_DB = 15.0      # a reverb behind a driven amp stands 18-22 dB over the compressed
                             # dry level somewhere, a driven amp's sustain 4-9 dB
TAIL_BAND_HZ = (500.0, 4000.0)   # mid band: where a reverb time is quoted (lows ring longer)


def _smooth_env(h: np.ndarray, sample_rate: int, window_s: float = 0.001) -> np.ndarray:
    w = max(1, int(window_s * sample_rate))
    return np.sqrt(np.convolve(h ** 2, np.ones(w) / w, mode="same"))


def nonlinearity_index(target: np.ndarray, di: np.ndarray, h: np.ndarray,
                       sample_rate: int) -> float:
    """How much of the target a linear system cannot explain, 0 (linear) to 1.

    One minus the power-weighted magnitude-squared coherence (60 Hz-8 kHz, 85 ms
    Welch segments) between the target and the DI convolved with the estimated
    impulse response ``h`` (so echoes and reverb longer than a segment count as
    linear). Distortion creates harmonics the DI does not hold: on the virtual
    Amp Simulator it rises monotonically with the preamp gain (Heavy 1: 0.18 at
    gain 0 to 0.52 at 10; Clean 1: 0.002 to 0.1).
    """
    prediction = scipy.signal.fftconvolve(di, h)[:target.size]
    seg = 1 << int(np.ceil(np.log2(0.085 * sample_rate)))
    f, coh = scipy.signal.coherence(target, prediction, fs=sample_rate, nperseg=seg)
    _, power = scipy.signal.welch(target, fs=sample_rate, nperseg=seg)
    sel = (f > 60.0) & (f < 8000.0)
    total = float(np.sum(power[sel]))
    if total <= 0:
        return 0.0
    return float(np.clip(1.0 - np.sum(coh[sel] * power[sel]) / total, 0.0, 1.0))


def find_delay(h: np.ndarray, sample_rate: int) -> dict | None:
    """Echo time/feedback/mix from an impulse response; None when it holds no sparse echo.

    An echo must stand 20 dB above its ±50 ms neighbourhood (a reflection inside
    a diffuse tail does not) and be at most 12 dB above the direct sound.
    """
    env = _smooth_env(h, sample_rate)
    direct_end = int(0.005 * sample_rate)
    a0 = float(env[:direct_end].max())
    lo, hi = (int(s * sample_rate) for s in DELAY_RANGE_S)
    hi = min(hi, env.size - 1)
    if hi <= lo:
        return None
    region = env[lo:hi]
    p = int(np.argmax(region))
    a1 = float(region[p])
    if a1 < 6.0 * float(np.median(region)) or a1 < 0.03 * a0:
        return None
    near = env[max(0, lo + p - int(0.05 * sample_rate)):lo + p + int(0.05 * sample_rate)]
    if a1 < ECHO_PROMINENCE * float(np.median(near)):     # a reflection inside a diffuse tail
        return None
    guard = int(0.002 * sample_rate)
    k, lag = _sharpest_near(h, lo + p, sample_rate)
    if a1 > 4.0 * a0:     # an "echo" 12 dB over the direct sound: the deconvolution failed
        return None           # (e.g. one sustained note, where the DI resembles itself)
    a1 = float(env[k])
    k2 = int(round(2 * lag))
    a2 = float(env[max(0, k2 - guard):k2 + guard + 1].max()) if k2 + guard < env.size else None
    return {"time_ms": 1000.0 * lag / sample_rate,
            "feedback": None if a2 is None else float(np.clip(a2 / a1, 0.0, 0.95)),
            "mix": float(a1 / (a0 + a1)) if a0 + a1 > 0 else 0.5,
            "echo_db": float(20 * np.log10(max(a1, 1e-12) / max(a0, 1e-12)))}


def echo_candidates(h: np.ndarray, sample_rate: int, *, count: int = ECHO_CANDIDATES,
                    min_prominence: float = CANDIDATE_PROMINENCE) -> list:
    """Lags (ms) of the impulse response's most prominent peaks, the strongest first.

    Prominence is a peak's envelope over the median of its ±50 ms neighbourhood,
    a test that survives what the strict :func:`find_delay` rejects: an echo of a
    driven amp (the nonlinear part spreads over all lags) or one inside a reverb
    tail. Peaks closer than 20 ms to a stronger one are skipped. The list is a
    set of guesses for the search to try, not a measurement: a multi-tap delay
    yields one peak per tap, a room its early reflections.
    """
    env = _smooth_env(h, sample_rate)
    lo, hi = (int(s * sample_rate) for s in DELAY_RANGE_S)
    hi = min(hi, env.size)
    if hi - lo < 3:
        return []
    region = env[lo:hi]
    decim = max(1, int(0.0005 * sample_rate))            # median over 0.5 ms blocks: fast
    blocks = region[:region.size // decim * decim].reshape(-1, decim).mean(axis=1)
    size = 2 * int(0.05 * sample_rate / decim) + 1
    base = np.repeat(scipy.ndimage.median_filter(blocks, size=size, mode="nearest"), decim)
    base = np.pad(base, (0, region.size - base.size), mode="edge")
    prominence = region / np.maximum(base, 1e-12 * max(float(region.max()), 1e-30))
    found, guard = [], int(0.02 * sample_rate)
    for k in np.argsort(prominence)[::-1]:
        if len(found) >= count or prominence[k] < min_prominence:
            break
        if all(abs(k - j) > guard for j, _ in found):
            found.append((int(k), float(prominence[k])))
    out = []
    for k, prom in found:
        _, lag = _sharpest_near(h, lo + k, sample_rate)
        out.append({"time_ms": float(1000.0 * lag / sample_rate), "prominence": prom})
    return out


def _sharpest_near(h: np.ndarray, k0: int, sample_rate: int) -> tuple:
    """(index, sub-sample lag) of the largest |h| within ±2 ms of ``k0`` (an envelope's peak)."""
    mag, near = np.abs(h), int(0.002 * sample_rate)
    a = max(0, k0 - near)
    k = a + int(np.argmax(mag[a:k0 + near + 1]))
    return k, k + parabolic_offset(mag, k)


def find_reverb(h: np.ndarray, sample_rate: int, delay: dict | None) -> dict | None:
    """Decay time (s) and mix of the diffuse part of an impulse response; None if there is none."""
    r = h.copy()
    direct_end = int(0.005 * sample_rate)
    direct_energy = float(np.sum(r[:direct_end] ** 2))
    r[:direct_end] = 0.0
    if delay is not None:                       # remove the echoes (±3 ms around each repeat)
        lag = delay["time_ms"] * 1e-3 * sample_rate
        guard = int(0.003 * sample_rate)
        for m in range(1, int(r.size / lag) + 1):
            c = int(round(m * lag))
            r[max(0, c - guard):c + guard + 1] = 0.0
    tail = r[-int(0.2 * r.size):]
    noise_power = float(np.mean(tail ** 2))      # estimation noise floor (does not decay)
    energy = np.maximum(r ** 2 - noise_power, 0.0)
    total = float(energy.sum())
    if total <= 0.02 * direct_energy or total <= 0:
        return None
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10 * np.log10(np.maximum(edc / edc[0], 1e-12))
    for top, bottom in ((-5.0, -25.0), (-5.0, -15.0)):
        sel = np.nonzero((edc_db <= top) & (edc_db >= bottom))[0]
        if sel.size > 0.02 * sample_rate and edc_db.min() < bottom:
            slope_db_per_s = np.polyfit(sel / sample_rate, edc_db[sel], 1)[0]
            if slope_db_per_s < 0:
                wet = np.sqrt(total)
                return {"decay_s": float(-60.0 / slope_db_per_s),
                        "mix": float(wet / (wet + np.sqrt(max(direct_energy, 1e-20)))),
                        "tail_db": float(10 * np.log10(total / max(direct_energy, 1e-20)))}
    return None


def tail_decay_s(target: np.ndarray, di: np.ndarray, sample_rate: int) -> float | None:
    """Decay time (s to -60 dB) of the target where the DI has stopped (after notes end).

    Frames (10 ms, 0.5-4 kHz) where the target is more than 20 dB above what
    the DI predicts (DI level plus the median loud-frame gain) for at least
    GAP_MIN_S are tails; a line is fitted to the target's level in each, from
    TAIL_SKIP_DB below its start (the dry sound's fall left out, as a T20 starts at
    -5 dB) down to 10 dB above the noise floor. The answer is the median of the
    tails' decay times, weighted by the level range they span. None unless the
    target somewhere stands TAIL_OVER_DRY_DB over the level a driven amp's
    compression explains (:func:`analyzers.reverb.dry_level_db`): its sustain
    after a note otherwise reads as a 1-18 s "decay".
    """
    hop = int(0.01 * sample_rate)
    n_fft = 1 << int(np.ceil(np.log2(0.04 * sample_rate)))
    def level_db(x):
        _, _, z = scipy.signal.stft(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop,
                                    boundary=None, padded=False)
        f = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        band = (f >= TAIL_BAND_HZ[0]) & (f <= TAIL_BAND_HZ[1])
        return 10 * np.log10(np.sum(np.abs(z[band]) ** 2, axis=0) + 1e-20)
    lt, ld = level_db(target), level_db(di)
    if float(np.max(lt - dry_level_db(lt, ld))) < TAIL_OVER_DRY_DB:
        return None                       # nothing a compressed dry sound cannot explain
    loud = ld > ld.max() - 30
    gain = float(np.median(lt[loud] - ld[loud]))
    floor = float(np.percentile(lt, 2))
    tail = (lt > ld + gain + GAP_DB) & (lt > floor + TAIL_OVER_FLOOR_DB)
    runs, start = [], None
    for i, flag in enumerate(np.r_[tail, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start >= GAP_MIN_S / 0.01:
                runs.append((start, i))
            start = None
    estimates = []
    for a, b in runs:
        a = max(0, a - 5)             # from just before the DI fell silent
        seg = lt[a:b]
        stop = np.nonzero(seg < floor + 10)[0]
        seg = seg[:stop[0]] if stop.size else seg
        if seg.size < 10 or seg[0] - seg.min() < 10:
            continue
        peak = int(np.argmax(seg[:10]))
        seg = seg[peak:]
        seg = seg[int(np.argmax(seg < seg[0] - TAIL_SKIP_DB)):]   # the direct sound's fall left out
        if seg.size < 5:
            continue
        t = np.arange(seg.size) * 0.01
        slope = np.polyfit(t, seg, 1)[0]
        if slope < 0:
            estimates.append((-60.0 / slope, float(seg[0] - seg[-1])))
    if not estimates:
        return None
    values, weights = np.array(estimates).T
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _reverb_from_tails(reverb, decay_s, delay):
    """Keep a reverb only when the tails decay, the decay is not just the echoes'
    feedback, and the diffuse energy is plausible (-25 to +40 dB against the direct:
    a wet-only reverb has almost no direct sound)."""
    if reverb is None or decay_s is None or not -25.0 <= reverb["tail_db"] <= 40.0:
        return None
    if delay is not None and delay.get("feedback"):
        fb_db_per_s = 20 * np.log10(max(delay["feedback"], 1e-3)) / (delay["time_ms"] * 1e-3)
        echo_decay_s = -60.0 / fb_db_per_s
        if abs(decay_s - echo_decay_s) <= 0.35 * echo_decay_s:
            return None
    return {**reverb, "decay_s": decay_s, "decay_from": "tails"}


def measure_reverb(placed, dry, h_lead, sample_rate: int, delay) -> dict | None:
    """The reverb's decay (s), mix and pre-delay (ms): decay and pre-delay fitted to the
    response ``h_lead`` (from :func:`analyzers.echo.echo_response`) with the method's own
    smear modelled (:func:`analyzers.reverb_fit.fit_reverb`), else the decay from the
    tails where the DI stops.

    The response is used only for an echo-free rig whose response's tail stands
    TAIL_EXCESS_DB over the DI's self-response: reverbs measured 9-17 dB, a static
    EQ 0 dB, a driven amp's nonlinear residue 25-34 dB (echoes 9-17 dB: excluded);
    a wet-only reverb (almost no direct sound: the Steinmetz pair, 47 dB) passes
    WET_ONLY_EXCESS_DB. A reverb behind a driven amp on continuous playing is
    therefore not measured."""
    h = h_lead[int(LEAD_S * sample_rate):]
    decay_s = tail_decay_s(placed, dry, sample_rate)
    fitted = None
    if delay is None:
        floor = echo_response(dry, dry, sample_rate, seconds=h.size / sample_rate - LEAD_S)
        floor = floor[int(LEAD_S * sample_rate):]
        excess = tail_excess_db(h, floor, sample_rate)
        fitted = fit_reverb(h, floor, sample_rate)       # the response, its smear modelled
        gated = TAIL_EXCESS_DB[0] <= excess <= TAIL_EXCESS_DB[1] or excess >= WET_ONLY_EXCESS_DB
        if fitted is not None and (not (gated or _fit_hears_reverb(fitted))
                                   or fitted["decay_s"] > MAX_DECAY_S):
            fitted = None
    if fitted is not None:
        found = find_reverb(h[:int(IR_SECONDS * sample_rate)], sample_rate, delay) or fitted
        return {"decay_s": fitted["decay_s"], "mix": found["mix"], "tail_db": found["tail_db"],
                "predelay_ms": fitted["predelay_ms"], "decay_from": "response model"}
    if decay_s is None or decay_s > MAX_DECAY_S:
        return None
    return _reverb_from_tails(find_reverb(h[:int(IR_SECONDS * sample_rate)], sample_rate, delay),
                              decay_s, delay)


def _fit_hears_reverb(fitted: dict) -> bool:
    """A decay the response model hears even with little tail excess (a short reverb on busy
    playing, 4 dB): the model fits well (an amp's residue: 8-10 dB off), the decay cuts the
    error of the dry model by FIT_GAIN_DB (reverbs 0.5-0.8 dB, static EQs 0-0.02 dB), and
    the decay is not buried (-25 dB against the direct sound at most)."""
    return (fitted["rms_db"] <= FIT_RMS_DB and fitted["dry_rms_db"] - fitted["rms_db"] >= FIT_GAIN_DB
            and fitted["tail_db"] >= -25.0)

def initial_patch(target, sample_rate: int, *, di=None, backend=None) -> NeutralPatch:
    """Measure ``target`` (and ``di``) and return the device-neutral starting patch.

    Parameters
    ----------
    target : np.ndarray
        Mono target at ``sample_rate``.
    sample_rate : int
        Rate of both signals.
    di : np.ndarray, optional
        The DI the target was played from (same rate); aligned here.
    backend : str or Analyzer, optional
        Feature backend (default: $MAGICSTOMP_ANALYZER or librosa).
    """
    analyzer = get_analyzer(backend)
    target = np.asarray(target, dtype=np.float64)
    feats = {"target": analyzer.describe(target, sample_rate, tempo=di is None)}
    if di is None:
        return from_target_only(target, sample_rate, feats, analyzer)
    di = np.asarray(di, dtype=np.float64)
    alignment = align(target, di, sample_rate)
    length = max(di.size, target.size - alignment.offset_samples)
    placed = apply_alignment(target, alignment, length)
    dry = np.pad(di, (0, length - di.size))
    feats["di"] = analyzer.describe(di, sample_rate)
    feats["alignment"] = alignment.to_dict()
    h_lead = echo_response(placed, dry, sample_rate, seconds=min(LONG_IR_S, length / sample_rate))
    h = h_lead[int(LEAD_S * sample_rate):][:int(IR_SECONDS * sample_rate)]
    echoes = hear_echoes(placed, dry, sample_rate, h_di=h_lead,
                         seconds=min(LONG_IR_S, length / sample_rate))["echoes"]
    delay = delay_from_echoes(echoes)
    feats["echoes"] = [e for e in echoes if e["confidence"] > 0.05]
    feats["echo_candidates"] = _merge_candidates(echoes, echo_candidates(h, sample_rate))
    reverb = measure_reverb(placed, dry, h_lead, sample_rate, delay)
    modulation = measured_modulation(placed[:di.size], di, sample_rate)
    feats.update(delay=delay, reverb=reverb, modulation=modulation)
    t, d = feats["target"], feats["di"]
    crest_drop_db = d["crest_db"] - t["crest_db"]
    if reverb is not None:       # a reverb tail lowers the crest factor without any drive
        crest_drop_db -= min(3.0, 10 * np.log10(1 + 10 ** (reverb["tail_db"] / 10)))
    nonlinearity = nonlinearity_index(placed, dry, h, sample_rate)
    if modulation is not None and modulation["kind"] == "tremolo":
        gain = float(np.clip(crest_drop_db / 12.0, 0.0, 1.0))    # a tremolo breaks coherence
    else:
        gain = float(np.clip((nonlinearity - NONLINEARITY_CLEAN) / (NONLINEARITY_FULL
                                                                     - NONLINEARITY_CLEAN),
                             0.0, 1.0) ** 0.5)
    tilt_change_db = t["tilt_db"] - d["tilt_db"]
    centroid_ratio = t["centroid_hz"] / max(d["centroid_hz"], 1.0)
    feats["derived"] = {"crest_drop_db": crest_drop_db, "tilt_change_db": tilt_change_db,
                        "centroid_ratio": centroid_ratio, "nonlinearity": nonlinearity}
    neutral = NeutralPatch(
        amp_gain=gain,
        amp_treble=float(np.clip(0.5 + tilt_change_db / 24.0, 0.0, 1.0)),
        amp_presence=float(np.clip(0.5 + np.log2(centroid_ratio) / 4.0, 0.0, 1.0)),
        booster=bool(tilt_change_db > 3.0 and centroid_ratio > 1.2),
        tempo_bpm=float(d["tempo_bpm"]) or None, features=feats)
    fill_effects(neutral, delay, reverb, modulation)
    return neutral


def _merge_candidates(echoes: list, peaks: list) -> list:
    """Echo-time guesses for the search: the matched filter's echoes (most confident
    first), then the response's prominent peaks not within 1 ms of one of them."""
    out = [{"time_ms": e["time_ms"], "confidence": e["confidence"]}
           for e in sorted(echoes, key=lambda e: -e["confidence"])
           if e["repeat_of"] is None and e["confidence"] > 0.05]
    for p in peaks:
        if all(abs(p["time_ms"] - o["time_ms"]) > 1.0 for o in out):
            out.append(p)
    return out[:ECHO_CANDIDATES]
