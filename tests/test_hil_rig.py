"""The Rig seam without hardware: VirtualRig exactness, imitated chains, DI checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from hil.imperfections import Imperfections
from hil.rig import Rig, VirtualRig, check_di
from magicstomp.emulator import render, to_mono
from magicstomp.errors import AudioInputError, DeviceError, ParameterError
from magicstomp.patch import Patch

RATE = 48000


@pytest.fixture(scope="module")
def di():
    rng = np.random.default_rng(7)
    t = np.arange(RATE // 2) / RATE
    return 0.4 * np.sin(2 * np.pi * 110 * t) * np.exp(-3 * t) + 0.01 * rng.standard_normal(t.size)


@pytest.fixture(scope="module")
def patch():
    return Patch.init("Mono Delay").with_values(delay_time_ms=120.0, feedback_gain_pct=40, mix_pct=50)


def test_ideal_virtual_rig_is_the_emulator_mono_fold(di, patch):
    take = VirtualRig(RATE).render(patch, di)
    assert take.shape == di.shape and take.dtype == np.float64
    np.testing.assert_array_equal(take, to_mono(render(patch, di, RATE)))


def test_nominal_latency_and_polarity_are_compensated_gain_is_not(di, patch):
    ideal = VirtualRig(RATE).render(patch, di)
    chain = Imperfections(latency_samples=300, gain_db=-6.0, polarity_inverted=True)
    take = VirtualRig(RATE, imperfections=chain).render(patch, di)
    np.testing.assert_allclose(take, ideal * 10 ** (-6 / 20), atol=1e-12)


def _lag(take, ideal):
    """Lag of ``take`` behind ``ideal`` in samples (positive: later)."""
    corr = signal.correlate(take, ideal, mode="full", method="fft")
    return int(np.argmax(corr)) - (len(ideal) - 1)


def test_jitter_leaves_a_residual_lag_within_its_range_and_is_seeded(di, patch):
    ideal = VirtualRig(RATE).render(patch, di)
    chain = Imperfections(latency_samples=300, latency_jitter_samples=2)
    rig = VirtualRig(RATE, imperfections=chain, seed=11)
    lags = [_lag(rig.render(patch, di), ideal) for _ in range(12)]
    assert set(lags) <= {-2, -1, 0, 1, 2} and len(set(lags)) > 2
    first = VirtualRig(RATE, imperfections=chain, seed=11).render(patch, di)
    again = VirtualRig(RATE, imperfections=chain, seed=11).render(patch, di)
    np.testing.assert_array_equal(again, first)
    other = VirtualRig(RATE, imperfections=chain, seed=12)
    assert [_lag(other.render(patch, di), ideal) for _ in range(12)] != lags


def test_noise_and_gain_wobble_are_the_configured_size(di, patch):
    ideal = VirtualRig(RATE).render(patch, di)
    noisy = VirtualRig(RATE, imperfections=Imperfections(noise_dbfs=-60.0), seed=1).render(patch, di)
    residual_db = 20 * np.log10(np.sqrt(np.mean((noisy - ideal) ** 2)))
    assert residual_db == pytest.approx(-60.0, abs=0.3)
    rig = VirtualRig(RATE, imperfections=Imperfections(gain_wobble_db=0.5), seed=2)
    gains_db = [20 * np.log10(np.dot(rig.render(patch, di), ideal) / np.dot(ideal, ideal))
                for _ in range(8)]
    assert max(np.abs(gains_db)) <= 0.5 and np.std(gains_db) > 0.05


def test_colouring_filters_the_return(patch):
    t = np.arange(RATE // 4) / RATE
    low, high = 0.3 * np.sin(2 * np.pi * 30 * t), 0.3 * np.sin(2 * np.pi * 10000 * t)
    dry = Patch.init("Mono Delay").with_values(mix_pct=0)
    rig = VirtualRig(RATE, imperfections=Imperfections(highpass_hz=200.0, lowpass_hz=2000.0))
    for x in (low, high):
        ideal = VirtualRig(RATE).render(dry, x)
        assert np.std(rig.render(dry, x)[RATE // 20:]) < 0.1 * np.std(ideal[RATE // 20:])


def test_bad_imperfections_are_refused():
    with pytest.raises(ParameterError, match="latency_samples=-1"):
        Imperfections(latency_samples=-1)
    with pytest.raises(ParameterError, match="noise_dbfs=6"):
        Imperfections(noise_dbfs=6)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((100, 2)), "fold stereo to mono"),
    (np.array([]), "non-empty"),
    (np.array([0.1, np.nan]), "NaN"),
])
def test_bad_di_is_refused_with_a_reason(bad, match, patch):
    with pytest.raises(AudioInputError, match=match):
        VirtualRig(RATE).render(patch, bad)


def test_send_level_limit_refuses_instead_of_scaling():
    with pytest.raises(AudioInputError, match=r"peaks at 0.00 dBFS.*at most -1.0 dBFS"):
        check_di(np.array([0.0, 1.0, -0.5]), max_peak_dbfs=-1.0)
    x = np.array([0.0, 0.89, -0.5])
    np.testing.assert_array_equal(check_di(x, max_peak_dbfs=-1.0), x)    # unchanged, not scaled


def test_rig_template_counts_takes_and_refuses_after_close(di, patch):
    class Gain(Rig):
        def _render(self, patch, di):
            return 0.5 * di

    with Gain(RATE) as rig:
        np.testing.assert_array_equal(rig.render(patch, di), 0.5 * di)
        assert rig.takes == 1
    with pytest.raises(DeviceError, match="closed"):
        rig.render(patch, di)
    assert rig.describe() == {"rig": "Gain", "sample_rate": RATE, "takes": 1}
