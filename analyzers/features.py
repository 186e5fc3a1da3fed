"""Backend-independent feature maths: a fast cached STFT/mel front end,
BS.1770 loudness, crest factor and spectral tilt.

``MelFrontend`` reproduces ``librosa.feature.melspectrogram`` (centered Hann
STFT, power 2, Slaney mel filters) with numpy only and everything cacheable
precomputed, so the loss can call it many times per second. The tests compare
it with librosa itself.

Loudness follows ITU-R BS.1770-4: K-weighting (the standard's high shelf and
high-pass, re-derived for any sample rate with the RBJ forms), 400 ms blocks
with 75 % overlap, an absolute gate at -70 LUFS and a relative gate 10 LU
below the ungated level. pyloudnorm is not a dependency: this is 40 lines and
is checked against the standard's reference (a 997 Hz full-scale sine reads
-3.01 LUFS).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal

N_FFT = 2048
HOP = 512
N_MELS = 64
FMAX_HZ = 8000.0
N_MFCC = 20
LOG_EPS = 1e-10
TILT_BAND_HZ = (1500.0, 6000.0)
CHUNK_FRAMES = 16


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmax_hz: float = FMAX_HZ) -> np.ndarray:
    """Slaney-normalised mel filters (n_mels, n_fft // 2 + 1), as librosa builds them."""
    import librosa
    fb = librosa.filters.mel(sr=int(sample_rate), n_fft=n_fft, n_mels=n_mels, fmin=0.0,
                             fmax=min(float(fmax_hz), sample_rate / 2.0))
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=4)
def dct_matrix(n_mfcc: int = N_MFCC, n_mels: int = N_MELS) -> np.ndarray:
    """Orthonormal DCT-II matrix (n_mfcc, n_mels): ``mfcc = D @ log_mel_db``."""
    basis = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc]
    basis.setflags(write=False)
    return basis


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    w = scipy.signal.get_window("hann", n_fft, fftbins=True)
    w.setflags(write=False)
    return w


class MelFrontend:
    """Cached STFT -> power -> 64-band mel (to 8 kHz) for one sample rate.

    Parameters
    ----------
    sample_rate : int
        Rate of every signal passed in.
    n_fft, hop : int
        Frame and hop sizes (2048 / 512 as in the seed).
    """

    def __init__(self, sample_rate: int, *, n_fft: int = N_FFT, hop: int = HOP,
                 n_mels: int = N_MELS, fmax_hz: float = FMAX_HZ, dtype=np.float32):
        self.sample_rate = int(sample_rate)
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.dtype = np.dtype(dtype)
        self.window = _hann(self.n_fft).astype(self.dtype)
        self.filters = mel_filterbank(self.sample_rate, self.n_fft, n_mels, fmax_hz)
        # only the bins the filters use: the rest never reach the mel bands
        used = np.nonzero(self.filters.any(axis=0))[0]
        self._bins = slice(0, int(used[-1]) + 1)
        self._filters_used = np.ascontiguousarray(self.filters[:, self._bins], dtype=self.dtype)
        self._buffers: dict = {}

    def frames(self, y: np.ndarray) -> np.ndarray:
        """Windowed frames (n_frames, n_fft) of the zero-padded, centered signal."""
        pad = self.n_fft // 2
        y = np.pad(np.asarray(y, dtype=self.dtype), (pad, pad))
        n_frames = 1 + (y.size - self.n_fft) // self.hop
        view = np.lib.stride_tricks.as_strided(
            y, shape=(n_frames, self.n_fft), strides=(y.strides[0] * self.hop, y.strides[0]),
            writeable=False)
        return view * self.window

    def power(self, y: np.ndarray) -> np.ndarray:
        """Power spectrogram (n_fft // 2 + 1, n_frames)."""
        spec = scipy.fft.rfft(self.frames(y), axis=1)
        return (spec.real ** 2 + spec.imag ** 2).T

    def mel_power(self, y: np.ndarray) -> np.ndarray:
        """Mel power spectrogram (n_mels, n_frames), equal to librosa's melspectrogram.

        Works through the frames in chunks of ``CHUNK_FRAMES`` with reused
        buffers: one whole-signal STFT allocates megabytes per call, and the page
        faults of those fresh allocations cost as much as the FFTs (measured
        10.6 ms against 4.4 ms on 5 s). Not thread-safe: one front end per thread.
        """
        pad = self.n_fft // 2
        n = np.size(y) + 2 * pad
        padded = self._buffer("padded", (n,))
        padded[:pad] = 0.0
        padded[n - pad:] = 0.0
        padded[pad:n - pad] = y
        n_frames = 1 + (n - self.n_fft) // self.hop
        view = np.lib.stride_tricks.as_strided(
            padded, shape=(n_frames, self.n_fft),
            strides=(padded.strides[0] * self.hop, padded.strides[0]), writeable=False)
        out = np.empty((self._filters_used.shape[0], n_frames), dtype=self.dtype)
        chunk = self._buffer("chunk", (CHUNK_FRAMES, self.n_fft))
        for start in range(0, n_frames, CHUNK_FRAMES):
            stop = min(start + CHUNK_FRAMES, n_frames)
            frames = chunk[:stop - start]
            np.multiply(view[start:stop], self.window, out=frames)
            spec = scipy.fft.rfft(frames, axis=1)[:, self._bins]
            power = spec.real ** 2
            power += spec.imag ** 2
            np.matmul(self._filters_used, power.T, out=out[:, start:stop])
        return out

    def _buffer(self, name: str, shape: tuple) -> np.ndarray:
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = self._buffers[name] = np.empty(shape, dtype=self.dtype)
        return buf


def mfcc_from_mel_db(mel_db: np.ndarray, n_mfcc: int = N_MFCC) -> np.ndarray:
    """MFCC (n_mfcc, frames) from a dB mel spectrogram (orthonormal DCT-II)."""
    return dct_matrix(n_mfcc, mel_db.shape[0]) @ mel_db


# -- loudness -----------------------------------------------------------------
@lru_cache(maxsize=8)
def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting (pre-filter shelf + RLB high-pass) as second-order sections.

    At 48 kHz these are the coefficients printed in BS.1770-4 (to 1e-8)."""
    fs = float(sample_rate)
    # B. De Man's re-derivation of the standard's 48 kHz coefficients for any rate
    gain_db, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = np.tan(np.pi * fc / fs)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    shelf_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    q, fc = 0.5003270373238773, 38.13547087602444
    k = np.tan(np.pi * fc / fs)
    a0 = 1 + k / q + k * k
    hp_b = [1.0, -2.0, 1.0]
    hp_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    sos = np.array([np.r_[shelf_b, shelf_a], np.r_[hp_b, hp_a]])
    sos.setflags(write=False)
    return sos


def integrated_loudness_lufs(y: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS) of mono audio after BS.1770-4; -inf for silence.

    A mono channel is weighted 1.0 (as one front channel), so a 997 Hz sine at
    0 dBFS peak reads -3.01 LUFS.
    """
    x = scipy.signal.sosfilt(np.array(k_weighting_sos(int(sample_rate))), np.asarray(y, dtype=np.float64))
    block = int(round(0.4 * sample_rate))
    step = int(round(0.1 * sample_rate))
    if x.size < block:
        z = np.array([np.mean(x ** 2)])
    else:
        c = np.concatenate([[0.0], np.cumsum(x ** 2)])
        starts = np.arange(0, x.size - block + 1, step)
        z = (c[starts + block] - c[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(z)
    z = z[levels > -70.0]
    if z.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(np.mean(z)) - 10.0
    with np.errstate(divide="ignore"):
        z = z[-0.691 + 10 * np.log10(z) > relative]
    return float(-0.691 + 10 * np.log10(np.mean(z)))


def rms_db(y: np.ndarray) -> float:
    """RMS level in dBFS (-inf for silence)."""
    r = float(np.sqrt(np.mean(np.square(y)))) if np.size(y) else 0.0
    return 20 * np.log10(r) if r > 0 else float("-inf")


def crest_factor_db(y: np.ndarray) -> float:
    """Peak-to-RMS ratio in dB (0 for silence)."""
    r = float(np.sqrt(np.mean(np.square(y)))) if np.size(y) else 0.0
    return 20 * np.log10(np.max(np.abs(y)) / r) if r > 0 else 0.0


def spectral_tilt_db(power: np.ndarray, freqs_hz: np.ndarray, *, band_hz=TILT_BAND_HZ) -> float:
    """Level change across ``band_hz`` (dB) of the line fitted to the mean dB spectrum
    against log2(frequency): positive when the band rises towards 6 kHz.

    ``power`` is (bins, frames) or (bins,); ``freqs_hz`` the bin centres.
    """
    p = power.mean(axis=1) if power.ndim == 2 else power
    sel = (freqs_hz >= band_hz[0]) & (freqs_hz <= band_hz[1])
    if np.count_nonzero(sel) < 3:
        return 0.0
    level_db = 10 * np.log10(p[sel] + LOG_EPS)
    octaves = np.log2(freqs_hz[sel])
    slope_db_per_octave = np.polyfit(octaves, level_db, 1)[0]
    return float(slope_db_per_octave * np.log2(band_hz[1] / band_hz[0]))


def energy_weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """Mean of per-frame ``values`` weighted by frame energy (silent frames count little)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        return float(np.mean(values))
    return float(np.sum(values * w) / w.sum())
