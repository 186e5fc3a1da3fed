"""Load and check audio files: any rate and bit depth, folded to mono, resampled.

``load_audio(path)`` reads WAV, FLAC and AIFF (anything libsndfile reads) and
returns an :class:`Audio` record. The mono fold is documented here once:

* the mean of the channels, ``mean(x, axis=1)``;
* unless the channels cancel (the mean has less than half the RMS of the
  louder channel, e.g. a polarity-inverted stereo pair), then the louder
  channel is taken alone and a warning says so.

Resampling uses soxr (the high-quality resampler librosa installs) and falls
back to ``scipy.signal.resample_poly``. Errors are :class:`AudioInputError`
with one sentence: what was found, what was expected, what to try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from magicstomp.errors import AudioInputError

log = logging.getLogger(__name__)

#: the working rate used when the caller does not ask for one
DEFAULT_RATE_HZ = 48000
MIN_DURATION_S = 1.0
SILENCE_DBFS = -90.0
CLIP_LEVEL = 0.999
#: a float file may go above full scale, but not by 60 dB: that is not audio
MAX_PEAK = 1000.0
CANCEL_RATIO = 0.5
#: multichannel files above this many samples are folded to mono block by block
LONG_FILE_SAMPLES = 2 ** 25
BLOCK_FRAMES = 2 ** 18


@dataclass
class Audio:
    """Mono float64 audio at ``sample_rate`` with what was done to it.

    Attributes
    ----------
    samples : np.ndarray
        Mono float64 samples at ``sample_rate``.
    sample_rate : int
        The working rate (after resampling).
    source_rate : int
        The file's own rate.
    channels : int
        Channels in the file before the mono fold.
    warnings : list of str
        Non-fatal findings (clipping, a cancelling stereo fold, resampling).
    path : str
        Where it came from (empty for in-memory audio).
    """

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    channels: int
    warnings: list = field(default_factory=list)
    path: str = ""

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.samples.size / float(self.sample_rate)


def fold_to_mono(data: np.ndarray, *, warnings: list | None = None) -> np.ndarray:
    """Fold (n,) or (n, channels) audio to mono as documented in the module."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise AudioInputError(f"audio has shape {x.shape}; expected (samples,) or (samples, channels)")
    if x.shape[1] == 1:
        return np.ascontiguousarray(x[:, 0])      # a view when it can be (long files)
    mono = x.mean(axis=1)
    rms = np.sqrt(np.mean(x ** 2, axis=0))
    loudest = int(np.argmax(rms))
    if rms[loudest] > 0 and np.sqrt(np.mean(mono ** 2)) < CANCEL_RATIO * rms[loudest]:
        if warnings is not None:
            warnings.append(f"the {x.shape[1]} channels cancel when averaged (inverted polarity?); "
                            f"used channel {loudest + 1} alone instead of the mean")
        return x[:, loudest].copy()
    return mono


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono audio with soxr (high quality), else a polyphase filter."""
    if int(source_rate) == int(target_rate):
        return np.asarray(samples, dtype=np.float64)
    try:
        import soxr
        return np.asarray(soxr.resample(samples, source_rate, target_rate, quality="HQ"),
                          dtype=np.float64)
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from scipy.signal import resample_poly
        ratio = Fraction(int(target_rate), int(source_rate))
        return resample_poly(samples, ratio.numerator, ratio.denominator)


def check_samples(samples: np.ndarray, sample_rate: int, *, role: str = "target",
                  name: str = "audio", warnings: list | None = None) -> np.ndarray:
    """Validate mono samples; return them as float64.

    Raises
    ------
    AudioInputError
        NaN or infinity, shorter than 1 s, or silence.
    """
    x = np.asarray(samples, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise AudioInputError(f"the {role} {name} holds {bad} NaN or infinite samples; expected "
                              "finite audio (re-export it from your editor as PCM or float WAV)")
    duration_s = x.size / float(sample_rate)
    if duration_s < MIN_DURATION_S:
        raise AudioInputError(f"the {role} {name} is {duration_s:.2f} s long; expected at least "
                              f"{MIN_DURATION_S:.0f} s of audio (use a longer excerpt)")
    peak = max(float(x.max()), -float(x.min())) if x.size else 0.0   # no |x| copy
    if peak > MAX_PEAK:
        raise AudioInputError(f"the {role} {name} peaks at {_dbfs(peak)}; expected audio near "
                              f"full scale (at most {_dbfs(MAX_PEAK)}): check the file's format "
                              "or normalise it")
    if peak <= 10 ** (SILENCE_DBFS / 20):
        raise AudioInputError(f"the {role} {name} is silent (peak {_dbfs(peak)}); expected a "
                              "recording with signal (check the file and its channel)")
    if warnings is not None:
        clipped = int(np.count_nonzero(x >= CLIP_LEVEL) + np.count_nonzero(x <= -CLIP_LEVEL))
        if clipped >= 3:
            warnings.append(f"the {role} {name} has {clipped} samples at full scale (clipping); "
                            "the analysis will treat the clipping as part of the tone")
    return x


def load_audio(path, *, sample_rate: int | None = None, role: str = "target") -> Audio:
    """Read an audio file, fold it to mono and resample it to ``sample_rate``.

    Parameters
    ----------
    path : str or Path
        A WAV, FLAC or AIFF file (any rate, bit depth and channel count).
    sample_rate : int, optional
        Working rate in Hz; ``None`` keeps the file's rate.
    role : str
        "target", "di" or "take": used in messages only.

    Returns
    -------
    Audio

    Raises
    ------
    AudioInputError
        missing or unreadable file, silence, NaN/inf, shorter than 1 s.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioInputError(f"the {role} file {p} does not exist; expected a WAV, FLAC or AIFF "
                              "file (check the path)")
    warnings: list = []
    try:
        info = sf.info(str(p))
        if info.channels > 1 and info.frames * info.channels > LONG_FILE_SAMPLES:
            mono, source_rate, channels = _read_long(p, role, warnings)
        else:
            data, source_rate = sf.read(str(p), dtype="float64", always_2d=True)
            channels = data.shape[1]
            mono = None
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise AudioInputError(f"the {role} file {p} cannot be read as audio ({exc}); expected a "
                              "WAV, FLAC or AIFF file (convert it, e.g. with sox or ffmpeg)") from None
    if mono is None:
        if data.shape[0] == 0:
            raise AudioInputError(f"the {role} file {p} holds no samples; expected at least "
                                  f"{MIN_DURATION_S:.0f} s of audio (re-export it)")
        if not np.all(np.isfinite(data)):
            check_samples(data.ravel(), source_rate * data.shape[1], role=role, name=f"file {p}")
        mono = fold_to_mono(data, warnings=warnings)
        del data
    check_samples(mono, source_rate, role=role, name=f"file {p}", warnings=warnings)
    rate = int(sample_rate) if sample_rate else int(source_rate)
    if rate <= 0:
        raise AudioInputError(f"sample_rate={sample_rate} Hz is not a positive rate; "
                              "expected e.g. 44100 or 48000")
    if rate != source_rate:
        mono = resample(mono, int(source_rate), rate)
        log.debug("resampled %s from %d to %d Hz", p, source_rate, rate)
    return Audio(samples=mono, sample_rate=rate, source_rate=int(source_rate),
                 channels=int(channels), warnings=warnings, path=str(p))


def _read_long(path: Path, role: str, warnings: list) -> tuple:
    """A long multichannel file folded to mono block by block (the same fold as
    :func:`fold_to_mono`), so the whole multichannel array is never in memory.
    Returns (mono, rate, channels)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as handle:
        rate, channels, frames = handle.samplerate, handle.channels, handle.frames
        mono = np.empty(frames, dtype=np.float64)
        channel_energy = np.zeros(channels)
        at = 0
        for block in handle.blocks(blocksize=BLOCK_FRAMES, dtype="float64", always_2d=True):
            if not np.all(np.isfinite(block)):
                check_samples(block.ravel(), rate, role=role, name=f"file {path}")
            mono[at:at + block.shape[0]] = block.mean(axis=1)
            channel_energy += np.einsum("ij,ij->j", block, block)
            at += block.shape[0]
        mono = mono[:at]
        loudest = int(np.argmax(channel_energy))
        if channel_energy[loudest] > 0 and np.dot(mono, mono) < \
                CANCEL_RATIO ** 2 * channel_energy[loudest]:
            warnings.append(f"the {channels} channels cancel when averaged (inverted polarity?); "
                            f"used channel {loudest + 1} alone instead of the mean")
            handle.seek(0)
            at = 0
            for block in handle.blocks(blocksize=BLOCK_FRAMES, dtype="float64", always_2d=True):
                mono[at:at + block.shape[0]] = block[:, loudest]
                at += block.shape[0]
    if mono.size == 0:
        raise AudioInputError(f"the {role} file {path} holds no samples; expected at least "
                              f"{MIN_DURATION_S:.0f} s of audio (re-export it)")
    return mono, rate, channels


def match_lengths(a: np.ndarray, b: np.ndarray, *, mode: str = "trim") -> tuple:
    """Bring two signals to one length and report what was done.

    Parameters
    ----------
    a, b : np.ndarray
        Mono signals.
    mode : {"trim", "pad"}
        "trim" cuts the longer one to the shorter length; "pad" appends zeros
        to the shorter one.

    Returns
    -------
    (a, b, report) : the adjusted signals and a dict with ``length_samples``,
    ``trimmed_samples`` / ``padded_samples`` and ``which`` ("a", "b" or None).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if mode not in ("trim", "pad"):
        raise AudioInputError(f"mode={mode!r} is not a length policy; expected 'trim' or 'pad'")
    diff = a.size - b.size
    which = None if diff == 0 else ("a" if diff > 0 else "b")
    report = {"mode": mode, "which": which, "difference_samples": abs(diff)}
    if mode == "trim":
        n = min(a.size, b.size)
        a, b = a[:n], b[:n]
        report.update(length_samples=n, trimmed_samples=abs(diff))
    else:
        n = max(a.size, b.size)
        a = np.pad(a, (0, n - a.size))
        b = np.pad(b, (0, n - b.size))
        report.update(length_samples=n, padded_samples=abs(diff),
                      which=None if diff == 0 else ("b" if diff > 0 else "a"))
    return a, b, report


def _dbfs(peak: float) -> str:
    return "-inf dBFS" if peak <= 0 else f"{20 * np.log10(peak):+.1f} dBFS"
