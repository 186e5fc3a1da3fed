"""3 Band Parametric EQ (0x33): known answers measured with steady sines.

* gain at each band's centre frequency within +/- 1 dB of the set gain (three rates),
* Q honoured: the band's half-gain points sit f0/Q apart, and a higher Q is narrower,
* effect level scales the output (10 = unity, 5 = -6 dB, 0 = silence),
* 0 dB bands leave the signal untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.emulator import render
from magicstomp.patch import Patch

FLAT = dict(eq_gain_1_db=0.0, eq_gain_2_db=0.0, eq_gain_3_db=0.0, effect_level=10.0)


def eq_patch(**values) -> Patch:
    return Patch.init(0x33).with_values(**{**FLAT, **values})


def sine_gain_db(patch, freq_hz, *, sample_rate=44100, seconds=0.5) -> float:
    """Steady-state gain of the patch at ``freq_hz`` (RMS ratio over the second half)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = 0.25 * np.sin(2 * np.pi * freq_hz * t)
    y = render(patch, x, sample_rate)[:, 0]
    half = x.size // 2
    return 20 * np.log10(np.sqrt(np.mean(y[half:] ** 2)) / np.sqrt(np.mean(x[half:] ** 2)))


def settable(freq_hz: float) -> float:
    """The nearest centre frequency the unit can store (the table's step)."""
    return Patch.init(0x33).with_values(eq_frequency_1_hz=freq_hz).get("eq_frequency_1_hz")


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("band", [1, 2, 3])
@pytest.mark.parametrize("freq_hz,gain_db,q", [(100.0, 9.0, 1.0), (1000.0, -12.0, 4.0),
                                               (5000.0, 6.0, 0.5), (12500.0, -6.0, 2.0)])
def test_gain_at_centre_matches_the_set_gain(sample_rate, band, freq_hz, gain_db, q):
    f0 = settable(freq_hz)
    patch = eq_patch(**{f"eq_frequency_{band}_hz": f0, f"eq_gain_{band}_db": gain_db,
                        f"eq_bandwidth_{band}_q": q})
    set_gain = patch.get(f"eq_gain_{band}_db")
    assert sine_gain_db(patch, f0, sample_rate=sample_rate) == pytest.approx(set_gain, abs=1.0)


def test_three_bands_act_together_each_at_its_centre():
    patch = eq_patch(eq_frequency_1_hz=settable(100.0), eq_gain_1_db=8.0, eq_bandwidth_1_q=4.0,
                     eq_frequency_2_hz=settable(1000.0), eq_gain_2_db=-10.0, eq_bandwidth_2_q=4.0,
                     eq_frequency_3_hz=settable(8000.0), eq_gain_3_db=5.0, eq_bandwidth_3_q=4.0)
    for band, expected in ((1, 8.0), (2, -10.0), (3, 5.0)):
        f0 = patch.get(f"eq_frequency_{band}_hz")
        assert sine_gain_db(patch, f0) == pytest.approx(expected, abs=1.0)
    assert abs(sine_gain_db(patch, 300.0)) < 1.5        # between the narrow bands: near flat


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, 5.0])
def test_q_sets_the_bandwidth_between_half_gain_points(q):
    f0, gain_db = 1000.0, 12.0
    patch = eq_patch(eq_frequency_1_hz=f0, eq_gain_1_db=gain_db, eq_bandwidth_1_q=q)
    q_set = patch.get("eq_bandwidth_1_q")
    # bisect for the frequencies above and below f0 where the gain is gain_db / 2
    edges = []
    for lo, hi, rising in ((20.0, f0, True), (f0, 20000.0, False)):
        for _ in range(14):
            mid = np.sqrt(lo * hi)
            above = sine_gain_db(patch, mid, seconds=0.2) > gain_db / 2
            if above == rising:
                hi = mid
            else:
                lo = mid
        edges.append(np.sqrt(lo * hi))
    bandwidth_hz = edges[1] - edges[0]
    assert bandwidth_hz == pytest.approx(f0 / q_set, rel=0.12)


def test_higher_q_is_narrower():
    gains = [sine_gain_db(eq_patch(eq_frequency_2_hz=1000.0, eq_gain_2_db=12.0,
                                   eq_bandwidth_2_q=q), 1500.0) for q in (0.5, 2.0, 8.0)]
    assert gains[0] > gains[1] > gains[2]


@pytest.mark.parametrize("level,expected_db", [(10.0, 0.0), (5.0, -6.02), (2.5, -12.04)])
def test_effect_level_scales_the_output(level, expected_db):
    assert sine_gain_db(eq_patch(effect_level=level), 440.0) == pytest.approx(expected_db, abs=0.05)


def test_effect_level_zero_is_silent_and_flat_bands_are_transparent(rng):
    x = rng.standard_normal(4096) * 0.3
    assert np.all(render(eq_patch(effect_level=0.0), x, 44100) == 0.0)
    y = render(eq_patch(eq_frequency_1_hz=500.0, eq_bandwidth_1_q=3.0), x, 44100)
    np.testing.assert_array_equal(y[:, 0], x)
    np.testing.assert_array_equal(y[:, 1], x)
