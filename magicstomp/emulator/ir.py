"""Cabinet impulse responses for the speaker simulations, and a streaming convolver.

The sixteen speaker simulations of the amp types are stood in for by real guitar
cabinet IRs (Adventure Kid Research & Technology, Kristoffer Ekstrand, CC-BY-4.0;
attribution and provenance in ``magicstomp/data/ir/README.md``). The shipped
files were made from the originals by :func:`prepare_cab_irs`: left channel,
leading silence cut to 0.5 ms before the onset, truncated to 30 ms with a 6 ms
half-cosine fade-out, 44.1 kHz float32. At load time each IR is resampled to the
processing rate and scaled to unit mean power gain over 100 Hz - 5 kHz (equal
weight per octave), so
switching cabinets changes the colour, not the loudness.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from math import gcd
from pathlib import Path

import numpy as np
import scipy.fft as sfft
from scipy import signal

from ..errors import EmulationError

IR_RATE_HZ = 44100
IR_LENGTH_MS = 30.0
_FADE_MS = 6.0
_PREROLL_MS = 0.5
#: IRs are scaled to unit mean power gain over this band, equal weight per octave.
NORM_BAND_HZ = (100.0, 5000.0)

#: speaker simulation label -> source IR (file stem). 4x12s take the big, dark
#: closed-back IRs; 2x12s and 1x12s the brighter ones; the 10" cabs the IRs with
#: the least low end. "Radio 001" is not used.
SPEAKER_IRS = {
    "American 4x12": "80s US 001", "British 4x12": "80s UK 001",
    "Modern 4x12": "Modern US 004", "YAMAHA 4x12": "Modern UK 001",
    "Hybrid 4x12": "Modern US 001", "American 2x12": "Modern US 003",
    "British 2x12": "Vintage UK 001", "Modern 2x12": "Modern US 002",
    "YAMAHA 2x12": "Modern UK 002", "Hybrid 2x12": "80s UK 002",
    "American 1x12": "Vintage US 001", "Modern 1x12": "80s US 002",
    "YAMAHA 1x12": "Speaker 001", "Hybrid 1x12": "Speaker 002",
    "4x10": "Vintage UK 002", "2x10": "Vintage US 002",
}


def _shape_ir(h: np.ndarray, sample_rate: int) -> np.ndarray:
    onset = int(np.argmax(np.abs(h) > 0.1 * np.max(np.abs(h))))
    start = max(onset - int(_PREROLL_MS * 1e-3 * sample_rate), 0)
    n = int(IR_LENGTH_MS * 1e-3 * sample_rate)
    h = np.array(h[start:start + n], dtype=np.float64)
    fade = int(_FADE_MS * 1e-3 * sample_rate)
    h[-fade:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, fade)))
    return h


def prepare_cab_irs(src_dir, dst_dir) -> list:
    """Write the shortened IRs used by :data:`SPEAKER_IRS` from the original files.

    Parameters
    ----------
    src_dir : path
        Folder with the original "<name>.wav" files (e.g. the shared
        ``audio/ir-cab-akrt-toobamp``).
    dst_dir : path
        Output folder (``magicstomp/data/ir``).

    Returns
    -------
    list of Path
        The files written.
    """
    import soundfile as sf

    written = []
    for stem in sorted(set(SPEAKER_IRS.values())):
        data, rate = sf.read(Path(src_dir) / f"{stem}.wav", always_2d=True)
        if rate != IR_RATE_HZ:
            raise EmulationError(f"{stem}.wav is at {rate} Hz; expected {IR_RATE_HZ} Hz")
        out = Path(dst_dir) / f"{stem}.wav"
        sf.write(out, _shape_ir(data[:, 0], rate).astype(np.float32), rate, subtype="FLOAT")
        written.append(out)
    return written


@lru_cache(maxsize=64)
def cabinet_ir(label: str, sample_rate: int) -> np.ndarray:
    """The IR of speaker simulation ``label`` at ``sample_rate`` (read-only array).

    Raises
    ------
    EmulationError
        if ``label`` is not a speaker simulation.
    """
    import soundfile as sf

    stem = SPEAKER_IRS.get(label)
    if stem is None:
        raise EmulationError(f"speaker_type={label!r} has no cabinet IR; expected one of "
                             f"Off, {', '.join(SPEAKER_IRS)}")
    data = resources.files(__package__.rsplit(".", 1)[0]).joinpath(f"data/ir/{stem}.wav")
    with data.open("rb") as f:
        h, rate = sf.read(f, dtype="float64")
    if sample_rate != rate:
        g = gcd(int(sample_rate), int(rate))
        h = signal.resample_poly(h, sample_rate // g, rate // g)
    freqs_hz = np.geomspace(NORM_BAND_HZ[0], NORM_BAND_HZ[1], 256)
    _, response = signal.freqz(h, worN=freqs_hz, fs=sample_rate)
    h = h / np.sqrt(np.mean(np.abs(response) ** 2))
    h.setflags(write=False)
    return h


class FirConvolver:
    """Streaming convolution with a short FIR (overlap-add, FFT for long blocks).

    Output for any block cutting equals ``np.convolve(x, h)[:len(x)]`` within
    float round-off (< 1e-12 relative).
    """

    _DIRECT_MAX = 128     # blocks up to this many samples use direct convolution
    _FFT_SIZE = 16384

    def __init__(self, h: np.ndarray):
        self.h = np.asarray(h, dtype=np.float64)
        self._nfft = max(self._FFT_SIZE, 1 << int(np.ceil(np.log2(4 * len(self.h)))))
        self._seg = self._nfft - len(self.h) + 1
        self._H = sfft.rfft(self.h, self._nfft)
        self.reset()

    def reset(self) -> None:
        """Forget the pending tail."""
        self._tail = np.zeros(len(self.h) - 1)

    def _convolve(self, x: np.ndarray) -> np.ndarray:
        if len(x) <= self._DIRECT_MAX:
            return np.convolve(x, self.h)
        y = np.zeros(len(x) + len(self.h) - 1)
        for start in range(0, len(x), self._seg):
            part = sfft.irfft(sfft.rfft(x[start:start + self._seg], self._nfft) * self._H,
                              self._nfft)
            stop = min(start + self._nfft, len(y))
            y[start:stop] += part[:stop - start]
        return y

    def process(self, x: np.ndarray) -> np.ndarray:
        """Convolve the next block ``x`` (n,) and return n output samples."""
        y = self._convolve(np.asarray(x, dtype=np.float64))
        m = len(self._tail)
        y[:m] += self._tail
        self._tail = y[len(x):len(x) + m].copy()
        return y[:len(x)]
