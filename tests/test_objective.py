"""MatchLoss: level invariance, known-answer minima for echo, tremolo and EQ, noise robustness."""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.errors import AudioInputError
from optimize.loss import LossValue
from optimize.objective import DEFAULT_WEIGHTS, MatchLoss, a_weighting_db

SR = 44100


def plucks(rng, seconds=2.0, sr=SR):
    """A DI-like signal: decaying harmonic plucks at irregular onsets."""
    n = int(seconds * sr)
    x = np.zeros(n)
    t = np.arange(int(0.4 * sr)) / sr
    for onset_s, f0 in zip(np.cumsum(rng.uniform(0.15, 0.45, 12)), rng.uniform(110, 440, 12)):
        i = int(onset_s * sr)
        if i >= n:
            break
        note = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * np.exp(-t * 6)
        m = min(len(note), n - i)
        x[i:i + m] += note[:m]
    return 0.3 * x / np.max(np.abs(x))


def echo(x, delay_s, gain, sr=SR):
    d = int(delay_s * sr)
    y = x.copy()
    y[d:] += gain * x[:-d]
    return y


def test_identical_and_scaled_takes_score_zero(rng):
    x = plucks(rng)
    loss = MatchLoss(x, SR)
    assert loss(x).total == pytest.approx(0.0, abs=1e-9)
    scaled = loss(0.25 * x)                       # -12 dB: level is matched inside the loss
    assert scaled.total == pytest.approx(0.0, abs=1e-6)
    assert scaled.terms["level_gain_db"] == pytest.approx(12.04, abs=0.01)
    assert isinstance(scaled, LossValue) and set(DEFAULT_WEIGHTS) <= set(scaled.terms)


def test_stereo_take_is_folded_to_mono(rng):
    x = plucks(rng)
    loss = MatchLoss(x, SR)
    assert loss(np.stack([x, x], axis=1)).total == pytest.approx(0.0, abs=1e-9)


def test_echo_time_is_found_at_the_true_delay(rng):
    x = plucks(rng)
    loss = MatchLoss(echo(x, 0.30, 0.6), SR)
    scores = {d: loss(echo(x, d, 0.6)).total for d in (0.20, 0.27, 0.30, 0.33, 0.40)}
    assert min(scores, key=scores.get) == 0.30
    assert scores[0.30] < 0.2 * min(v for d, v in scores.items() if d != 0.30)


def test_echo_level_grows_the_loss_monotonically(rng):
    x = plucks(rng)
    loss = MatchLoss(echo(x, 0.25, 0.5), SR)
    values = [loss(echo(x, 0.25, g)).total for g in (0.5, 0.35, 0.2, 0.05)]
    assert values[0] < 1e-6 and np.all(np.diff(values) > 0)


def test_tremolo_rate_minimum_at_the_true_rate(rng):
    x = plucks(rng)
    t = np.arange(len(x)) / SR

    def trem(rate_hz):
        return x * (1 - 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * rate_hz * t)))
    loss = MatchLoss(trem(5.0), SR)
    scores = {r: loss(trem(r)).total for r in (2.0, 3.5, 5.0, 6.5, 9.0)}
    assert min(scores, key=scores.get) == 5.0


def test_spectrum_difference_shows_a_known_shelf(rng):
    from scipy.signal import butter, sosfilt
    noise = rng.standard_normal(3 * SR) * 0.1
    sos = butter(4, 1000, "lowpass", fs=SR, output="sos")
    loss = MatchLoss(noise, SR)
    freqs, diff = loss.spectrum_difference_db(sosfilt(sos, noise))
    low = diff[(freqs >= 100) & (freqs <= 400)].mean()
    high = diff[(freqs >= 4000) & (freqs <= 8000)].mean()
    assert high - low > 40.0                      # 4th order: ~ -48 dB at 2-3 octaves up
    assert np.ptp(diff[(freqs >= 100) & (freqs <= 400)]) < 3.0


def test_noise_at_minus_70_dbfs_costs_less_than_a_small_change(rng):
    x = plucks(rng)
    target = echo(x, 0.3, 0.4)
    loss = MatchLoss(target, SR)
    noisy = target + rng.standard_normal(len(x)) * 10 ** (-70 / 20)
    small_change = echo(x, 0.3, 0.3)
    # the plucks have almost nothing above 2.2 kHz, so the noise fills those bands: worst case
    assert loss(noisy).total < 0.5 * loss(small_change).total


def test_sensitivity_spread_is_moderate(rng):
    """Echo time, echo level and tremolo depth move the loss within ~20:1 of each other."""
    x = plucks(rng)
    t = np.arange(len(x)) / SR

    def chain(delay_s, gain, depth):
        y = echo(x, delay_s, gain)
        return y * (1 - depth * (0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)))
    base = (0.30, 0.5, 0.4)
    loss = MatchLoss(chain(*base), SR)
    rises = [loss(chain(0.33, 0.5, 0.4)).total, loss(chain(0.30, 0.4, 0.4)).total,
             loss(chain(0.30, 0.5, 0.3)).total]
    assert min(rises) > 0 and max(rises) / min(rises) < 20.0


def test_a_weighting_known_points():
    db = a_weighting_db(np.array([100.0, 1000.0, 10000.0]))
    np.testing.assert_allclose(db, [-19.1, 0.0, -2.5], atol=0.2)


@pytest.mark.parametrize("target, message", [
    (np.zeros(SR), "silent"),
    (np.full(SR, np.nan), "NaN"),
    (np.zeros((0,)), "expected mono"),
])
def test_bad_targets_are_refused(target, message):
    with pytest.raises(AudioInputError, match=message):
        MatchLoss(target, SR)


def test_bad_take_and_options_are_refused(rng):
    x = plucks(rng, seconds=1.0)
    with pytest.raises(AudioInputError, match="unknown MatchLoss terms"):
        MatchLoss(x, SR, weights={"loudness": 1.0})
    with pytest.raises(AudioInputError, match="sample rate"):
        MatchLoss(x, 100)
    loss = MatchLoss(x, SR)
    bad = x.copy()
    bad[10] = np.inf
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        loss(bad)


def test_silent_take_scores_high_and_short_take_is_padded(rng):
    x = plucks(rng, seconds=1.0)
    loss = MatchLoss(x, SR)
    assert loss(np.zeros_like(x)).total > 5.0
    assert np.isfinite(loss(x[: SR // 2]).total)
