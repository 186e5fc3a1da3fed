"""Echo times measured from the rig's impulse response, relative to its direct sound.

The impulse response ``h`` of the rig (target deconvolved by the DI,
:func:`analyzers.response.impulse_response`) holds the direct response of
whatever sits before the delay (an amp's filters, a chorus's comb: a shape a few
ms long) and, at each echo time T, a copy of that shape scaled by the echo's gain.
So the echo times are found with a **matched filter**: the direct shape is
cross-correlated with the whole response, normalised by the local energy
(a shape correlation in -1..1, which a driven amp's diffuse nonlinear residue
does not reach), and every clear peak is an echo. Measuring T from the
direct shape's own position, not from sample 0, removes what the alignment of
the target to the DI got wrong (an amp delays and may invert the DI), and a
parabola through the correlation's peak gives a sub-sample time.

``measure_echoes`` returns every echo it hears (single, stereo and multi-tap
delays, feedback repeats marked as such), the first one as the delay time,
with a confidence; an empty list means "no echo".

**Behind a driven amp** the target is not a linear function of the DI: most of
it is harmonics the DI does not hold, which a linear deconvolution spreads over
every lag, so the echo drowns (the Amp Multi's delay: about half missed). The
delay follows the amp, though, so the echo is a copy of the *amp's* output, and
a deconvolution by anything closer to that output than the DI sharpens it.
:func:`hear_echoes` therefore also deconvolves by the DI through memoryless
clippers (``tanh`` at DRIVES times the DI's peak level: a crude amp) and keeps the
proxy whose echoes are heard most confidently (the DI itself unless a clipper
beats it by PROXY_MARGIN): on the multis' renders the echo's confidence rises from
0-0.3 to 0.7-0.85. The clippers are tried only when the DI explains little of the
target (its response's direct sound holds less than DRIVEN_SHARE_DB of the
response's energy: driven renders measured -9 to -38 dB, clean ones -0.1 to -5 dB):
on a clean reverb or tremolo a clipper's garbled response can raise a false peak
to 0.58.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.signal

from .alignment import parabolic_offset
from .response import impulse_response

LEAD_S = 0.025                # negative lags kept in the response
DIRECT_SHAPE_S = (0.010, 0.015)   # the direct sound: lags from -10 to +15 ms
ECHO_RANGE_S = (0.02, 2.0)
MIN_SHAPE_CORRELATION = 0.25  # a peak whose shape matches the direct sound at least this well
MIN_PROMINENCE = 3.0          # ... and stands this far above the median of its ±50 ms
MAX_ECHOES = 8
ISOLATION_S = 0.03            # an echo stands over every other peak within ±30 ms ...
ISOLATION_FULL = 2.0          # ... full confidence at twice the next one (a low note's period
                              # makes a comb of equal peaks: not an echo)
REPEAT_TOLERANCE_MS = 1.0     # an echo at a multiple of an earlier one is its feedback repeat
MAX_REPEAT = 8
CLEAN_ROUNDS = 2              # confident echoes removed and the rest searched again; what
CLEAN_GUARD_MS = 5.0          # ... is left within 5 ms of one is its imperfect removal
CLEAR_SHAPE, CLEAR_PROMINENCE = 0.6, 30.0   # ... and clear ones, however close their neighbours
HEARD_CONFIDENCE = 0.4        # below this no echo is reported (false peaks reach 0.3 on 21
                              # echo-free renders of three DIs; true echoes 0.46 and more)
DRIVES = (10.0, 50.0)         # the clipper proxies' gains, against the DI's peak level
PROXY_MARGIN = 0.05           # a proxy must beat the DI's best confidence by this much
PROXY_CONFIDENCE = 0.5        # a proxy's echo needs this (a false 0.42 on a driven low E;
                              # true ones 0.55-0.85)
DRIVEN_SHARE_DB = -8.0        # ... and the DI's response's direct share be below this
SHARE_S = 3.0                 # ... in its first 3 s
SELF_SIMILAR = 0.9            # a proxy's echo where the proxy repeats itself this well is dropped


def echo_response(target: np.ndarray, di: np.ndarray, sample_rate: int, *,
                  seconds: float = 3.0) -> np.ndarray:
    """The rig's impulse response with LEAD_S of negative lags first: ``h[LEAD + k]`` is lag k.

    An approximate alignment can leave the direct sound a few ms before lag 0;
    those lags must not wrap away.
    """
    lead = int(LEAD_S * sample_rate)
    return impulse_response(np.r_[np.zeros(lead), target], np.r_[di, np.zeros(lead)],
                            sample_rate, seconds=seconds + LEAD_S)


def drive_proxy(di: np.ndarray, drive: float) -> np.ndarray:
    """The DI through a memoryless clipper, ``tanh(drive * di / peak)``: a crude driven amp."""
    peak = max(float(np.max(np.abs(di))), 1e-12)
    return np.tanh(drive * np.asarray(di, float) / peak)


def hear_echoes(target: np.ndarray, di: np.ndarray, sample_rate: int, *,
                seconds: float = 3.0, h_di: np.ndarray | None = None) -> dict:
    """``{"echoes", "response", "proxy"}``: the echoes of :func:`measure_echoes` on the
    response to the DI or to the clipper proxy that hears them most confidently (see the
    module's text), that response (:func:`echo_response` layout) and the proxy's name
    ("di" or "drive N"). ``h_di``: the DI's response if already computed."""
    best = None
    for drive in (None, *DRIVES):
        if drive is not None and direct_share_db(best[2], sample_rate) > DRIVEN_SHARE_DB:
            break
        if drive is None and h_di is not None:
            h = h_di
        else:
            source = di if drive is None else drive_proxy(di, drive)
            h = echo_response(target, source, sample_rate, seconds=seconds)
        echoes = measure_echoes(h, sample_rate)
        if drive is not None:
            echoes = [e for e in _unless_self_similar(echoes, source, sample_rate)
                      if e["confidence"] >= PROXY_CONFIDENCE]
        score = max((e["confidence"] for e in echoes if e["repeat_of"] is None), default=0.0)
        margin = 0.0 if best is None else PROXY_MARGIN
        if best is None or score > best[0] + margin:
            best = (score, echoes, h, "di" if drive is None else f"drive {drive:g}")
    return {"echoes": best[1], "response": best[2], "proxy": best[3]}


def _unless_self_similar(echoes: list, source: np.ndarray, sample_rate: int) -> list:
    """``echoes`` with those at a lag where ``source`` repeats itself (normalised
    autocorrelation SELF_SIMILAR or more within ±0.5 ms) left out: a clipped sustained note
    is a square wave, whose response holds a comb at its period (a false 24.3 ms "echo"
    on a low E, 0.99; true echoes 0.1-0.75)."""
    n = scipy.fft.next_fast_len(2 * source.size)
    acf = scipy.fft.irfft(np.abs(scipy.fft.rfft(source, n)) ** 2, n)[:source.size]
    acf = np.abs(acf) / max(float(acf[0]), 1e-300)
    w = max(1, int(0.0005 * sample_rate))
    def similar(e):
        k = int(round(e["time_ms"] * 1e-3 * sample_rate))
        return float(acf[max(0, k - w):k + w + 1].max(initial=0.0)) >= SELF_SIMILAR
    return [e for e in echoes if not similar(e)]


def direct_share_db(h: np.ndarray, sample_rate: int) -> float:
    """Energy of the direct sound (lags DIRECT_SHAPE_S around 0) of the response ``h``
    (:func:`echo_response` layout) against the response's first SHARE_S, in dB."""
    lead = int(LEAD_S * sample_rate)
    before, after = (int(s * sample_rate) for s in DIRECT_SHAPE_S)
    direct = float(np.sum(h[lead - before:lead + after] ** 2))
    total = float(np.sum(h[:lead + int(SHARE_S * sample_rate)] ** 2))
    return float(10 * np.log10(max(direct, 1e-300) / max(total, 1e-300)))


def shape_correlation(h: np.ndarray, sample_rate: int) -> tuple:
    """(lags in samples, signed shape correlation, raw cross-correlation) of the direct
    sound (lags DIRECT_SHAPE_S around 0, tapered) against the response ``h`` (from
    :func:`echo_response`) for lags over ECHO_RANGE_S.

    The direct window is wide enough to hold the direct sound wherever an
    approximate alignment left it and however a narrow-band DI smeared it:
    correlating the echo region with it measures each echo from the direct sound
    itself (an autocorrelation of the response), not from sample 0.
    """
    lead = int(LEAD_S * sample_rate)
    before, after = (int(s * sample_rate) for s in DIRECT_SHAPE_S)
    shape = h[lead - before:lead + after] * scipy.signal.windows.tukey(before + after, 0.2)
    lo, hi = (int(s * sample_rate) for s in ECHO_RANGE_S)
    hi = min(hi, h.size - lead - after - 1)
    if hi <= lo:
        return np.zeros(0, int), np.zeros(0), np.zeros(0), shape
    seg = h[lead - before + lo:lead + after + hi]
    c = scipy.signal.correlate(seg, shape, mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(seg ** 2)])
    local = np.sqrt(np.maximum(energy[shape.size:] - energy[:-shape.size], 1e-30))[:c.size]
    rho = c / (local * max(float(np.linalg.norm(shape)), 1e-30))
    return np.arange(lo, lo + c.size), rho, c, shape


def measure_echoes(h: np.ndarray, sample_rate: int, *, max_echoes: int = MAX_ECHOES) -> list:
    """Echoes heard in the impulse response ``h`` (from :func:`echo_response`), earliest first.

    Each is ``{"time_ms", "gain", "shape_correlation", "prominence", "confidence",
    "repeat_of"}``: the time from the direct sound (sub-sample), the echo's
    amplitude against the direct sound, how well its shape matches the direct
    sound's, how far it stands over its ±50 ms neighbourhood, a confidence 0-1,
    and (for a feedback repeat at a multiple of an earlier echo) that echo's time.
    An empty list: no echo.

    The confident echoes are then removed from the response (their gain times the
    direct shape, CLEAN-style) and the rest is searched again, CLEAN_ROUNDS times: two
    taps closer than ISOLATION_S (a stereo delay's 690.9 and 705.0 ms) otherwise
    lower each other's isolation below the confidence an echo needs.
    """
    echoes, shape = _echo_pass(h, sample_rate, max_echoes)
    echoes = _reheard_apart(h, shape, echoes, sample_rate, max_echoes)
    for _ in range(CLEAN_ROUNDS):
        sure = [e for e in echoes if e["confidence"] >= HEARD_CONFIDENCE]
        if not sure:
            break
        found, _ = _echo_pass(_subtract_echoes(h, shape, sure, sample_rate), sample_rate, max_echoes)
        new = [e for e in found if e["confidence"] >= HEARD_CONFIDENCE
               and all(abs(e["time_ms"] - o["time_ms"]) > CLEAN_GUARD_MS for o in sure)]
        if not new:
            break
        echoes = [e for e in echoes if all(abs(e["time_ms"] - n["time_ms"]) > REPEAT_TOLERANCE_MS
                                           for n in new)] + new
    echoes.sort(key=lambda e: e["time_ms"])
    _mark_repeats(echoes)
    return echoes


def _reheard_apart(h, shape, echoes: list, sample_rate: int, max_echoes: int) -> list:
    """Each clear echo (shape correlation CLEAR_SHAPE, prominence CLEAR_PROMINENCE) that is
    not confident, heard again with the other clear or confident echoes removed: a tap
    next to another is then isolated."""
    def clear(e):
        return abs(e["shape_correlation"]) >= CLEAR_SHAPE and e["prominence"] >= CLEAR_PROMINENCE
    others = [e for e in echoes if e["confidence"] >= HEARD_CONFIDENCE or clear(e)]
    out = []
    for e in echoes:
        if e["confidence"] < HEARD_CONFIDENCE and clear(e) and len(others) > 1:
            rest = [o for o in others if o is not e]
            found, _ = _echo_pass(_subtract_echoes(h, shape, rest, sample_rate), sample_rate, max_echoes)
            near = [f for f in found if abs(f["time_ms"] - e["time_ms"]) <= 0.5]
            if near and near[0]["confidence"] > e["confidence"]:
                e = {**near[0], "gain": e["gain"]}
        out.append(e)
    return out


def _subtract_echoes(h: np.ndarray, shape: np.ndarray, echoes: list, sample_rate: int) -> np.ndarray:
    """``h`` less each echo's gain times the direct shape at its (sub-sample) time."""
    out = h.copy()
    lead = int(LEAD_S * sample_rate)
    before = int(DIRECT_SHAPE_S[0] * sample_rate)
    n = shape.size + 2
    spec = np.fft.rfft(shape, n)
    freqs = np.fft.rfftfreq(n)
    for e in echoes:
        lag = e["time_ms"] * 1e-3 * sample_rate
        start = int(np.floor(lag))
        moved = np.fft.irfft(spec * np.exp(-2j * np.pi * freqs * (lag - start)), n)
        a = lead - before + start
        if a < lead or a + n > out.size:
            continue
        out[a:a + n] -= e["gain"] * moved
    return out


def _echo_pass(h: np.ndarray, sample_rate: int, max_echoes: int) -> tuple:
    """(echoes without repeat marks, direct shape): one matched-filter pass over ``h``."""
    lags, rho, c, shape = shape_correlation(h, sample_rate)
    if lags.size < 3:
        return [], shape
    strength = np.abs(rho) * np.abs(c)                       # shape match x amplitude
    decim = max(1, int(0.0005 * sample_rate))
    blocks = strength[:strength.size // decim * decim].reshape(-1, decim).max(axis=1)
    base = np.repeat(scipy.ndimage.median_filter(blocks, size=2 * int(0.05 * sample_rate / decim) + 1,
                                                 mode="nearest"), decim)
    base = np.pad(base, (0, strength.size - base.size), mode="edge")
    prominence = strength / np.maximum(base, 1e-12 * max(float(strength.max()), 1e-30))
    peaks, _ = scipy.signal.find_peaks(strength, distance=max(1, int(0.01 * sample_rate)))
    keep = [int(i) for i in peaks if abs(rho[i]) >= MIN_SHAPE_CORRELATION
            and prominence[i] >= MIN_PROMINENCE]
    keep = sorted(keep, key=lambda i: -strength[i])[:max_echoes]
    norm2 = max(float(np.dot(shape, shape)), 1e-30)
    echoes = []
    near, guard = int(ISOLATION_S * sample_rate), int(0.001 * sample_rate)
    for i in sorted(keep):
        lag = lags[i] + parabolic_offset(np.abs(c), i)
        around = strength[max(0, i - near):i + near + 1].copy()
        j = i - max(0, i - near)
        around[max(0, j - guard):j + guard + 1] = 0.0
        isolation = float(strength[i] / max(float(around.max()), 1e-30))
        conf = float(np.clip(abs(rho[i]), 0, 1) * (1 - 1 / prominence[i])
                     * np.clip((isolation - 1.0) / (ISOLATION_FULL - 1.0), 0.0, 1.0))
        echoes.append({"time_ms": 1000.0 * lag / sample_rate, "gain": float(c[i] / norm2),
                       "shape_correlation": float(rho[i]), "prominence": float(prominence[i]),
                       "isolation": isolation,
                       "confidence": round(conf, 4), "repeat_of": None})
    return echoes, shape


def _mark_repeats(echoes: list) -> None:
    """Mark each echo at a multiple of an earlier, stronger one as its feedback repeat."""
    for j, e in enumerate(echoes):
        for earlier in echoes[:j]:
            m = round(e["time_ms"] / earlier["time_ms"])
            if (2 <= m <= MAX_REPEAT and abs(e["time_ms"] - m * earlier["time_ms"]) <= REPEAT_TOLERANCE_MS
                    and abs(e["gain"]) <= 1.1 * abs(earlier["gain"])):    # repeats decay
                e["repeat_of"] = earlier["time_ms"]
                break


def primary_echo(echoes: list, *, min_confidence: float = HEARD_CONFIDENCE) -> dict | None:
    """The delay's echo: the strongest confident echo that is not a feedback repeat (None: no echo)."""
    first = [e for e in echoes if e["repeat_of"] is None and e["confidence"] >= min_confidence]
    if not first:
        return None
    return max(first, key=lambda e: abs(e["gain"]) * e["confidence"])


def delay_from_echoes(echoes: list) -> dict | None:
    """The neutral patch's delay from :func:`measure_echoes`: time, feedback, mix, confidence.

    Feedback is the ratio of the first repeat to the echo (when a repeat is heard),
    the mix the echo's share against the direct sound (``g / (1 + g)``).
    """
    e = primary_echo(echoes)
    if e is None:
        return None
    repeats = [r for r in echoes if r["repeat_of"] == e["time_ms"]
               and abs(r["time_ms"] - 2 * e["time_ms"]) <= REPEAT_TOLERANCE_MS * 2]
    gain = abs(e["gain"])
    return {"time_ms": e["time_ms"], "confidence": e["confidence"],
            "feedback": (float(np.clip(abs(repeats[0]["gain"]) / gain, 0.0, 0.95))
                         if repeats and gain > 0 else None),
            "mix": float(gain / (1.0 + gain)), "echo_db": float(20 * np.log10(max(gain, 1e-12))),
            "taps_ms": [round(t["time_ms"], 3) for t in echoes if t["repeat_of"] is None
                        and t["confidence"] >= HEARD_CONFIDENCE],
            "from": "matched filter"}

