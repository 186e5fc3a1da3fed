"""Align a target recording to the DI it was played from.

Sign convention: ``offset_samples`` is how many samples the target **lags** the
DI at the DI's rate (positive when the target is later), i.e.
``target[n] ~ polarity * gain * effect(di)[n - offset_samples]``.

Method, coarse to fine:

1. **envelope**: onset envelopes (positive slope of the 1 ms log-energy
   envelope) of both signals are cross-correlated with an FFT over every
   possible lag. Onsets survive distortion, EQ, level and polarity, and a
   reverb tail only adds slow decay, which the slope removes.
2. **waveform**: the full waveform cross-correlation (FFT) is used when it is
   unambiguous: its peak is clearly above the next peak, it agrees with the
   envelope lag, and the first and second halves of the overlap give the same
   lag (an effect chain with modulation or a re-recorded part fails this). It
   gives the polarity and a sample-accurate offset.
3. **dtw-section**: when the target is much longer than the DI and the
   envelope correlation is weak, subsequence DTW on chroma finds the section of
   the recording that corresponds to the DI (the seed's "which section of the
   recording corresponds to the input").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.fft
import scipy.signal

from magicstomp.errors import AudioInputError

ENV_HOP_S = 0.001
FLOOR_DB = 60.0
PEAK_RATIO_MIN = 1.3          # waveform peak must beat the next peak (outside ±2 ms) by this
AGREE_S = 0.015               # waveform and envelope lags must agree within this
HALVES_AGREE_S = 0.001        # the two halves' waveform lags must agree within this
SECTION_CONFIDENCE = 0.2      # below this envelope confidence, a longer target tries DTW
ENV_HIGHPASS_S = 0.3
ENVELOPE_UNUSABLE = 0.2       # below this the envelope lag is not trusted at all
WINDOW_S = 5.0                # windowed waveform search: window length
WINDOW_REACH_S = 1.0          # ... and lags searched around the envelope lag
#: above this length the whole-signal waveform correlation (several GB for 20 minutes) is
#: replaced by LONG_WINDOWS windowed ones spread over the signal
LONG_ALIGN_S = 180.0
LONG_WINDOWS = 24


@dataclass
class Alignment:
    """Where the DI sits in the target (see the module's sign convention)."""

    offset_samples: int
    polarity: int
    level_db: float
    confidence: float
    method: str
    sample_rate: int
    warnings: list = field(default_factory=list)
    section_start_s: float | None = None
    section_end_s: float | None = None
    envelope_offset_samples: int | None = None

    @property
    def offset_ms(self) -> float:
        """The offset in milliseconds (positive: target later)."""
        return 1000.0 * self.offset_samples / self.sample_rate

    def to_dict(self) -> dict:
        """JSON-ready dict (with ``offset_ms``)."""
        return {**asdict(self), "offset_ms": round(self.offset_ms, 3)}


def onset_envelope(x: np.ndarray, sample_rate: int, *, kind: str = "level") -> np.ndarray:
    """1 ms envelope for the coarse search.

    ``kind="level"``: log energy (2 ms windows, floor 60 dB under the peak) minus
    its 300 ms moving average, so level, polarity and slow reverb decays drop out;
    ``kind="slope"``: its positive slope (onsets only).
    """
    hop = max(1, int(round(ENV_HOP_S * sample_rate)))
    n = x.size // hop * hop
    frames = x[:n].reshape(-1, hop)
    energy = np.einsum("ij,ij->i", frames, frames)      # no squared copy of a long signal
    energy = energy + np.r_[0.0, energy[:-1]]
    floor = max(energy.max() * 10 ** (-FLOOR_DB / 10), 1e-20)
    level_db = 10 * np.log10(energy + floor)
    if kind == "level":     # high-passed: minus its 300 ms moving average (slow decays cancel)
        w = max(1, int(round(ENV_HIGHPASS_S / ENV_HOP_S)))
        return level_db - np.convolve(level_db, np.ones(w) / w, mode="same")
    slope = np.maximum(np.diff(level_db, prepend=level_db[0]), 0.0)
    return np.convolve(slope, np.ones(3) / 3, mode="same")


def _xcorr(a: np.ndarray, b: np.ndarray) -> tuple:
    """Full cross-correlation c[lag] = sum a[n] b[n - lag] for lag in [-(len b - 1), len a - 1]."""
    n = scipy.fft.next_fast_len(a.size + b.size - 1)
    c = scipy.fft.irfft(scipy.fft.rfft(a, n) * np.conj(scipy.fft.rfft(b, n)), n)
    c = np.r_[c[n - (b.size - 1):], c[:a.size]] if b.size > 1 else c[:a.size]
    return c, np.arange(-(b.size - 1), a.size)


def parabolic_offset(y: np.ndarray, i: int) -> float:
    """Sub-sample offset (within +-0.5) of the peak at ``y[i]``, from a parabola through
    its two neighbours; 0 at an edge or where the three points are collinear."""
    if 0 < i < y.size - 1:
        den = y[i - 1] - 2 * y[i] + y[i + 1]
        if den != 0:
            return float(np.clip(0.5 * (y[i - 1] - y[i + 1]) / den, -0.5, 0.5))
    return 0.0


def _envelope_lag(target, di, sample_rate, kind="level") -> tuple:
    et, ed = onset_envelope(target, sample_rate, kind=kind), onset_envelope(di, sample_rate, kind=kind)
    et, ed = et - et.mean(), ed - ed.mean()
    c, lags = _xcorr(et, ed)
    i = int(np.argmax(c))
    denom = np.linalg.norm(et) * np.linalg.norm(ed)
    confidence = float(np.clip(c[i] / denom, 0.0, 1.0)) if denom > 0 else 0.0
    hop = max(1, int(round(ENV_HOP_S * sample_rate)))
    return int(round((lags[i] + parabolic_offset(c, i)) * hop)), confidence


def _waveform_peak(target, di, lo, hi, sample_rate) -> tuple:
    """(lag, signed normalised correlation, |peak| / next peak outside ±2 ms) within [lo, hi]."""
    c, lags = _xcorr(target, di)
    sel = (lags >= lo) & (lags <= hi)
    c, lags = c[sel], lags[sel]
    if c.size == 0:
        return 0, 0.0, 0.0
    mag = np.abs(c)
    i = int(np.argmax(mag))
    guard = max(2, int(0.002 * sample_rate))
    rest = mag.copy()
    rest[max(0, i - guard):i + guard + 1] = 0.0
    ratio = float(mag[i] / rest.max()) if rest.max() > 0 else float("inf")
    lag = int(lags[i])
    t, d = _overlap(target, di, lag)
    denom = np.linalg.norm(t) * np.linalg.norm(d)
    r = float(np.dot(t, d) / denom) if denom > 0 else 0.0
    return lag, r, ratio


def _overlap(target, di, lag) -> tuple:
    """The parts of target and DI that face each other when the target lags by ``lag``."""
    t0, d0 = max(lag, 0), max(-lag, 0)
    n = min(target.size - t0, di.size - d0)
    if n <= 0:
        return np.zeros(0), np.zeros(0)
    return target[t0:t0 + n], di[d0:d0 + n]


def _dtw_section(target, di, sample_rate) -> tuple:
    """(start_s, end_s, cost) of the target section matching the DI (subsequence DTW on chroma)."""
    import librosa
    hop = 2048
    kw = dict(sr=sample_rate, hop_length=hop, n_fft=4096)
    ct = librosa.feature.chroma_stft(y=target.astype(np.float32), **kw) + 1e-6
    cd = librosa.feature.chroma_stft(y=di.astype(np.float32), **kw) + 1e-6
    cost, path = librosa.sequence.dtw(X=cd, Y=ct, subseq=True, metric="cosine")
    start, end = int(path[-1, 1]), int(path[0, 1])
    return start * hop / sample_rate, (end + 1) * hop / sample_rate, float(cost[-1, end] / len(path))


def _check(x, what) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise AudioInputError(f"the {what} has shape {x.shape}; expected mono samples (load it "
                              "with analyzers.loading.load_audio)")
    if not np.all(np.isfinite(x)) or not np.any(x):
        raise AudioInputError(f"the {what} is silent or holds NaN/inf; expected finite audio "
                              "with signal")
    return x


def align(target, di, sample_rate: int, *, max_offset_s: float | None = None) -> Alignment:
    """Find where the DI sits in the target.

    Parameters
    ----------
    target, di : np.ndarray
        Mono audio at the same ``sample_rate`` (resample with ``load_audio`` first).
    sample_rate : int
        Rate of both signals in Hz.
    max_offset_s : float, optional
        Search only offsets within ±this many seconds (default: every overlap).

    Returns
    -------
    Alignment
    """
    target, di = _check(target, "target"), _check(di, "DI")
    sr = int(sample_rate)
    warnings: list = []
    env_lag, env_conf = _envelope_lag(target, di, sr)
    if max_offset_s is not None and abs(env_lag) > max_offset_s * sr:
        env_lag, env_conf = 0, 0.0
    method, offset, confidence = "envelope", env_lag, env_conf
    section = None
    longer = target.size > 2 * di.size
    if longer and env_conf < SECTION_CONFIDENCE:
        start_s, end_s, _ = _dtw_section(target, di, sr)
        method, offset, section = "dtw-section", int(round(start_s * sr)), (start_s, end_s)
        confidence = env_conf
        warnings.append("the onset envelopes do not match well; the DI's section was located "
                        "by DTW on chroma (check the section times)")
    reach = int(max_offset_s * sr) if max_offset_s is not None else max(target.size, di.size)
    long_pair = max(target.size, di.size) > LONG_ALIGN_S * sr
    if long_pair:       # bounded memory: windows only (below)
        lag, r, ratio = offset, 0.0, 0.0
    else:
        lag, r, ratio = _waveform_peak(target, di, -reach, reach, sr)
    agrees = abs(lag - offset) <= AGREE_S * sr or env_conf < ENVELOPE_UNUSABLE
    polarity = None
    if ratio >= PEAK_RATIO_MIN and agrees and _halves_agree(target, di, lag, sr):
        method, offset, confidence, polarity = "waveform", lag, abs(r), (1 if r >= 0 else -1)
    elif method != "dtw-section":
        center = offset if env_conf >= ENVELOPE_UNUSABLE else 0
        found = _windowed_waveform(target, di, center, sr, env_conf, warnings)
        if found is not None:
            offset, r = found
            method, confidence, polarity = "waveform", abs(r), (1 if r >= 0 else -1)
    if polarity is None:
        near = int(0.002 * sr)
        if long_pair:
            t, d = _overlap(target, di, offset)
            denom = float(np.linalg.norm(t) * np.linalg.norm(d))
            r2 = float(np.dot(t, d)) / denom if denom > 0 else 0.0
        else:
            _, r2, _ = _waveform_peak(target, di, offset - near, offset + near, sr)
        polarity = 1 if r2 >= 0 else -1
        if abs(r2) < 0.2:
            warnings.append(f"polarity is uncertain (waveform correlation {r2:+.2f} at the "
                            "envelope offset); assumed from its sign")
    t, d = _overlap(target, di, offset)
    if t.size == 0 or not np.any(t) or not np.any(d):
        raise AudioInputError("the target and the DI do not overlap at the best offset; expected "
                              "two recordings of the same part (check the files)")
    level_db = float(20 * np.log10(np.sqrt(np.mean(t ** 2)) / np.sqrt(np.mean(d ** 2))))
    if confidence < 0.3:
        warnings.append(f"alignment confidence is low ({confidence:.2f}); listen to the aligned "
                        "target before trusting the match")
    if section is None and longer:
        section = (offset / sr, (offset + di.size) / sr)
    return Alignment(offset_samples=int(offset), polarity=polarity, level_db=round(level_db, 3),
                     confidence=round(float(confidence), 4), method=method, sample_rate=sr,
                     warnings=warnings, envelope_offset_samples=int(env_lag),
                     section_start_s=None if section is None else round(section[0], 4),
                     section_end_s=None if section is None else round(section[1], 4))


def locate_section(short, long, sample_rate: int) -> tuple:
    """Where a shorter recording sits inside a longer one, coarsely (1 ms steps).

    The Pearson correlation of the short recording's onset envelope with every
    window of the long one's (normalised per window, so a louder stretch is not a
    better match; a plain cross-correlation favours the lags where the signals
    overlap most, which is wrong when one is much shorter).

    Returns
    -------
    (start_samples, score) : the long recording's sample facing the short one's
    first sample, and the correlation there (about 0.3-0.7 for the same performance
    through an effect).
    """
    short, long = _check(short, "shorter recording"), _check(long, "longer recording")
    sr = int(sample_rate)
    es = onset_envelope(short, sr, kind="level")
    el = onset_envelope(long, sr, kind="level")
    if es.size > el.size:
        raise AudioInputError("the shorter recording is longer than the longer one; swap them")
    es = es - es.mean()
    c = scipy.signal.correlate(el, es, mode="valid", method="fft")
    m = es.size
    sums = np.concatenate([[0.0], np.cumsum(el)])
    squares = np.concatenate([[0.0], np.cumsum(el ** 2)])
    s1, s2 = sums[m:] - sums[:-m], squares[m:] - squares[:-m]
    spread = np.sqrt(np.maximum(s2 - s1 ** 2 / m, 1e-12))
    norm = float(np.linalg.norm(es))
    r = c / (norm * spread) if norm > 0 else np.zeros_like(c)
    i = int(np.argmax(r))
    hop = max(1, int(round(ENV_HOP_S * sr)))
    return i * hop, float(r[i])


def _windowed_waveform(target, di, center, sr, env_conf, warnings):
    """Waveform lags in 5 s windows (hop 2.5 s) within ±1 s of ``center``.

    Returns (lag, r) when at least two windows and half of them agree within
    1 ms (their median), or, when the envelope is unusable, the first window
    (the opening notes carry the least reverb from earlier notes; a warning
    says the windows disagree); otherwise None.
    """
    width, reach = int(WINDOW_S * sr), int(WINDOW_REACH_S * sr)
    cands = []
    starts = list(range(0, max(1, di.size - width // 2), width // 2))
    if len(starts) > LONG_WINDOWS:          # a long pair: windows spread over it
        starts = [starts[int(i)] for i in np.linspace(0, len(starts) - 1, LONG_WINDOWS)]
    for start in starts:
        d = di[start:start + width]
        t_lo = max(0, start + center - reach)
        t = target[t_lo:start + center + reach + d.size]
        if d.size < sr // 2 or t.size < d.size or not np.any(d):
            continue
        c = scipy.signal.correlate(t, d, mode="valid", method="fft")
        energy = np.concatenate([[0.0], np.cumsum(t ** 2)])
        local = np.sqrt(np.maximum(energy[d.size:] - energy[:-d.size], 1e-20))[:c.size]
        c = c / local        # normalised: a louder stretch of the target is not a better match
        mag = np.abs(c)
        i = int(np.argmax(mag))
        rest = mag.copy()
        rest[max(0, i - int(0.002 * sr)):i + int(0.002 * sr) + 1] = 0.0
        norm_d = np.linalg.norm(d)
        cands.append((t_lo + i - start, c[i] / norm_d if norm_d > 0 else 0.0,
                      mag[i] / rest.max() if rest.max() > 0 else np.inf))
    if not cands:
        return None
    lags = np.array([c[0] for c in cands])
    tol = HALVES_AGREE_S * sr
    support = [(np.abs(lags - lag) <= tol).sum() for lag in lags]
    best = int(np.argmax(support))
    if support[best] >= 2 and support[best] >= len(cands) / 2:
        members = [c for c in cands if abs(c[0] - lags[best]) <= tol]
        return int(np.median([m[0] for m in members])), float(np.mean([m[1] for m in members]))
    if env_conf < ENVELOPE_UNUSABLE:
        lag, r, _ = cands[0]
        warnings.append(f"the waveform lags of {len(cands)} windows disagree and the envelopes do "
                        "not match; used the first window (least overlap from earlier notes' "
                        "tails); a wet-only or time-varying target cannot be aligned reliably")
        return int(lag), float(r)
    return None


def _halves_agree(target, di, lag, sr) -> bool:
    """Do the first and second halves of the overlap give the same waveform lag (±1 ms)?"""
    t, d = _overlap(target, di, lag)
    if t.size < sr:             # too short to split: trust the global peak
        return True
    half = t.size // 2
    reach = int(0.02 * sr)
    for seg in (slice(0, half), slice(half, t.size)):
        c = scipy.signal.correlate(t[seg], d[seg][reach:-reach] if d[seg].size > 2 * reach
                                   else d[seg], mode="valid", method="fft")
        if c.size == 0:
            return True
        if abs(int(np.argmax(np.abs(c))) - reach) > HALVES_AGREE_S * sr:
            return False
    return True


def apply_alignment(target, alignment: Alignment, length: int) -> np.ndarray:
    """The target shifted (and polarity-corrected) to sit on the DI, trimmed/padded to ``length``.

    ``out[n] = polarity * target[n + offset_samples]`` (zeros where the target has no sample).
    """
    x = np.asarray(target, dtype=np.float64)
    out = np.zeros(int(length))
    off = int(alignment.offset_samples)
    src_start, dst_start = max(off, 0), max(-off, 0)
    n = max(0, min(out.size - dst_start, x.size - src_start))
    out[dst_start:dst_start + n] = x[src_start:src_start + n]
    if alignment.polarity < 0:
        np.negative(out, out=out)
    return out


TAKE_MAX_LAG_MS = 25.0        # the effect's latency, and what an envelope-only DI alignment misses
TAKE_WIDE_MS = 1000.0         # ... and a DI alignment that failed outright
WIDE_GAIN = 1.15            # a sustained note correlates at every lag: 0.75 near, 1.0 right


@dataclass(frozen=True)
class TakeAlignment:
    """How a take of the rig sits against the (DI-aligned) target.

    ``lag_samples`` is how many samples the take lags the target (positive: the
    take is later), so ``polarity * take[n + lag_samples] ~ target[n]``;
    ``correlation`` is the normalised waveform correlation at that lag (-1 to 1, signed).
    """

    lag_samples: int
    polarity: int
    correlation: float


def align_to_take(target, take, sample_rate: int, *, pre_samples: int = 0,
                  max_lag_ms: float = TAKE_MAX_LAG_MS, wide_ms: float = TAKE_WIDE_MS) -> TakeAlignment:
    """The lag and polarity that best align ``take`` with ``target`` (waveform correlation).

    The target was aligned to the DI, but a take carries the effect's own latency
    and polarity (an amp's filters delay it by tens of samples and may invert
    it), so the alignment that matters for scoring is the target against a take.

    Parameters
    ----------
    target : np.ndarray
        Mono target (n,), already aligned to the DI.
    take : np.ndarray
        Mono take whose sample ``pre_samples`` faces ``target[0]``; samples before
        and after the target's span (up to the maximum lag) let it shift both ways.
    sample_rate : int
        Rate of both, Hz.
    pre_samples : int
        Samples of the take before the target's start.
    max_lag_ms : float
        Lags searched: within ±this many milliseconds.
    wide_ms : float
        Lags within ±this are also searched; their best is used when it correlates
        WIDE_GAIN times better (the target's alignment to the DI failed).
    """
    t = np.asarray(target, dtype=np.float64)
    x = np.asarray(take, dtype=np.float64)
    near = _take_lag(t, x, sample_rate, pre_samples, max_lag_ms)
    if wide_ms > max_lag_ms:          # the DI alignment can fail outright (a driven single note)
        wide = _take_lag(t, x, sample_rate, pre_samples, wide_ms)
        if abs(wide.correlation) > WIDE_GAIN * abs(near.correlation):
            return wide
    return near


def _take_lag(t, x, sample_rate, pre_samples, max_lag_ms) -> TakeAlignment:
    reach = int(round(max_lag_ms * 1e-3 * sample_rate))
    lo = pre_samples - reach
    ext = np.zeros(t.size + 2 * reach)
    src_lo, src_hi = max(lo, 0), min(lo + ext.size, x.size)
    if src_hi > src_lo:
        ext[src_lo - lo:src_hi - lo] = x[src_lo:src_hi]
    c = scipy.signal.correlate(ext, t, mode="valid", method="fft")     # c[k]: lag k - reach
    k = int(np.argmax(np.abs(c)))
    energy = np.concatenate([[0.0], np.cumsum(ext ** 2)])
    local = np.sqrt(max(energy[k + t.size] - energy[k], 1e-30))
    norm = float(np.linalg.norm(t)) * local
    r = float(c[k] / norm) if norm > 0 else 0.0
    return TakeAlignment(lag_samples=k - reach, polarity=1 if r >= 0 else -1, correlation=r)


def apply_take_alignment(take, alignment: TakeAlignment, length: int, *,
                         pre_samples: int = 0) -> np.ndarray:
    """``polarity * take[pre_samples + lag + n]`` for n in [0, length) (zeros outside the take)."""
    x = np.asarray(take, dtype=np.float64)
    start = pre_samples + alignment.lag_samples
    out = np.zeros(int(length))
    src_lo, src_hi = max(start, 0), min(start + out.size, x.size)
    if src_hi > src_lo:
        out[src_lo - start:src_hi - start] = x[src_lo:src_hi]
    return out if alignment.polarity >= 0 else -out
