"""MatchLoss: a level-matched, A-weighted, multi-term objective for the search.

The seed's loss (log-mel + MFCC, no level matching) is badly conditioned: a
reverb knob moves it about 190 times less than the delay time, and a 6 dB level
offset costs more than most timbre differences. ``MatchLoss`` fixes both:

* the take is **loudness-matched** to the target (one gain, RMS over the whole
  excerpt) before anything is compared, so the return level of the rig, the
  gain wobble of a take and the master volume do not dominate;
* every term works on **decibels with a floor** set from the target (quiet
  tails such as reverb decays and echo repeats count as much as loud attacks);
* the terms each answer for one family of knobs:

  ``mrstft``     A-weighted multi-resolution log-magnitude STFT distance (timbre, gain, EQ, echoes);
  ``spectrum``   long-term third-octave spectrum in dB (EQ and amp voicing, fitted by residual EQ);
  ``envelope``   band envelopes in dB on a 5 ms grid (echo timing, reverb decay, tremolo), averaged
                 over one period of the target's LFO when it has a clear one in its band levels,
                 or a chorus rate heard in the complex transfer function target/DI (phase-blind);
  ``modulation`` power spectrum of the band envelopes (relative to the DI's when given),
                 0.3 to 20 Hz, blurred at three widths, L1 relative to the target's modulation
                 energy, or to that of a 1 dB swing when the target has less (a target
                 without modulation, such as the DI itself, scores a finite value) (LFO rate, depth);
  ``echo``       autocorrelation of the onset envelope up to 1.5 s (delay time and feedback);
  ``echo_lag``   the echo-lag profile (response to the DI, or cepstrum) blurred at 1-64 ms: rises
                 with the echo-time error out to beyond +/-20 ms (wide basin, no needle);
  ``mod_rate``   earth mover's distance in octaves between the modulation spectra (magnitudes,
                 ~32 bands; for such a chorus, of the transfer function take/DI) over log
                 frequency: rises with the LFO-rate error, blind to its phase.

All terms are in "dB per cell / 10", so 1.0 means a typical 10 dB mismatch;
the weights below were set so that a +0.1 move of any identifiable knob raises
the total by a similar amount (see ``benchmarks/match_quality.py``, which prints
the sensitivity spread of both losses), and so that the loss along one knob is
lowest at its true value even while the other knobs are still wrong: the
``modulation`` and ``echo`` terms also react to echoes and drive (an echo at T
puts envelope ripple at 1/T), so far from the answer they point the echo time
and LFO rate the wrong way; ``envelope`` and ``mrstft`` do not, and carry most
of the weight (on profiles of 14 hidden multi-effect patches, the true echo time
or LFO rate was the 1-D minimum from the search's end point in 18 of 28 profiles
with these weights, 15 with the first ones: modulation 1.0, echo 0.2, envelope 0.5;
modulation 0.1 also gave 20, but loses the Tremolo rate's wide basin at small budgets).

Target features are computed once in the constructor; a call costs a few STFTs.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import fftconvolve

from analyzers.modulation import find_phase_modulation
from magicstomp.errors import AudioInputError

from .loss import LossValue, mono_samples
from .timing_terms import TimingTerms, stft_power  # noqa: F401 (re-exported)

ECHO_LAG_WEIGHT = 0.1    # wide-basin timing terms (optimize/timing_terms.py); see the module text
MOD_RATE_WEIGHT = 0.1     # 0.25 and more: a Flange start beat a Chorus start (type screen, jazz)

DEFAULT_WEIGHTS = {"mrstft": 1.0, "spectrum": 0.5, "envelope": 1.0, "modulation": 0.25, "echo": 0.1,
                   "echo_lag": ECHO_LAG_WEIGHT, "mod_rate": MOD_RATE_WEIGHT}
FFT_SIZES = (2048, 512)  # half-overlapping frames; the 512-point one also gives the envelopes
FLOOR_DB = 50.0          # cells quieter than (target peak - FLOOR_DB) are clipped: rig noise is below
ECHO_LAGS_MS = (20.0, 1500.0)
ECHO_BLUR_MS = (15.0, 60.0, 240.0)  # the echo term compares blurred copies too: a wide basin
MOD_RANGE_HZ = (0.3, 20.0)
MOD_BLUR_HZ = (0.25, 1.0, 3.0)   # the modulation term compares blurred copies: a wide basin
MOD_FLOOR_DB = 1.0               # a band-level swing (peak to peak) below this counts as "no modulation"
CHORUS_MIN_CYCLES = 3.0         # LFO cycles per half excerpt for a chorus rate from the phase
BAND_EDGES_HZ = (0.0, 400.0, 1600.0, 6000.0, np.inf)


def a_weighting_db(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting in dB at ``freqs_hz`` (0 dB at 1 kHz; -inf-safe at DC)."""
    f2 = np.maximum(np.asarray(freqs_hz, dtype=float), 1.0) ** 2
    num = 12194.0 ** 2 * f2 ** 2
    den = ((f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2)) * (f2 + 12194.0 ** 2))
    return 20.0 * np.log10(num / den) + 2.0


def third_octave_masks(freqs_hz: np.ndarray, centres_hz) -> np.ndarray:
    """(bands, bins) 0/1 masks of the third-octave bands around ``centres_hz`` (lower edge in)."""
    centres = np.asarray(centres_hz, dtype=float)[:, None]
    return ((freqs_hz >= centres * 2 ** (-1 / 6)) & (freqs_hz < centres * 2 ** (1 / 6))).astype(float)


def _db(power: np.ndarray, floor_power: float) -> np.ndarray:
    return np.float32(10.0) * np.log10(np.maximum(power, np.float32(floor_power)))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)))


def _modulation_power(loss: "MatchLoss", env_db: np.ndarray) -> tuple:
    """(power spectrum of the band envelopes over MOD_RANGE_HZ summed over bands, bin width Hz)."""
    frames = len(env_db)
    n_pad = 4 * (1 << int(np.ceil(np.log2(frames))))      # 4x zero-padded: fine peaks
    mod = np.abs(np.fft.rfft(env_db * np.hanning(frames)[:, None], n_pad, axis=0))
    mod = (mod[loss._mod_bins(n_pad)] ** 2).sum(axis=1) / frames
    return mod, loss.sample_rate / loss.hop_env / n_pad


class _Features:
    """Everything MatchLoss compares, for one (level-matched) signal."""

    def __init__(self, loss: "MatchLoss", x: np.ndarray, floors: dict | None):
        self.floors = {} if floors is None else floors
        make_floors = floors is None
        self.spec_db, raw = {}, {}
        for n_fft in FFT_SIZES:
            raw[n_fft] = stft_power(x, n_fft, n_fft // 2)
            power = raw[n_fft] * loss._a_weight[n_fft]
            if make_floors:
                self.floors[n_fft] = power.max() * 10 ** (-FLOOR_DB / 10) + 1e-20
            self.spec_db[n_fft] = _db(power, self.floors[n_fft])
        ltas = raw[FFT_SIZES[0]].mean(axis=0) @ loss._third_octave.T
        bands = raw[FFT_SIZES[-1]] @ loss._band_matrix.T          # (frames, bands), ~5.8 ms hop
        if make_floors:
            self.floors["env"] = bands.max() * 10 ** (-FLOOR_DB / 10) + 1e-20
            self.floors["ltas"] = ltas.max() * 10 ** (-FLOOR_DB / 10) + 1e-20
        self.env_db = _db(bands, self.floors["env"])
        self.ltas_db = _db(ltas, self.floors["ltas"])
        env_lin = self.env_db if loss.di_env_db is None else self.env_db - loss.di_env_db
        mod, bin_hz = _modulation_power(loss, env_lin - env_lin.mean(axis=0))
        self.mod = [gaussian_filter1d(mod, hz / bin_hz, mode="nearest") for hz in MOD_BLUR_HZ]
        onset = np.maximum(np.diff(self.env_db.mean(axis=1), prepend=self.env_db[0].mean()), 0.0)
        onset = onset - onset.mean()
        acf = fftconvolve(onset, onset[::-1])[len(onset) - 1:]
        acf = acf[loss.echo_lags[0]:loss.echo_lags[1]] / (acf[0] + 1e-12)
        self.echo = [gaussian_filter1d(acf, sigma, mode="constant")
                     for sigma in loss.echo_blur_frames]


class MatchLoss:
    """Level-matched multi-term objective; same interface as the seed loss.

    Parameters
    ----------
    target : array_like
        Target recording, mono (n,) or stereo (n, 2), aligned to the DI.
    sample_rate : int
        Sample rate in Hz of the target and of every take.
    weights : dict, optional
        Weight of each term (keys of ``DEFAULT_WEIGHTS``); a missing key keeps its default,
        0 switches a term off.
    di : array_like, optional
        The DI the target was played from (aligned, same rate). With it the
        modulation term compares band envelopes *relative to the DI's*, so the
        playing's own rhythm cancels and an LFO rate shows as a clean peak.

    Raises
    ------
    AudioInputError
        for silent, non-finite or wrongly shaped audio, or an unknown term name.
    """

    def __init__(self, target, sample_rate: int, *, weights: dict | None = None, di=None):
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
            raise AudioInputError(f"sample rate {sample_rate!r} is not usable; expected an integer "
                                  "of at least 8000 Hz")
        unknown = set(weights or {}) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise AudioInputError(f"unknown MatchLoss terms {sorted(unknown)}; expected some of "
                                  f"{sorted(DEFAULT_WEIGHTS)}")
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.sample_rate = int(sample_rate)
        self.target = mono_samples(target, "target")
        self.target_rms = _rms(self.target)
        if self.target_rms < 1e-6:
            raise AudioInputError("the target is silent (RMS below -120 dBFS); expected a "
                                  "recording of the tone to match")
        self._prepare_grids()
        self.di_env_db = None
        if di is not None:      # envelopes relative to the DI's: the effect's own modulation
            di = _fit_length(mono_samples(di, "DI"), len(self.target))
            if _rms(di) < 1e-6:
                raise AudioInputError("the DI is silent (RMS below -120 dBFS); expected the dry "
                                      "recording the target was played from")
            self.di_env_db = _Features(self, di * (self.target_rms / _rms(di)), None).env_db
        self._target = _Features(self, self.target, None)
        self._timing = (TimingTerms(self.target, di, self.sample_rate)
                        if self.weights["echo_lag"] or self.weights["mod_rate"] else None)
        self._mod_floor = self._modulation_floor(len(self._target.env_db))
        self._lfo_frames = 0     # envelopes averaged over one LFO period: blind to its phase
        lfo_hz = self._timing.lfo_rate_hz() if self._timing is not None else None
        if not lfo_hz and di is not None:   # a chorus on busy playing: no clear band-level peak
            lfo_hz = _chorus_rate_hz(self.target, di, self.sample_rate)
            if lfo_hz and self._timing is not None:     # mod_rate from the transfer function too
                self._timing.use_chorus_profile(self.target, di)
        self.lfo_rate_hz = lfo_hz   # the rate the envelope term is averaged over (None: no LFO)
        if lfo_hz:
            self._lfo_frames = max(1, int(round(self.sample_rate / self.hop_env / lfo_hz)))
        self._target_env = self._lfo_smoothed(self._target.env_db)

    def _lfo_smoothed(self, env_db: np.ndarray) -> np.ndarray:
        """Band envelopes averaged over one period of the target's LFO (unchanged without one):
        a moving average one period long removes a periodic modulation and all its harmonics,
        so the envelope term no longer depends on the LFO's phase at the start of a take."""
        if self._lfo_frames <= 1:
            return env_db
        return uniform_filter1d(env_db, self._lfo_frames, axis=0, mode="nearest")

    def _modulation_floor(self, frames: int) -> float:
        """Summed modulation power of a swing of MOD_FLOOR_DB (peak to peak) in every band.

        The modulation term divides by the target's modulation energy, or by this
        floor when the target has less, so a target without modulation (the DI
        itself, a static EQ) gives a finite term instead of a division by almost nothing.
        """
        t = np.arange(frames) * self.hop_env / self.sample_rate
        swing = 0.5 * MOD_FLOOR_DB * np.sin(2 * np.pi * 4.0 * t)
        env = np.repeat(swing[:, None], len(BAND_EDGES_HZ) - 1, axis=1)
        return float(_modulation_power(self, env)[0].sum())

    def _prepare_grids(self) -> None:
        sr = self.sample_rate
        self._a_weight = {n: (10 ** (a_weighting_db(np.fft.rfftfreq(n, 1 / sr)) / 10)
                              ).astype(np.float32) for n in FFT_SIZES}
        self.hop_env = FFT_SIZES[-1] // 2
        self._mod_cache = {}
        freqs = np.fft.rfftfreq(FFT_SIZES[-1], 1 / sr)
        self._band_matrix = np.array([((freqs >= lo) & (freqs < hi)) for lo, hi in
                                      zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])], np.float32)
        freqs = np.fft.rfftfreq(FFT_SIZES[0], 1 / sr)
        centres = 1000.0 * 2.0 ** (np.arange(-15, 14) / 3.0)            # 31 Hz .. 20 kHz
        centres = centres[centres < 0.45 * sr]
        self._third_octave = third_octave_masks(freqs, centres)
        keep = self._third_octave.sum(axis=1) > 0
        self._third_octave = self._third_octave[keep]
        self.third_octave_hz = centres[keep]
        env_rate_hz = sr / self.hop_env
        self.echo_lags = tuple(int(round(ms * env_rate_hz / 1000)) for ms in ECHO_LAGS_MS)
        self.echo_blur_frames = tuple(ms * env_rate_hz / 1000 for ms in ECHO_BLUR_MS)

    def _mod_bins(self, n_pad: int) -> np.ndarray:
        """Mask of the envelope-spectrum bins between MOD_RANGE_HZ (n_pad-point FFT)."""
        if n_pad not in self._mod_cache:
            hz = np.fft.rfftfreq(n_pad, self.hop_env / self.sample_rate)
            self._mod_cache[n_pad] = (hz >= MOD_RANGE_HZ[0]) & (hz <= MOD_RANGE_HZ[1])
        return self._mod_cache[n_pad]

    # ------------------------------------------------------------------
    def level_match(self, take) -> tuple[np.ndarray, float]:
        """The take scaled to the target's RMS, and the gain applied in dB."""
        x = mono_samples(take, "take")
        x = _fit_length(x, len(self.target))
        rms = _rms(x)
        if rms < 1e-9:
            return x, 0.0
        gain = self.target_rms / rms
        return x * gain, float(20 * np.log10(gain))

    def __call__(self, take) -> LossValue:
        """Score one take against the target; lower is better (0 = identical)."""
        x, gain_db = self.level_match(take)
        spectrum = None
        if _rms(x) < 1e-9:
            terms = {name: 10.0 for name in self.weights}
        else:
            feats = _Features(self, x, self._target.floors)
            terms = self.terms(feats)
            terms.update(self._timing.terms(x) if self._timing is not None
                         else {"echo_lag": 0.0, "mod_rate": 0.0})
            spectrum = {"hz": self.third_octave_hz, "diff_db": self._spectrum_diff_db(feats)}
        total = float(sum(self.weights[k] * v for k, v in terms.items()))
        return LossValue(total=total, terms={**terms, "level_gain_db": gain_db}, spectrum=spectrum)

    def terms(self, feats: _Features) -> dict:
        """Each term of the loss (unweighted), comparing ``feats`` with the target's."""
        t = self._target
        mrstft = np.mean([np.mean(np.abs(feats.spec_db[n] - t.spec_db[n])) for n in FFT_SIZES])
        return {
            "mrstft": float(mrstft) / 10.0,
            "spectrum": float(np.mean(np.abs(feats.ltas_db - t.ltas_db))) / 10.0,
            "envelope": float(np.mean(np.abs(self._lfo_smoothed(feats.env_db) - self._target_env))) / 10.0,
            "modulation": float(np.mean([np.sum(np.abs(a - b)) / max(float(np.sum(b)),
                                                                       self._mod_floor)
                                         for a, b in zip(feats.mod, t.mod)])),
            "echo": 10.0 * float(np.mean([np.mean(np.abs(a - b))
                                          for a, b in zip(feats.echo, t.echo)])),
        }

    def spectrum_difference_db(self, take) -> tuple[np.ndarray, np.ndarray]:
        """Third-octave centres (Hz) and the long-term target-minus-take spectrum (dB).

        Used by the residual-EQ stage; the take is level-matched first.
        """
        x, _ = self.level_match(take)
        return self.third_octave_hz.copy(), self._spectrum_diff_db(_Features(self, x, self._target.floors))

    def _spectrum_diff_db(self, feats: _Features) -> np.ndarray:
        """Target-minus-take long-term third-octave spectrum (dB) of a level-matched take."""
        return self._target.ltas_db - feats.ltas_db


def _chorus_rate_hz(target: np.ndarray, di: np.ndarray, sample_rate: int) -> float | None:
    """The rate (Hz) of a chorus heard in the complex transfer function target/DI, whose
    periodicity is the effect's, not the playing's (band levels on busy playing, or swinging
    at twice the rate, show no clear peak), or None. Confirmed in both halves (+/-5 %, at least
    CHORUS_MIN_CYCLES cycles each): a decaying note through an amp or a delay drifts at 0.2-0.7 Hz."""
    whole = find_phase_modulation(target, di, sample_rate)
    half = target.size // 2
    if whole is None or whole["rate_hz"] * half / sample_rate < CHORUS_MIN_CYCLES:
        return None
    for part in (slice(0, half), slice(half, None)):
        found = find_phase_modulation(target[part], di[part], sample_rate)
        if found is None or abs(found["rate_hz"] - whole["rate_hz"]) > 0.05 * whole["rate_hz"]:
            return None
    return float(whole["rate_hz"])


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    return np.concatenate([x, np.zeros(n - len(x))])
