"""The steps of one match, shared by ``auto_match_hil`` and ``examples/demo_hil.py``.

    load_pair(target_path, di_path, sample_rate=...)  -> Pair (aligned, equal length)
    choose_excerpt(di, sample_rate, seconds=...)      -> Excerpt (the busiest window)
    starting_patch(pair, effect_type=..., analyzer=...) -> (Patch, notes)
    make_evaluator(rig, loss, di, excerpt)            -> evaluate(patch) -> LossValue

Each step calls the library (analyzers/, magicstomp/, optimize/, hil/); nothing
here touches a file except through those calls.
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
_FLUX_FFT = 2048
_FLUX_HOP = 512


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
              min_follow: float = MIN_FOLLOW_SCORE) -> Pair:
    """Load both files at ``sample_rate``, align the target to the DI, trim to one length.

    Raises
    ------
    AudioInputError
        missing, unreadable, silent or too short audio, or a target that does
        not follow the DI (the alignment finds no common performance).
    """
    from analyzers.alignment import align, apply_alignment
    from analyzers.loading import load_audio, match_lengths

    target = load_audio(target_path, sample_rate=sample_rate, role="target")
    di = load_audio(di_path, sample_rate=sample_rate, role="di")
    alignment = align(target.samples, di.samples, sample_rate)
    aligned = apply_alignment(target.samples, alignment, length=di.samples.size)
    target_x, di_x, _ = match_lengths(aligned, di.samples, mode="trim")
    score = follow_score(target_x, di_x, sample_rate)
    if score < min_follow:
        raise AudioInputError(
            f"the target does not follow the DI (follow score {score:.2f}, expected at least "
            f"{min_follow:.2f}: its note onsets do not line up with the DI's); give two "
            "recordings of the same performance, or lower --min-follow-score if they match")
    warnings = list(target.warnings) + list(di.warnings) + list(getattr(alignment, "warnings", []))
    record = alignment.to_dict() if hasattr(alignment, "to_dict") else dict(vars(alignment))
    record = {k: v for k, v in record.items() if not isinstance(v, (list, np.ndarray))
              or k == "warnings"}
    record["length_s"] = round(di_x.size / float(sample_rate), 3)
    record["follow_score"] = round(score, 3)
    return Pair(target=target_x, di=di_x, sample_rate=int(sample_rate), alignment=record,
                warnings=warnings)


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
    pairs: same performance 0.45-0.97 (reverb, amp chains, delay), different
    performances 0.0-0.10.
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
    from analyzers.features import MelFrontend

    power = MelFrontend(sample_rate, n_fft=_FLUX_FFT, hop=_FLUX_HOP).power(di)
    log_mag = np.log(power + 1e-10)
    flux = np.maximum(np.diff(log_mag, axis=1), 0.0).sum(axis=0)
    level = power.sum(axis=0)[1:]
    flux = np.where(level > level.max() * 1e-5, flux, 0.0)
    frames = max(1, want // _FLUX_HOP)
    window_sums = np.convolve(flux, np.ones(frames), mode="valid")
    best = int(np.argmax(window_sums))
    start = min(max(0, best * _FLUX_HOP), n - want)
    preroll = min(start, int(round(EXCERPT_PREROLL_S * sample_rate)))
    return Excerpt(start, start + want, preroll)


def starting_patch(pair: Pair, *, effect_type=None, analyzer: str = "librosa") -> tuple:
    """The analysis' starting patch for the chosen (or suggested) effect type.

    Returns
    -------
    (Patch, notes, NeutralPatch) : the patch, remarks for the report (fields
    the type cannot express, the suggested type) and the analysis' device-neutral patch.
    """
    from analyzers.heuristics import initial_patch
    from magicstomp.effects import effect_type as lookup
    from magicstomp.neutral import suggest_effect_type, to_patch

    neutral = initial_patch(pair.target, pair.sample_rate, di=pair.di, backend=analyzer)
    notes = []
    if effect_type is None:
        t = lookup(suggest_effect_type(neutral))
        notes.append(f"effect type {t.name} (0x{t.id:02X}) suggested by the analysis "
                     "(choose another with --effect-type)")
    else:
        t = lookup(effect_type)
    patch, unexpressed = to_patch(neutral, t)
    if unexpressed:
        names = ", ".join(str(u) for u in unexpressed)
        notes.append(f"{t.name} cannot express these analysed fields: {names}")
    return patch, notes, neutral


def make_evaluator(rig, loss, di: np.ndarray, excerpt: Excerpt, aligner=None):
    """``evaluate(patch) -> LossValue``: one take of the excerpt (after its pre-roll), scored.

    With an ``aligner`` (:class:`optimize.take_alignment.TakeAligner`) the take
    runs a few ms past the excerpt and is placed on the target (the effect's own
    latency and polarity) before scoring.
    """
    margin = 0 if aligner is None else aligner.margin_samples
    segment = di[excerpt.start - excerpt.preroll:excerpt.stop + margin]

    def evaluate(patch):
        take = rig.render(patch, segment)
        if aligner is not None:
            return loss(aligner(patch, take, pre_samples=excerpt.preroll))
        return loss(take[excerpt.preroll:excerpt.preroll + excerpt.stop - excerpt.start])

    return evaluate


def render_full(rig, patch, di: np.ndarray) -> np.ndarray:
    """One take of the whole DI (for the session WAVs, plots and the metric panel)."""
    return np.asarray(rig.render(patch, di), dtype=np.float64)
