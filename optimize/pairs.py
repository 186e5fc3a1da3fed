"""The target/DI pair a match works on, and the excerpt it is matched on.

    load_pair(target_path, di_path, sample_rate=...)  -> Pair (aligned, equal length)
    choose_excerpt(di, sample_rate, seconds=...)      -> Excerpt (the busiest window)
    follow_score(target, di, sample_rate)             -> 0..1, how well the target follows the DI

Used by :func:`optimize.match.match` (the CLI, the benchmarks and ``examples/`` load
their pair here); nothing here touches a file except through ``analyzers.loading``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from magicstomp.errors import AudioInputError

log = logging.getLogger(__name__)

#: below this follow score (see :func:`follow_score`) the target is taken as unrelated to the DI
MIN_FOLLOW_SCORE = 0.25
_FOLLOW_HOP_S = 0.01
_FOLLOW_SEGMENT_S = 1.5
_FOLLOW_SLACK_FRAMES = 3
#: DI played before an excerpt so echoes and reverb tails of earlier notes are in the take
EXCERPT_PREROLL_S = 1.0
#: a target this much shorter than the DI is matched on the DI section it covers
SHORTER_TARGET_S = 0.5
SECTION_MARGIN_S = 0.5
REFINE_MS = 5.0
#: pairs longer than this are cut to their busiest LONG_SECTION_S (bounded memory and time)
LONG_PAIR_S = 300.0
LONG_SECTION_S = 60.0
#: a target within -60 dB of the (level-matched) DI is the DI itself
SAME_RECORDING_RESIDUAL = 1e-3
_FLUX_FFT = 2048
_FLUX_HOP = 512
_FLUX_CHUNK_FRAMES = 2048


@dataclass
class Pair:
    """Target and DI at one rate, the target aligned to the DI, equal lengths."""

    target: np.ndarray
    di: np.ndarray
    sample_rate: int
    alignment: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.di.size / float(self.sample_rate)


@dataclass(frozen=True)
class Excerpt:
    """Samples ``start:stop`` are matched; ``preroll`` samples of DI before ``start`` are played."""

    start: int
    stop: int
    preroll: int

    @property
    def samples(self) -> int:
        return self.stop - self.start

    def describe(self, sample_rate: int) -> str:
        return (f"matched on {self.start / sample_rate:.2f}-{self.stop / sample_rate:.2f} s of the "
                f"DI ({self.preroll / sample_rate:.2f} s of DI played before it)")


def load_pair(target_path, di_path, *, sample_rate: int,
              min_follow: float = MIN_FOLLOW_SCORE, excerpt_s: float | None = None) -> Pair:
    """Load both files at ``sample_rate``, align the target to the DI, trim to one length.

    A target shorter than the DI (a part of the same performance) is matched on
    the DI section it covers (:func:`analyzers.alignment.locate_section`); a DI
    shorter than the target, on the target section it covers. A pair longer than
    :data:`LONG_PAIR_S` is cut to its busiest :data:`LONG_SECTION_S`, or ``excerpt_s``
    and its pre-roll when that is longer (see :func:`_limit_long_pair`).

    Raises
    ------
    AudioInputError
        missing, unreadable, silent or too short audio, a target that is the DI
        itself, or a target that does not follow the DI (no common performance).
    """
    from analyzers.loading import load_audio

    _refuse_same_file(target_path, di_path)
    _announce_long(target_path, di_path)
    target = load_audio(target_path, sample_rate=sample_rate, role="target")
    di = load_audio(di_path, sample_rate=sample_rate, role="di")
    target_x, di_x, record = _aligned(target.samples, di.samples, sample_rate)
    del target, di
    target_x, di_x, cut = _limit_long_pair(target_x, di_x, sample_rate, excerpt_s=excerpt_s)
    _refuse_same_recording(target_x, di_x)
    score = follow_score(target_x, di_x, sample_rate)
    if score < min_follow:
        raise AudioInputError(
            f"the target does not follow the DI (follow score {score:.2f}, expected at least "
            f"{min_follow:.2f}: its note onsets do not line up with the DI's); give two "
            "recordings of the same performance, or lower --min-follow-score if they match")
    warnings = list(record.pop("warnings", []))
    if cut is not None:
        record.update(cut)
    record["length_s"] = round(di_x.size / float(sample_rate), 3)
    record["follow_score"] = round(score, 3)
    return Pair(target=target_x, di=di_x, sample_rate=int(sample_rate), alignment=record,
                warnings=warnings)


def _aligned(target: np.ndarray, di: np.ndarray, sample_rate: int) -> tuple:
    """(target, DI, alignment record): the parts that face each other, the target shifted
    and polarity-corrected onto the DI."""
    from analyzers.alignment import align, apply_alignment, locate_section
    from analyzers.loading import match_lengths

    warnings: list = []
    if target.size + SHORTER_TARGET_S * sample_rate < di.size:
        start, _ = locate_section(target, di, sample_rate)
        margin = int(SECTION_MARGIN_S * sample_rate)
        lo, hi = max(0, start - margin), min(di.size, start + target.size + margin)
        alignment = align(target, di[lo:hi], sample_rate, max_offset_s=2 * SECTION_MARGIN_S)
        off = _refine(target, di, alignment.offset_samples - lo, sample_rate)
        n0, n1 = max(0, off), min(target.size, di.size + off)   # target[n] ~ di[n - off]
        if n1 - n0 <= 0:
            raise AudioInputError("the target and the DI do not overlap at the best offset; "
                                  "expected two recordings of the same part (check the files)")
        sign = 1 if alignment.polarity >= 0 else -1
        target_x, di_x = sign * target[n0:n1], di[n0 - off:n1 - off]
        record = _record(alignment)
        record.update(offset_samples=int(off), offset_ms=round(1000.0 * off / sample_rate, 3))
        record["di_section_start_sample"] = int(n0 - off)
        record["di_section_start_s"] = round((n0 - off) / sample_rate, 4)
        record["di_section_end_s"] = round((n1 - off) / sample_rate, 4)
        warnings.append(f"the target is shorter than the DI; matched on the DI section "
                        f"{record['di_section_start_s']:.2f}-{record['di_section_end_s']:.2f} s "
                        "it covers")
    else:
        alignment = align(target, di, sample_rate)
        aligned = apply_alignment(target, alignment, length=di.size)
        target_x, di_x, _ = match_lengths(aligned, di, mode="trim")
        record = _record(alignment)
    record["warnings"] = warnings + list(getattr(alignment, "warnings", []))
    return target_x, di_x, record


def _refine(target: np.ndarray, di: np.ndarray, off: int, sample_rate: int) -> int:
    """The sample-exact lag near ``off`` (target[n] ~ di[n - off]): the waveform
    correlation's peak within +-REFINE_MS, when it is clear (|r| >= 0.3); else ``off``."""
    import scipy.signal

    reach = int(REFINE_MS * sample_rate / 1000)
    lo = -off - reach                                 # DI index facing target[0] at lag off+reach
    if lo < 0 or lo + target.size + 2 * reach > di.size:
        return off
    segment = di[lo:lo + target.size + 2 * reach]
    c = scipy.signal.correlate(segment, target, mode="valid", method="fft")   # 2 reach + 1 lags
    energy = np.concatenate([[0.0], np.cumsum(segment ** 2)])
    local = np.sqrt(np.maximum(energy[target.size:] - energy[:-target.size], 1e-30))[:c.size]
    r = c / (local * max(float(np.linalg.norm(target)), 1e-30))
    i = int(np.argmax(np.abs(r)))
    return -(lo + i) if abs(r[i]) >= 0.3 else off


def _record(alignment) -> dict:
    record = alignment.to_dict() if hasattr(alignment, "to_dict") else dict(vars(alignment))
    return {k: v for k, v in record.items() if not isinstance(v, (list, np.ndarray))}


def _limit_long_pair(target: np.ndarray, di: np.ndarray, sample_rate: int, *,
                     excerpt_s: float | None = None) -> tuple:
    """A pair longer than LONG_PAIR_S is cut to the DI's busiest LONG_SECTION_S (or
    ``excerpt_s`` when longer), with the excerpt pre-roll before it, so the analysis, the
    takes and the full-length renders stay in bounded time and memory.
    Returns (target, DI, record or None)."""
    if di.size <= LONG_PAIR_S * sample_rate:
        return target, di, None
    section_s = max(LONG_SECTION_S, float(excerpt_s or 0.0))
    window = choose_excerpt(di, sample_rate, seconds=section_s)
    lo = window.start - window.preroll
    record = {"long_pair_s": round(di.size / sample_rate, 1),
              "long_pair_section_s": [round(lo / sample_rate, 4),
                                      round(window.stop / sample_rate, 4)]}
    log.warning("the pair is %.0f s long; matched and rendered on its busiest %.0f s "
                "(%.1f-%.1f s of the DI, the first %.0f s played as pre-roll)",
                di.size / sample_rate, section_s, lo / sample_rate, window.stop / sample_rate,
                window.preroll / sample_rate)
    return target[lo:window.stop].copy(), di[lo:window.stop].copy(), record


def _announce_long(target_path, di_path) -> None:
    """Say at once that a long pair takes a while (before minutes of loading and aligning)."""
    import soundfile as sf

    try:
        lengths_s = [sf.info(str(p)).duration for p in (target_path, di_path)]
    except Exception:       # unreadable: load_audio says why, in one sentence
        return
    if max(lengths_s) > LONG_PAIR_S:
        log.warning("the target (%.0f s) and the DI (%.0f s) are long: loading and aligning "
                    "them takes a while; the match then uses their busiest %.0f s",
                    lengths_s[0], lengths_s[1], LONG_SECTION_S)


def _refuse_same_file(target_path, di_path) -> None:
    from pathlib import Path

    try:
        same = Path(target_path).resolve() == Path(di_path).resolve()
    except (OSError, RuntimeError):
        same = False
    if same:
        raise AudioInputError(f"the target and the DI are the same file ({target_path}); give "
                              "the processed recording as TARGET and the clean one as --di-signal")


def _refuse_same_recording(target: np.ndarray, di: np.ndarray) -> None:
    """A target that is the DI (a copy, or at another level): nothing to match."""
    energy = float(np.dot(di, di))
    if energy <= 0:
        return
    gain = float(np.dot(target, di)) / energy
    residual = np.linalg.norm(target - gain * di) / max(float(np.linalg.norm(target)), 1e-30)
    if residual < SAME_RECORDING_RESIDUAL:
        raise AudioInputError("the target is the DI itself (they differ by less than -60 dB "
                              "after level matching); give the processed recording as TARGET "
                              "and the clean one as --di-signal")


def _onset_envelope(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Positive mel-band flux of the log power, one value per 10 ms."""
    from analyzers.features import MelFrontend

    hop = max(1, int(round(_FOLLOW_HOP_S * sample_rate)))
    power = MelFrontend(sample_rate, n_fft=1024, hop=hop).mel_power(x)
    log_power = np.log(power + 1e-10 * max(float(power.max()), 1e-30))
    return np.maximum(np.diff(log_power, axis=1), 0.0).sum(axis=0)


def follow_score(target: np.ndarray, di: np.ndarray, sample_rate: int) -> float:
    """How well the aligned target follows the DI's notes, 0 (unrelated) to 1.

    The median, over 1.5 s half-overlapping segments where the DI plays, of the
    best correlation (within +/-30 ms) between the onset envelopes of target and
    DI. A whole-file correlation is fooled by one shared onset (a single note
    against a phrase); the median over segments is not. Measured on the shared
    recordings (``benchmarks/follow_score.py``): the same performance 0.45-0.92
    through reverb, amp chains and delay, 0.13 through an effect that reshapes the
    envelope (``a_crazy_one``); unrelated recordings 0.00-0.33.
    """
    a, b = _onset_envelope(target, sample_rate), _onset_envelope(di, sample_rate)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    length = int(round(_FOLLOW_SEGMENT_S / _FOLLOW_HOP_S))
    if n < length:
        length = n
    floor = 0.05 * b.sum() * length / max(n, 1)
    scores = []
    for start in range(0, n - length + 1, max(1, length // 2)):
        x, y = a[start:start + length], b[start:start + length]
        if y.sum() <= floor:
            continue
        x = x - x.mean()
        best = 0.0
        for shift in range(-_FOLLOW_SLACK_FRAMES, _FOLLOW_SLACK_FRAMES + 1):
            yy = np.roll(y, shift)
            yy = yy - yy.mean()
            denom = float(np.linalg.norm(x) * np.linalg.norm(yy))
            if denom > 0:
                best = max(best, float(np.dot(x, yy)) / denom)
        scores.append(best)
    return float(np.median(scores)) if scores else 0.0


def choose_excerpt(di: np.ndarray, sample_rate: int, *, seconds: float | None) -> Excerpt:
    """The ``seconds``-long window of the DI with the most note activity.

    Activity per frame is the positive spectral flux of the log magnitude
    (onsets and changing notes) gated by level (frames 50 dB under the loudest
    count for nothing); the window with the largest sum wins. ``None`` or a
    length at least the DI's gives the whole DI.
    """
    n = di.size
    want = n if seconds is None else int(round(float(seconds) * sample_rate))
    if want <= 0:
        raise AudioInputError(f"--excerpt {seconds} s is not a positive length; expected e.g. 4")
    if want >= n:
        return Excerpt(0, n, 0)
    flux, level = _activity(di, sample_rate)
    flux = np.where(level > level.max() * 1e-5, flux, 0.0)
    frames = max(1, want // _FLUX_HOP)
    window_sums = np.convolve(flux, np.ones(frames), mode="valid")
    best = int(np.argmax(window_sums))
    start = min(max(0, best * _FLUX_HOP), n - want)
    preroll = min(start, int(round(EXCERPT_PREROLL_S * sample_rate)))
    return Excerpt(start, start + want, preroll)


def _activity(di: np.ndarray, sample_rate: int) -> tuple:
    """(flux, level) per 512-sample frame after the first: the positive spectral flux of the
    log magnitude and the frame's power. A long DI is done in chunks of about 24 s, so the
    memory stays bounded (a 20-minute spectrogram at once is several GB)."""
    from analyzers.features import MelFrontend

    frontend = MelFrontend(sample_rate, n_fft=_FLUX_FFT, hop=_FLUX_HOP)
    chunk = _FLUX_CHUNK_FRAMES * _FLUX_HOP
    if di.size <= chunk:
        power = frontend.power(di)
        log_mag = np.log(power + 1e-10)
        return np.maximum(np.diff(log_mag, axis=1), 0.0).sum(axis=0), power.sum(axis=0)[1:]
    fluxes, levels, previous = [], [], None
    pad = _FLUX_FFT // 2
    for start in range(0, di.size, chunk):
        lo = max(0, start - pad)
        segment = di[lo:start + chunk + pad]
        power = frontend.power(segment)
        first = (start - lo) // _FLUX_HOP          # the frame centred on ``start``
        power = power[:, first:first + min(chunk, di.size - start) // _FLUX_HOP + 1]
        power = power[:, :-1] if start + chunk < di.size else power
        log_mag = np.log(power + 1e-10)
        if previous is not None:
            log_mag = np.concatenate([previous, log_mag], axis=1)
        fluxes.append(np.maximum(np.diff(log_mag, axis=1), 0.0).sum(axis=0))
        levels.append(power.sum(axis=0)[1:] if previous is None else power.sum(axis=0))
        previous = log_mag[:, -1:]
    return np.concatenate(fluxes), np.concatenate(levels)
