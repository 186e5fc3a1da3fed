"""SeedLoss and the metric panel: known answers on synthetic and real signals."""

import numpy as np
import pytest
import scipy.signal as ss

from analyzers import features as F
from analyzers.loading import load_audio
from optimize.loss import LOSSES, LossValue, SeedLoss, get_loss, metric_panel
from magicstomp.errors import AudioInputError, ParameterError

SR = 44100


@pytest.fixture(scope="module")
def jazz(data_dir):
    return load_audio(data_dir / "audio/di-cc0-jazz/jazz.flac").samples[:5 * SR]


def _echo(x, delay_ms, gain=0.5):
    k = int(round(delay_ms * 1e-3 * SR))
    y = x.copy()
    y[k:] += gain * x[:-k]
    return y


def test_zero_for_identical_signals(jazz):
    value = SeedLoss(jazz, SR)(jazz)
    assert isinstance(value, LossValue)
    assert value.total == pytest.approx(0.0, abs=1e-9)
    assert float(value) == value.total and set(value.terms) >= {"mel", "mfcc"}


def test_weights_are_the_seeds(jazz):
    value = SeedLoss(jazz, SR)(ss.lfilter([0.5], [1, -0.5], jazz))
    assert value.total == pytest.approx(0.6 * value.terms["mel"] + 0.4 * value.terms["mfcc"])
    assert value.total > 0.1


@pytest.mark.parametrize("gain_db", [-20.0, -6.0, 3.0, 12.0])
def test_invariant_to_a_pure_level_change(jazz, gain_db):
    value = SeedLoss(jazz, SR)(jazz * 10 ** (gain_db / 20))
    assert value.total == pytest.approx(0.0, abs=1e-6)
    assert value.terms["level_gain_db"] == pytest.approx(-gain_db, abs=1e-3)


@pytest.mark.parametrize("lag", [-700, -41, 1, 333, 880])
def test_invariant_to_the_alignment_offset(jazz, lag):
    loss = SeedLoss(jazz, SR)
    coloured = ss.lfilter([0.6], [1, -0.4], jazz)
    reference = loss(coloured)
    assert abs(reference.terms["lag_samples"]) <= 1          # the filter's group delay
    value = loss(np.roll(coloured, lag))
    assert value.terms["lag_samples"] == lag + reference.terms["lag_samples"]
    assert value.total == pytest.approx(reference.total, rel=0.05, abs=1e-6)
    assert loss(np.roll(jazz, lag)).total == pytest.approx(0.0, abs=1e-6)


def test_stereo_take_is_folded(jazz):
    value = SeedLoss(jazz, SR)(np.column_stack([jazz, jazz]))
    assert value.total == pytest.approx(0.0, abs=1e-9)


def test_increases_monotonically_with_eq_difference(jazz):
    loss = SeedLoss(jazz, SR)
    values = [loss(ss.sosfilt(ss.butter(2, cutoff_hz, "low", fs=SR, output="sos"), jazz)).total
              for cutoff_hz in (6000, 3000, 1500, 800, 400)]
    assert all(b > a for a, b in zip(values, values[1:])), values


def _plucks(seconds=5.0):
    rng = np.random.default_rng(0)
    x = np.zeros(int(seconds * SR))
    t = np.arange(int(0.3 * SR)) / SR
    for start_s in np.arange(0.1, seconds - 0.3, 0.37):
        f0 = rng.uniform(100, 400)
        k = int(start_s * SR)
        x[k:k + t.size] += (np.sin(2 * np.pi * f0 * t) * np.exp(-t / 0.06)
                            * (1 + 0.5 * np.sin(2 * np.pi * 3 * f0 * t)))
    return x


@pytest.mark.parametrize("delay_ms", [120.0, 300.0, 500.0])
def test_increases_monotonically_with_delay_time_difference(delay_ms):
    dry = _plucks()
    loss = SeedLoss(_echo(dry, delay_ms), SR)
    values = [loss(_echo(dry, delay_ms + d_ms)).total for d_ms in (0, 2, 5, 10, 20, 40, 80)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_increases_monotonically_with_echo_level_difference(jazz):
    loss = SeedLoss(_echo(jazz, 300.0, gain=0.6), SR)
    values = [loss(_echo(jazz, 300.0, gain=g)).total for g in (0.6, 0.45, 0.3, 0.15, 0.05)]
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_bad_takes(jazz):
    loss = SeedLoss(jazz, SR)
    bad = jazz.copy()
    bad[10] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        loss(bad)
    with pytest.raises(AudioInputError, match="silent"):
        SeedLoss(np.zeros(SR), SR)
    with pytest.raises(ParameterError, match="max_lag_ms"):
        SeedLoss(jazz, SR, max_lag_ms=-1)


def test_registry():
    assert get_loss("seed") is SeedLoss
    assert set(LOSSES) == {"seed", "match"}
    with pytest.raises(ParameterError, match="expected one of match, seed"):
        get_loss("nope")


def test_metric_panel_known_answers(jazz):
    same = metric_panel(jazz, jazz, SR)
    assert same["esr"] == pytest.approx(0.0, abs=1e-12)
    assert same["mrstft"] == pytest.approx(0.0, abs=1e-9)
    assert same["centroid_diff_hz"] == pytest.approx(0.0, abs=1e-6)
    quieter = metric_panel(0.5 * jazz, jazz, SR)
    assert quieter["level_diff_db"] == pytest.approx(-6.02, abs=0.01)
    assert quieter["esr"] == pytest.approx(0.0, abs=1e-12)       # level-matched first
    dark = metric_panel(ss.sosfilt(ss.butter(2, 500, fs=SR, output="sos"), jazz), jazz, SR)
    assert dark["centroid_diff_hz"] < -50 and dark["rolloff_diff_hz"] < 0
    assert dark["esr"] > 0.01 and dark["mrstft"] > 0.1
    assert same["seed_loss"] == pytest.approx(0.0, abs=1e-6)     # the seed's loss, for reports
    assert dark["seed_loss"] > 10 * max(quieter["seed_loss"], 1e-6)
    clipped = metric_panel(np.clip(jazz, -0.05, 0.05), jazz, SR)
    assert clipped["crest_diff_db"] < -3


def test_loudness_bs1770_reference():
    """BS.1770-4: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS at any rate."""
    for rate in (44100, 48000):
        t = np.arange(3 * rate) / rate
        sine = np.sin(2 * np.pi * 997 * t)
        assert F.integrated_loudness_lufs(sine, rate) == pytest.approx(-3.01, abs=0.02)
        assert F.integrated_loudness_lufs(0.1 * sine, rate) == pytest.approx(-23.01, abs=0.02)
    # gating: appending silence does not change the integrated loudness
    t = np.arange(3 * 48000) / 48000
    sine = 0.1 * np.sin(2 * np.pi * 997 * t)
    padded = np.concatenate([sine, np.zeros(48000 * 3)])
    # silent blocks are gated out (ungated it would read 3 dB lower); the few
    # blocks straddling the edge still count, as the standard says
    assert F.integrated_loudness_lufs(padded, 48000) == pytest.approx(-23.01, abs=0.3)
