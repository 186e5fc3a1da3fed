"""Timing terms with wide basins: echo time and LFO rate graded smoothly from afar.

MatchLoss's fine terms (STFT, band envelopes) compare the take with the target
frame by frame: a deterministic echo or chorus interferes coherently with the
notes, so they have needle-shaped minima (0.5 ms off in echo time costs as much
as 20 ms off). The two terms here compare *profiles* that move with the timing
knob and not with the LFO's start phase:

``echo_lag``   an echo-lag profile over 20 ms to 1.5 s (energy per 1.33 ms block),
               compared blurred at 1, 4, 16 and 64 ms (L1 of the difference, summed
               over the four widths): a peak moved by d ms raises each width's part
               until d exceeds about twice its width, so the sum rises with d out to
               well past 20 ms. The profile is the target's **response to the DI**
               (regularised deconvolution, measured from its direct sound) when that
               response is linear enough to be clean (a delay on a clean signal:
               median block energy under -40 dB of the response's), and otherwise
               (an amp or a chorus before the delay, no DI) the **power cepstrum** of
               the whole excerpt, whose echo peaks ride on a part the take and target
               share (the amp's own output).
``mod_rate``   the modulation spectrum of band envelopes (64 log-spaced bands over 0.1-10 kHz merged
               to at least 4 FFT bins each: 32 at 48 kHz; dB, relative to the DI's
               when given), magnitudes only, so the LFO's start phase drops out, as a
               distribution over log frequency (0.3-20 Hz), compared by the earth
               mover's distance in octaves: an LFO rate r % off moves its peak by
               log2(1 + r/100) octaves and the term rises in proportion. For a chorus
               whose band levels show no clear peak (busy playing; MatchLoss finds its
               rate in the transfer function and calls ``use_chorus_profile``), the
               profile is that of the complex transfer function take/DI instead
               (:class:`ChorusProfile`): a delay sweep turns its phase at the LFO rate.

Nothing divides by a quantity that can be near zero: profiles are relative to the
direct sound's energy plus a fixed floor (echo), or have a fixed floor (a 2 dB
swing in every band: MOD_FLOOR_DB) added to every bin before normalising (modulation); a target
without echo or modulation (the DI itself, a static EQ) has a flat profile, and a
take like it scores about 0.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.ndimage import gaussian_filter1d

LAG_HOP = 64                    # samples per echo-profile block: 1.33 ms at 48 kHz
ECHO_LAGS_MS = (20.0, 1500.0)
ECHO_BLUR_MS = (1.0, 4.0, 16.0, 64.0)
DIRECT_SEARCH_MS = 25.0         # the direct sound is looked for this far either side of lag 0
DECONV_REG = 0.01               # Tikhonov term of the deconvolution, relative to the DI's mean power
ECHO_CLEAR = 100.0              # a response block this far over the median is a clean echo
LINEAR_MEDIAN = 1e-4            # a response whose median block energy is below this is "clean"
CEPSTRUM_CONTENT_DB = 50.0      # ... over the frequencies where the target is within this of its peak
CEPSTRUM_FLOOR = 1e-8          # power spectrum floor under its peak before the log
MOD_RANGE_HZ = (0.3, 20.0)
MOD_BINS_PER_OCTAVE = 24
MOD_FFT, MOD_HOP = 1024, 256
MOD_BANDS = 64
MIN_BAND_BINS = 4
MOD_BAND_HZ = (100.0, 10000.0)
MOD_FLOOR_DB = 2.0              # a band swing (peak to peak) this small counts as no modulation
LFO_SHARE = 0.25                # a target whose modulation peak (+/-1/12 octave) holds this share
LFO_MIN_HZ = 0.5                # of its profile, at this rate or faster, has a clear LFO
DI_VALID_DB = 35.0              # DI-relative envelopes count where the DI band is within this of its peak
PHASE_FFT, PHASE_HOP = 4096, 640   # a chorus' transfer function: 85 ms frames, 13 ms hop at 48 kHz
PHASE_BAND_HZ = (60.0, 4000.0)
PHASE_LIVE = (1e-3, 1e-5)         # a DI bin counts within these of its frame's / the whole peak
PHASE_FLOOR = 0.002               # per-bin floor of the chorus profile, of the target's total
BAND_FLOOR = 1e-6                # band power floor under the target's peak (-60 dB)


def stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectrogram (frames, bins) with a periodic Hann window, zero-padded ends (float32)."""
    pad = np.concatenate([np.zeros(n_fft // 2, np.float32), np.asarray(x, np.float32),
                          np.zeros(n_fft, np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    spec = scipy.fft.rfft(frames * window, axis=1)
    return spec.real ** 2 + spec.imag ** 2


def direct_lag(h: np.ndarray, sample_rate: int) -> int:
    """Lag (samples, may be negative: ``h`` is circular) of the loudest sample within
    +/-DIRECT_SEARCH_MS of lag 0: the direct sound, wherever the rig's latency put it."""
    reach = int(DIRECT_SEARCH_MS * 1e-3 * sample_rate)
    around = np.r_[h[-reach:], h[:reach + 1]]
    return int(np.argmax(np.abs(around))) - reach


def _lag_window(sample_rate: int) -> tuple:
    lo, hi = (int(round(ms * 1e-3 * sample_rate)) for ms in ECHO_LAGS_MS)
    return lo, lo + (hi - lo) // LAG_HOP * LAG_HOP


def response_profile(h: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy of the response ``h`` (circular, lag 0 first) in LAG_HOP blocks over
    ECHO_LAGS_MS after its direct sound, relative to its energy from -2.5 ms to the end."""
    at = direct_lag(h, sample_rate)
    lo, hi = _lag_window(sample_rate)
    shifted = np.roll(h, -at)
    total = float(np.sum(shifted[:hi] ** 2) + np.sum(shifted[-int(2.5e-3 * sample_rate):] ** 2))
    return (shifted[lo:hi] ** 2).reshape(-1, LAG_HOP).sum(axis=1) / (total + 1e-30)


def _clear_echo_s(profile: np.ndarray, sample_rate: int) -> float | None:
    """The lag (s) of the response profile's highest block when it stands ECHO_CLEAR times
    over the profile's median (a clean echo), else None."""
    i = int(np.argmax(profile))
    if profile[i] < ECHO_CLEAR * (float(np.median(profile)) + 1e-30):
        return None
    return ECHO_LAGS_MS[0] * 1e-3 + (i + 0.5) * LAG_HOP / sample_rate


def cepstrum_profile(x: np.ndarray, sample_rate: int, keep=None) -> np.ndarray:
    """Energy of the power cepstrum of ``x`` in LAG_HOP blocks over ECHO_LAGS_MS.

    ``keep`` (from :func:`cepstrum_keep`) marks the frequencies where the target has
    content; elsewhere the log spectrum is held at the floor, so noise filling an
    empty band (a rig's hiss above a dark tone) does not read as a change of echo.
    """
    lo, hi = _lag_window(sample_rate)
    n = int(scipy.fft.next_fast_len(max(x.size, 2 * hi)))
    power = np.abs(scipy.fft.rfft(x, n)) ** 2
    floor = power.max() * CEPSTRUM_FLOOR + 1e-30
    if keep is not None and keep.size == power.size:
        power = np.where(keep, power, 0.0)
    ceps = scipy.fft.irfft(np.log(power + floor), n)
    return (ceps[lo:hi] ** 2).reshape(-1, LAG_HOP).sum(axis=1)


def cepstrum_keep(target: np.ndarray, sample_rate: int) -> np.ndarray:
    """Frequencies (rfft bins of :func:`cepstrum_profile`'s size) where the target's spectrum,
    smoothed over 100 Hz, is within CEPSTRUM_CONTENT_DB of its peak."""
    lo, hi = _lag_window(sample_rate)
    n = int(scipy.fft.next_fast_len(max(target.size, 2 * hi)))
    power = np.abs(scipy.fft.rfft(target, n)) ** 2
    width = max(1, int(round(100.0 * n / sample_rate)))
    smooth = np.convolve(power, np.ones(width) / width, mode="same")
    return smooth > smooth.max() * 10 ** (-CEPSTRUM_CONTENT_DB / 10)


def blurred_l1(a: np.ndarray, b: np.ndarray, widths_bins) -> float:
    """Sum over ``widths_bins`` of the L1 norm of the Gaussian-blurred difference a - b."""
    diff = a - b
    return float(sum(np.sum(np.abs(gaussian_filter1d(diff, w, mode="constant"))) for w in widths_bins))


def log_grid_hz() -> np.ndarray:
    """Centres (Hz) of the modulation profile's log-frequency bins."""
    octaves = np.log2(MOD_RANGE_HZ[1] / MOD_RANGE_HZ[0])
    n = int(round(octaves * MOD_BINS_PER_OCTAVE)) + 1
    return MOD_RANGE_HZ[0] * 2.0 ** (np.arange(n) / MOD_BINS_PER_OCTAVE)


def modulation_profile(band_db: np.ndarray, hop_s: float) -> np.ndarray:
    """Modulation power of band envelopes (frames, bands) in dB, summed over bands, on a
    log-frequency grid (MOD_BINS_PER_OCTAVE per octave over MOD_RANGE_HZ); magnitudes only."""
    env = band_db - band_db.mean(axis=0)
    frames = len(env)
    n_pad = 4 * (1 << int(np.ceil(np.log2(max(frames, 2)))))
    power = (np.abs(np.fft.rfft(env * np.hanning(frames)[:, None], n_pad, axis=0)) ** 2).sum(axis=1)
    power /= frames
    return _on_log_grid(power, np.fft.rfftfreq(n_pad, hop_s))


def _on_log_grid(power: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Power on an even frequency axis ``hz`` summed into the log grid's bins (split pro rata)."""
    grid = log_grid_hz()
    edges = np.sqrt(grid[:-1] * grid[1:])
    edges = np.r_[grid[0] ** 2 / edges[0], edges, grid[-1] ** 2 / edges[-1]]
    cumulative = np.r_[0.0, np.cumsum(power)]
    at = np.interp(edges, np.r_[hz - 0.5 * hz[1], hz[-1] + 0.5 * hz[1]], cumulative)
    return np.diff(at)          # the power between each pair of grid edges (bins split pro rata)


def modulation_floor(frames: int, hop_s: float, bands: int) -> float:
    """Per-bin floor of the modulation profile: a MOD_FLOOR_DB swing in every band, spread
    evenly over the grid (so a target without modulation has a flat, finite profile)."""
    t = np.arange(frames) * hop_s
    swing = 0.5 * MOD_FLOOR_DB * np.sin(2 * np.pi * 4.0 * t)
    total = float(modulation_profile(np.repeat(swing[:, None], bands, axis=1), hop_s).sum())
    return total / log_grid_hz().size


def _merged_bands(freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(bands, bins) 0/1 masks between ``edges``, neighbours merged until each band holds at
    least MIN_BAND_BINS bins (a one-bin band's level jumps with every partial that crosses it)."""
    masks, current = [], np.zeros(freqs.size, bool)
    for a, b in zip(edges[:-1], edges[1:]):
        current |= (freqs >= a) & (freqs < b)
        if current.sum() >= MIN_BAND_BINS:
            masks.append(current)
            current = np.zeros(freqs.size, bool)
    if current.any() and masks:
        masks[-1] = masks[-1] | current
    return np.array(masks, np.float32)


def earth_movers(a: np.ndarray, b: np.ndarray, floor: float, step: float) -> float:
    """1-D earth mover's distance between ``a`` and ``b`` (non-negative profiles on one grid
    of spacing ``step``), each with ``floor`` (> 0) added per bin and normalised to unit mass."""
    pa = np.maximum(a, 0.0) + floor
    pb = np.maximum(b, 0.0) + floor
    cdf = np.cumsum(pa / pa.sum() - pb / pb.sum())
    return float(np.sum(np.abs(cdf)) * step)


def _complex_stft(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Complex STFT (frames, kept bins) over PHASE_FFT / PHASE_HOP, Hann window (complex64)."""
    pad = np.concatenate([np.zeros(PHASE_FFT // 2, np.float32), np.asarray(x, np.float32),
                          np.zeros(PHASE_FFT, np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(pad, PHASE_FFT)[::PHASE_HOP]
    window = np.hanning(PHASE_FFT + 1)[:-1].astype(np.float32)
    return scipy.fft.rfft(frames * window, axis=1)[:, keep].astype(np.complex64)


class ChorusProfile:
    """Modulation profile of the complex transfer function take/DI (a chorus' delay sweep
    rotates its phase at the LFO rate, whatever the playing does), on the log grid."""

    def __init__(self, di: np.ndarray, sample_rate: int):
        self.sample_rate = int(sample_rate)
        freqs = np.fft.rfftfreq(PHASE_FFT, 1.0 / self.sample_rate)
        self._keep = (freqs >= PHASE_BAND_HZ[0]) & (freqs <= PHASE_BAND_HZ[1])
        d = _complex_stft(di, self._keep)
        power = np.abs(d) ** 2
        self._live = ((power > PHASE_LIVE[0] * power.max(axis=1, keepdims=True))
                      & (power > PHASE_LIVE[1] * power.max()))
        self._inverse = np.where(self._live, np.conj(d) / np.maximum(power, 1e-30), 0)
        self._count = np.maximum(self._live.sum(axis=0), 1)
        self._weight = power.mean(axis=0)

    def of(self, x: np.ndarray) -> np.ndarray:
        """The power of the transfer function's change over time, per log-grid bin (+f and -f)."""
        ratio = _complex_stft(x, self._keep) * self._inverse
        dev = np.where(self._live, ratio - ratio.sum(axis=0) / self._count, 0)
        n = len(dev)
        n_pad = 2 * (1 << int(np.ceil(np.log2(max(n, 2)))))
        power = (np.abs(scipy.fft.fft(dev * np.hanning(n)[:, None].astype(np.float32), n_pad, axis=0))
                 ** 2) @ self._weight
        half = n_pad // 2
        power = power[:half] + np.r_[power[0], power[::-1][:half - 1]]
        hz = np.arange(half) * self.sample_rate / (PHASE_HOP * n_pad)
        return _on_log_grid(power, hz)


class TimingTerms:
    """The target's timing profiles, computed once; ``terms(take)`` scores a take.

    Parameters
    ----------
    target : np.ndarray
        Level-matched mono target.
    di : np.ndarray or None
        The DI the target was played from (aligned, same length). Without it the echo
        profile is the cepstrum and the modulation profile is absolute, not DI-relative.
    sample_rate : int
    """

    def __init__(self, target: np.ndarray, di, sample_rate: int):
        self.sample_rate = int(sample_rate)
        self.hop_s = MOD_HOP / self.sample_rate
        self._blur = tuple(ms / (1e3 * LAG_HOP / self.sample_rate) for ms in ECHO_BLUR_MS)
        freqs = np.fft.rfftfreq(MOD_FFT, 1.0 / self.sample_rate)
        lo, hi = MOD_BAND_HZ
        edges = np.r_[0.0, lo * (hi / lo) ** (np.arange(MOD_BANDS) / (MOD_BANDS - 1)), np.inf]
        self._bands = _merged_bands(freqs, edges)
        target = np.asarray(target, np.float64)
        target_power = self._band_power(target)
        self._band_floor = float(target_power.max()) * BAND_FLOOR + 1e-20
        self._inverse = None
        self._di_db = None
        if di is not None:
            di = np.asarray(di, np.float64)
            self._inverse = self._inverse_filter(di, target.size)
            self._di_db = self._band_db(di * np.sqrt(np.mean(target ** 2) / max(np.mean(di ** 2), 1e-30)))
            self._di_valid = self._di_db > self._di_db.max() - DI_VALID_DB
        self._target_mod = self.mod_of(target)
        self._mod_floor = modulation_floor(len(target_power), self.hop_s, self._bands.shape[0])
        self._echo_period_s = None
        if self._inverse is not None:
            response = self._response(target)
            self._echo_period_s = _clear_echo_s(response, self.sample_rate)
            if np.median(response) >= LINEAR_MEDIAN or self.lfo_rate_hz() is not None:
                self._inverse = None    # an amp or an LFO (a time-varying response): cepstrum
        self._chorus = None
        self.echo_source = "response" if self._inverse is not None else "cepstrum"
        self._keep = cepstrum_keep(target, self.sample_rate) if self._inverse is None else None
        self._target_echo = self.echo_of(target)

    def _inverse_filter(self, di: np.ndarray, size: int) -> np.ndarray:
        """The DI's regularised inverse (rfft domain) for deconvolving takes of ``size`` samples."""
        reach = int((ECHO_LAGS_MS[1] + 2 * DIRECT_SEARCH_MS) * 1e-3 * self.sample_rate)
        self._nfft = int(scipy.fft.next_fast_len(max(size, di.size) + reach, real=True))
        spec = scipy.fft.rfft(di, self._nfft)      # lags past ``reach`` may wrap: never read
        power = np.abs(spec) ** 2
        return (np.conj(spec) / (power + DECONV_REG * power.mean() + 1e-30)).astype(np.complex64)

    def _response(self, x: np.ndarray) -> np.ndarray:
        h = scipy.fft.irfft(scipy.fft.rfft(x.astype(np.float32), self._nfft) * self._inverse, self._nfft)
        return response_profile(h, self.sample_rate)

    def _band_power(self, x: np.ndarray) -> np.ndarray:
        return stft_power(x, MOD_FFT, MOD_HOP) @ self._bands.T

    def _band_db(self, x: np.ndarray) -> np.ndarray:
        floor = getattr(self, "_band_floor", 1e-20)
        return 10.0 * np.log10(self._band_power(x) + floor)

    def echo_of(self, x: np.ndarray) -> np.ndarray:
        """The echo-lag profile of ``x`` (its response to the DI, or its cepstrum)."""
        if self._inverse is not None:
            return self._response(x)
        return cepstrum_profile(x, self.sample_rate, self._keep)

    def mod_of(self, x: np.ndarray) -> np.ndarray:
        """The modulation profile of ``x``'s band levels (relative to the DI's when given)."""
        x_db = self._band_db(x)
        if self._di_db is not None:       # where the DI is quiet the floor, not the effect, decides
            n = min(len(x_db), len(self._di_db))
            valid = self._di_valid[:n]
            rel = x_db[:n] - self._di_db[:n]
            mean = (rel * valid).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)
            x_db = np.where(valid, rel - mean, 0.0)
        return modulation_profile(x_db, self.hop_s)

    def lfo_rate_hz(self) -> float | None:
        """The target's LFO rate (Hz) when its modulation profile has one clear peak (a share
        of LFO_SHARE or more within +/-1/12 octave, at LFO_MIN_HZ or faster), else None."""
        profile = self._target_mod
        peak = np.convolve(profile, np.ones(5), mode="same")
        i = int(np.argmax(peak))
        share = peak[i] / (profile.sum() + self._mod_floor * profile.size)
        hz = float(log_grid_hz()[i])
        if self._echo_period_s is not None and abs(hz * self._echo_period_s - 1.0) <= 0.05:
            return None             # an echo's repeats swing the envelope at 1 / its time
        return hz if share >= LFO_SHARE and hz >= LFO_MIN_HZ else None

    def use_chorus_profile(self, target: np.ndarray, di: np.ndarray) -> None:
        """Grade ``mod_rate`` on the transfer function's modulation (:class:`ChorusProfile`):
        for a chorus whose band levels show no clear LFO peak (busy playing), found by the caller.
        Its response to the DI varies in time, so echo_lag uses the cepstrum, as for an LFO."""
        self._chorus = ChorusProfile(np.asarray(di, np.float64), self.sample_rate)
        self._chorus_target = self._chorus.of(np.asarray(target, np.float64))
        self._chorus_floor = PHASE_FLOOR * float(self._chorus_target.sum()) + 1e-20
        if self._inverse is not None:     # a time-varying response: echoes from the cepstrum
            self._inverse = None
            self.echo_source = "cepstrum"
            self._keep = cepstrum_keep(np.asarray(target, np.float64), self.sample_rate)
            self._target_echo = self.echo_of(np.asarray(target, np.float64))

    def terms(self, x: np.ndarray) -> dict:
        """``{"echo_lag", "mod_rate"}`` of a level-matched take ``x`` (the target's length)."""
        x = np.asarray(x, np.float64)
        echo = blurred_l1(self.echo_of(x), self._target_echo, self._blur)
        if self._chorus is not None:
            mod = earth_movers(self._chorus.of(x), self._chorus_target, self._chorus_floor,
                               1.0 / MOD_BINS_PER_OCTAVE)
        else:
            mod = earth_movers(self.mod_of(x), self._target_mod, self._mod_floor, 1.0 / MOD_BINS_PER_OCTAVE)
        return {"echo_lag": echo, "mod_rate": mod}
