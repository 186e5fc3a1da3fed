"""The probe session of a unit profile: short stimuli through a few patches per section.

    probe_session(type_ids, sample_rate, scale=1.0) -> [Probe, ...]
    take_distance_db(model_take, unit_take, sample_rate) -> mean |dB| difference of band
                                                            spectrograms (0 = the same sound)
    SECTIONS                                            the sections a profile reports

Each probe is one take: a patch of an effect type in use, set so that one section
(amp/drive, tone EQ, modulation LFO, delay, reverb, levels) is heard plainly and the
others are neutral (speaker off, compressor at 1:1, unused levels at 0), played with
a synthetic stimulus: an exponential sine sweep (the tone stack's curve, the levels),
plucked notes (drive, the gate closing on a decay), a sustained chord (an LFO's rate
and depth) or one pluck followed by silence (echoes, a reverb tail). Stimuli are
synthesised, so a profile needs no audio file, and peak at -6 dBFS or below (a
hardware rig sends at most -1 dBFS).

The distance compares two takes as a listener's ear roughly would: the level in 40
log-spaced bands from 60 Hz to 16 kHz over 6 ms frames, in dB, floored 70 dB under the
unit take's loudest cell; the mean absolute difference over the cells either take
fills. On a noisy chain the floor of each band is raised to the noise measured by one
take of silence (plus 6 dB), so noise the model cannot render is not scored. It sees a
shelf that moved (tone), a louder or dirtier amp (drive, levels),
an LFO that drifts out of phase (rate), echoes at other times or levels (delay) and
a tail that rings or dies differently (reverb).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: sections a profile reports, in order
SECTIONS = ("amp/drive", "tone", "modulation", "delay", "reverb", "levels")
#: the common multis (amp and distortion) and the Tape Echo (the only type its time
#: assumption reaches): what `magicstomp profile` probes by default
DEFAULT_TYPES = (0x37, 0x3B, 0x35)
_AMP_MULTIS = range(0x37, 0x3B)
_DIST_MULTIS = range(0x3B, 0x3F)
_MOD_PREFIX = {0x37: "chorus_", 0x3B: "chorus_", 0x38: "flanger_", 0x3C: "flanger_",
               0x39: "tremolo_", 0x3D: "tremolo_", 0x3A: "phaser_", 0x3E: "phaser_"}
#: every multi probe starts here: nothing but the stage being probed is heard
_QUIET = dict(gate_threshold=0.0, compressor_ratio=1.0,
              compressor_gain_db=0.0, delay_level=0.0, reverb_level=0.0, preamp_gain=0.0,
              master_volume=10.0, master_tone=10.0)
_QUIET_AMP = dict(_QUIET, speaker_type="Off", amplifier_type="Clean 1", treble=5.0,
                  hi_mid=5.0, lo_mid=5.0, bass=5.0, presence=5.0)
_QUIET_DIST = dict(_QUIET, distortion_type="Overdrive 1", pre_eq_level=10.0)

FLOOR_DB = 70.0
#: band levels less than this above the chain's measured noise count as noise
NOISE_MARGIN_DB = 12.0
#: the silent take that measures the noise floor
SILENCE_S = 0.5
N_BANDS = 40
N_FFT, HOP = 1024, 256


@dataclass(frozen=True)
class Probe:
    """One take of the probe session.

    Attributes
    ----------
    name : str
        Unique label, e.g. ``"Amp Multi (Chorus): treble 10"``.
    section : str
        One of :data:`SECTIONS`.
    patch : magicstomp.patch.Patch
        What the unit plays.
    stimulus : str
        ``sweep``, ``plucks``, ``chord`` or ``pluck+silence``.
    level_dbfs : float
        Peak of the stimulus.
    seconds : float
        Length of the stimulus (and of the take).
    """

    name: str
    section: str
    patch: object
    stimulus: str
    level_dbfs: float
    seconds: float

    def signal(self, sample_rate: int) -> np.ndarray:
        """The stimulus as mono float64 at ``sample_rate``."""
        return make_stimulus(self.stimulus, self.seconds, sample_rate, self.level_dbfs)

    def describe(self) -> dict:
        return {"name": self.name, "section": self.section,
                "effect_type": self.patch.effect_type.name, "stimulus": self.stimulus,
                "level_dbfs": self.level_dbfs, "seconds": self.seconds,
                "payload_hex": self.patch.to_payload().hex()}


# -- stimuli ------------------------------------------------------------------------------
def make_stimulus(kind: str, seconds: float, sample_rate: int, level_dbfs: float) -> np.ndarray:
    """A synthetic stimulus (see the module doc), peak ``level_dbfs``."""
    n = max(1, int(round(seconds * sample_rate)))
    t = np.arange(n) / sample_rate
    if kind == "sweep":
        f0, f1 = 50.0, 15000.0
        k = np.log(f1 / f0) / seconds
        x = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1.0) / k)
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
        x = x * np.clip(fade, 0.0, 1.0)
    elif kind == "plucks":
        x = _plucks(n, sample_rate, (82.4, 110.0, 146.8, 196.0), period_s=seconds / 4)
    elif kind == "chord":
        x = sum(_saw(t, f) for f in (110.0, 164.8, 220.0, 277.2)) * np.exp(-t / 4.0)
        x = x * np.clip(t / 0.01, 0.0, 1.0)
    elif kind == "pluck+silence":
        x = _plucks(n, sample_rate, (196.0,), period_s=seconds, decay_s=0.08)
    else:
        raise ValueError(f"stimulus {kind!r} is unknown; expected sweep, plucks, chord or "
                         "pluck+silence")
    peak = float(np.max(np.abs(x))) or 1.0
    return x * (10.0 ** (level_dbfs / 20.0) / peak)


def _saw(t, f_hz):
    """A band-limited sawtooth (first 12 harmonics)."""
    return sum(np.sin(2 * np.pi * k * f_hz * t) / k for k in range(1, 13))


def _plucks(n, sample_rate, pitches_hz, *, period_s, decay_s=0.35):
    """Plucked notes, one every ``period_s`` (harmonics decaying, the higher ones faster)."""
    x = np.zeros(n)
    step = int(round(period_s * sample_rate))
    for i, start in enumerate(range(0, n, max(step, 1))):
        f = pitches_hz[i % len(pitches_hz)]
        t = np.arange(n - start) / sample_rate
        note = sum(np.sin(2 * np.pi * k * f * t) * np.exp(-t * k / decay_s) / k
                   for k in range(1, 16) if k * f < 0.45 * sample_rate)
        x[start:] += note * np.clip(t / 0.002, 0.0, 1.0)
    return x


# -- the probes ---------------------------------------------------------------------------
def probe_session(type_ids=DEFAULT_TYPES, *, scale: float = 1.0) -> list:
    """The probes for the effect types in ``type_ids`` (multis and Tape Echo; other types add
    nothing: no assumption of the model reaches them). ``scale`` stretches every stimulus
    (1.0: about 26 s of audio for the default types)."""
    from magicstomp.effects import effect_type
    probes = []
    for type_id in dict.fromkeys(effect_type(t).id for t in type_ids):
        if type_id in _AMP_MULTIS:
            probes += _amp_probes(type_id, scale)
        elif type_id in _DIST_MULTIS:
            probes += _dist_probes(type_id, scale)
        elif type_id == 0x35:
            probes += _tape_probes(scale)
    return probes


def probe_types() -> tuple:
    """Type ids :func:`probe_session` has probes for."""
    return tuple(_AMP_MULTIS) + tuple(_DIST_MULTIS) + (0x35,)


def _make(type_id, section, label, values, stimulus, level_dbfs, seconds) -> Probe:
    from magicstomp.patch import Patch
    patch = Patch.init(type_id).with_values(**values)
    return Probe(f"{patch.effect_type.name}: {label}", section, patch, stimulus,
                 float(level_dbfs), round(float(seconds), 3))


def _amp_probes(type_id, scale) -> list:
    q = _QUIET_AMP
    mod = _MOD_PREFIX[type_id]
    s = scale
    probes = [
        _make(type_id, "levels", "clean, volume 10", q, "sweep", -12, 1.0 * s),
        _make(type_id, "levels", "clean, volume 4", dict(q, master_volume=4.0), "sweep", -12,
              0.6 * s),
        _make(type_id, "levels", "gate 4 on a decay", dict(q, gate_threshold=4.0,
                                                           gate_hold_time_ms=2.0),
              "pluck+silence", -12, 1.0 * s),
        _make(type_id, "amp/drive", "Lead 1, gain 0", dict(q, amplifier_type="Lead 1"),
              "plucks", -12, 0.8 * s),
        _make(type_id, "amp/drive", "Lead 1, gain 5", dict(q, amplifier_type="Lead 1",
                                                           preamp_gain=5.0, master_volume=5.0),
              "plucks", -12, 0.8 * s),
        _make(type_id, "amp/drive", "Crunch 1, gain 10", dict(q, amplifier_type="Crunch 1",
                                                              preamp_gain=10.0,
                                                              master_volume=4.0),
              "plucks", -20, 0.8 * s),
    ]
    for knob, value in (("bass", 10.0), ("lo_mid", 10.0), ("hi_mid", 0.0), ("treble", 10.0),
                        ("presence", 0.0), ("master_tone", 3.0)):
        probes.append(_make(type_id, "tone", f"{knob} {value:g}", dict(q, **{knob: value}),
                            "sweep", -12, 0.7 * s))
    rate = 7.0 if mod == "tremolo_" else 6.0

    def lfo(speed, depth, level):
        values = {f"{mod}speed": speed, f"{mod}depth": depth}
        if mod != "tremolo_":             # the tremolo has no level: it is all wet
            values[f"{mod}level"] = level
        return dict(q, **values)

    probes += [
        _make(type_id, "modulation", f"{mod}speed {rate:g}, depth 10", lfo(rate, 10.0, 10.0),
              "chord", -12, 2.0 * s),
        _make(type_id, "modulation", f"{mod}speed 3, depth 5", lfo(3.0, 5.0, 6.0),
              "chord", -12, 1.5 * s),
        _make(type_id, "delay", "echo level 8", dict(q, delay_level=8.0, delay_feedback_pct=30,
                                                    feedback_delay_time_ms=250.0),
              "pluck+silence", -12, 1.2 * s),
        _make(type_id, "reverb", "reverb level 8, HF ratio 0.3",
              dict(q, reverb_level=8.0, reverb_time_s=2.0, reverb_hf_ratio=0.3),
              "pluck+silence", -12, 1.5 * s),
    ]
    return probes


def _dist_probes(type_id, scale) -> list:
    q = _QUIET_DIST
    s = scale
    return [
        _make(type_id, "amp/drive", "gain 2", dict(q, preamp_gain=2.0, master_volume=6.0),
              "plucks", -12, 0.8 * s),
        _make(type_id, "amp/drive", "gain 8", dict(q, preamp_gain=8.0, master_volume=4.0),
              "plucks", -20, 0.8 * s),
        _make(type_id, "tone", "master tone 3", dict(q, preamp_gain=1.0, master_tone=3.0),
              "sweep", -12, 0.7 * s),
    ]


def _tape_probes(scale) -> list:
    return [_make(0x35, "delay", "time 5, mix 5", dict(delay_time=5.0, mix=5.0,
                                                       feedback_level=3.0),
                  "pluck+silence", -12, 1.5 * scale)]


# -- the distance -------------------------------------------------------------------------
_BANDS_CACHE: dict = {}
_WINDOW = np.hanning(N_FFT)


def _band_matrix(sample_rate: int):
    """(N_FFT // 2 + 1, N_BANDS) sparse triangular weights of log-spaced bands, 60 Hz to 16 kHz."""
    matrix = _BANDS_CACHE.get(sample_rate)
    if matrix is None:
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
        edges = np.geomspace(60.0, min(16000.0, 0.45 * sample_rate), N_BANDS + 2)
        matrix = np.zeros((N_BANDS, freqs.size))
        for b in range(N_BANDS):
            lo, mid, hi = edges[b:b + 3]
            up = (freqs - lo) / (mid - lo)
            down = (hi - freqs) / (hi - mid)
            matrix[b] = np.clip(np.minimum(up, down), 0.0, None)
            if not matrix[b].any():           # a band narrower than a bin: the nearest bin
                matrix[b, int(np.argmin(np.abs(freqs - mid)))] = 1.0
        from scipy.sparse import csr_matrix      # sparse: no BLAS threads (slow on a busy box)
        matrix = csr_matrix(matrix.T)
        _BANDS_CACHE[sample_rate] = matrix
    return matrix


def band_spectrogram_db(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, N_BANDS) band levels in dB (power)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    from scipy.fft import rfft
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    spec = rfft(frames * _WINDOW, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    return 10.0 * np.log10((_band_matrix(sample_rate).T @ power.T).T + 1e-20)


def noise_floor_db(silent_take, sample_rate: int) -> np.ndarray:
    """(N_BANDS,) the chain's noise in each band (dB, mean power) from a take of silence,
    plus :data:`NOISE_MARGIN_DB`: band levels below it are noise, not the unit."""
    power = 10.0 ** (band_spectrogram_db(silent_take, sample_rate) / 10.0)
    return 10.0 * np.log10(power.mean(axis=0) + 1e-20) + NOISE_MARGIN_DB


def take_distance_db(model_take, unit_take, sample_rate: int, *, unit_db=None,
                     noise_db=None) -> float:
    """Mean absolute difference (dB) of the band spectrograms of two takes (see module doc).

    ``unit_db`` is the unit take's spectrogram when already computed; ``noise_db``
    (:func:`noise_floor_db`) raises the floor of each band to the chain's noise."""
    u = band_spectrogram_db(unit_take, sample_rate) if unit_db is None else unit_db
    m = band_spectrogram_db(model_take, sample_rate)
    floor = float(u.max()) - FLOOR_DB
    if noise_db is not None:
        floor = np.maximum(floor, noise_db)[None, :]
    u, m = np.maximum(u, floor), np.maximum(m, floor)
    filled = (u > floor) | (m > floor)
    if not filled.any():
        return 0.0
    return float(np.mean(np.abs(u - m)[filled]))
