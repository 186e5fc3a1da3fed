"""Initial-patch heuristics on renders of the virtual Magicstomp with known
settings, on real DIs from the shared folder (the accuracy figures of issue #4):
delay time within 5 % (median), reverb decay within 30 % (median), modulation
rate within 15 % (median). Also the seed rules without a DI, the tag and the
bad-input path.

DIs: jazz.wav (CC0, freesound Sub-d), NeuralFXEmulation input 001 and loop.wav
(MIT, Nicola Gulmini), ToobAmp Guitar-B4 / E2-2 (MIT, rerdavies), EGFxSet
Clean 6-22 (CC-BY-4.0, Pedroza, Meza, Roman). Each is cut to 6 s and followed by
2.5 s of silence, as a target recording that ends with its tail.
"""

import numpy as np
import pytest

from analyzers.heuristics import initial_patch
from analyzers.loading import load_audio
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch

SR = 48000
DI_FILES = {
    "jazz": "di-cc0-jazz/jazz.flac",
    "gulmini001": "pair-gulmini-neuralfx/audio/input/001.flac",
    "B4": "di-toobamp-notes/Guitar-B4.flac",
    "E2-2": "di-toobamp-notes/Guitar-E2-2.flac",
    "egfx": "egfxset-notes/Clean/Middle/6-22.flac",
    "loop": "pair-gulmini-neuralfx/loop.flac",
}


@pytest.fixture(scope="module")
def dis(data_dir):
    return {name: np.pad(load_audio(data_dir / "audio" / path, sample_rate=SR).samples[:6 * SR],
                         (0, int(2.5 * SR)))
            for name, path in DI_FILES.items()}


def _settings(seed, count, make):
    rng = np.random.default_rng(seed)
    names = list(DI_FILES)
    return [(names[i % len(names)], make(rng, i)) for i in range(count)]


def _run(dis, cases, read_truth, read_estimate):
    errors, rows = [], []
    for name, patch in cases:
        wet = to_mono(render(patch, dis[name], SR))
        neutral = initial_patch(wet, SR, di=dis[name])
        truth, estimate = read_truth(patch), read_estimate(neutral)
        error = abs(estimate - truth) / truth if estimate else 1.0
        errors.append(error)
        rows.append((name, round(truth, 3), round(estimate, 3), round(error, 4)))
    return np.array(errors), rows


def test_delay_time_median_within_5_percent(dis):
    cases = _settings(1, 12, lambda rng, i: Patch.init(0x0D).with_values(
        delay_time_ms=float(rng.uniform(80, 900)), feedback_gain_pct=int(rng.integers(0, 60)),
        mix_pct=int(rng.integers(20, 60))))
    errors, rows = _run(dis, cases, lambda p: p.get("delay_time_ms"), lambda n: n.delay_time_ms)
    print("delay", rows)
    assert np.median(errors) <= 0.05, rows
    assert np.mean(errors <= 0.05) >= 0.9, rows


def test_reverb_decay_median_within_30_percent(dis):
    cases = _settings(2, 10, lambda rng, i: Patch.init(0x09).with_values(
        reverb_time_s=float(np.exp(rng.uniform(np.log(0.4), np.log(5.0)))),
        mix_pct=int(rng.integers(25, 60))))
    errors, rows = _run(dis, cases, lambda p: p.get("reverb_time_s"), lambda n: n.reverb_decay_s)
    print("reverb", rows)
    assert np.median(errors) <= 0.30, rows
    assert np.mean(errors <= 0.30) >= 0.7, rows


def test_modulation_rate_median_within_15_percent(dis):
    """8 tremolo and 4 chorus renders. Tremolo is found every time; chorus less often
    (a moving comb barely changes band levels on a low-pitched DI), see the report."""
    tremolo = _settings(3, 8, lambda rng, i: Patch.init(0x17).with_values(
        mod_frequency_hz=float(rng.uniform(0.8, 8.0)), mod_depth_pct=int(rng.integers(40, 100))))
    chorus = _settings(4, 4, lambda rng, i: Patch.init(0x12).with_values(
        mod_frequency_hz=float(rng.uniform(1.0, 6.0)), pm_depth_pct=int(rng.integers(50, 100))))
    rate = (lambda p: p.get("mod_frequency_hz"), lambda n: n.mod_rate_hz)
    trem_errors, trem_rows = _run(dis, tremolo, *rate)
    chorus_errors, chorus_rows = _run(dis, chorus, *rate)
    print("tremolo", trem_rows, "chorus", chorus_rows)
    assert np.all(trem_errors <= 0.15), trem_rows
    assert np.median(np.r_[trem_errors, chorus_errors]) <= 0.15


def test_dry_signal_gives_a_dry_patch(dis):
    neutral = initial_patch(dis["jazz"], SR, di=dis["jazz"])
    assert neutral.delay_mix == 0 and neutral.reverb_mix == 0 and neutral.mod_kind is None
    assert neutral.amp_gain < 0.1 and not neutral.booster


def test_gain_grows_with_drive(dis):
    x = dis["jazz"]
    gains = [initial_patch(np.tanh(drive * x) / drive, SR, di=x).amp_gain for drive in (1, 10, 30, 100)]
    assert gains[0] < 0.05 and gains[-1] > 0.6, gains
    assert all(b >= a for a, b in zip(gains, gains[1:])), gains


def test_gain_follows_the_amp_simulators_preamp_gain(dis):
    x = dis["jazz"]
    gains = []
    for preamp_gain in (0.0, 5.0, 10.0):
        patch = Patch.init(0x08).with_values(preamp_gain=preamp_gain, amplifier_type="Crunch 1")
        gains.append(initial_patch(to_mono(render(patch, x, SR)), SR, di=x).amp_gain)
    assert gains[0] < 0.2 and gains[2] > 0.4, gains
    assert gains[0] < gains[1] < gains[2], gains


def test_dotted_eighth_tag(dis):
    x = dis["jazz"]
    tempo = initial_patch(x, SR, di=x).tempo_bpm
    delay_ms = 0.75 * 60000.0 / tempo
    wet = to_mono(render(Patch.init(0x0D).with_values(delay_time_ms=delay_ms, mix_pct=40), x, SR))
    neutral = initial_patch(wet, SR, di=x)
    assert neutral.delay_time_ms == pytest.approx(delay_ms, rel=0.01)
    assert "dotted_8th" in neutral.tags


def test_seed_rules_without_di(dis):
    x = dis["jazz"]
    k = int(0.4 * SR)
    echo = x.copy()
    echo[k:] += 0.6 * x[:-k]
    neutral = initial_patch(echo, SR)
    assert neutral.delay_time_ms == pytest.approx(400.0, rel=0.05)
    assert neutral.features["target"]["backend"] == "librosa"
