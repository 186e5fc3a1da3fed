"""Modulation measured from the audio: a hand-made tremolo and flanger of known rate on
real DIs, emulator renders of the modulation types, and no modulation on static patches."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.lfo import find_lfo
from analyzers.loading import load_audio
from analyzers.modulation import measured_modulation
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch

SR = 48000
PATHS = {"jazz": "di-cc0-jazz/jazz.flac", "E2": "di-toobamp-notes/Guitar-E2-2.flac",
         "gulmini": "pair-gulmini-neuralfx/audio/input/001.flac"}


@pytest.fixture(scope="module")
def dis(data_dir):
    return {k: load_audio(data_dir / "audio" / p, sample_rate=SR, role="DI").samples[:8 * SR]
            for k, p in PATHS.items()}


def hand_flanger(x, rate_hz, lo_ms=0.8, hi_ms=3.2):
    """0.5 (x + x delayed by a sine-swept lo..hi ms), linear interpolation."""
    t = np.arange(x.size) / SR
    delay = (lo_ms + (hi_ms - lo_ms) * (0.5 + 0.5 * np.sin(2 * np.pi * rate_hz * t))) * 1e-3 * SR
    pos = np.arange(x.size) - delay
    i0 = np.floor(pos).astype(int)
    frac = pos - i0
    i0c = np.clip(i0, 0, x.size - 2)
    delayed = np.where(i0 >= 0, (1 - frac) * x[i0c] + frac * x[i0c + 1], 0.0)
    return 0.5 * (x + delayed)


@pytest.mark.parametrize("name", ["jazz", "E2", "gulmini"])
def test_hand_made_tremolo_rate_depth_and_kind(dis, name):
    x = dis[name]
    t = np.arange(x.size) / SR
    found = measured_modulation(x * (1 - 0.7 * (0.5 + 0.5 * np.sin(2 * np.pi * 4.3 * t))), x, SR)
    assert found is not None and found["kind"] == "tremolo"
    assert found["rate_hz"] == pytest.approx(4.3, rel=0.03)
    assert found["depth"] == pytest.approx(0.7, abs=0.1)


def test_hand_made_flanger_rate_kind_and_sweep(dis):
    x = dis["jazz"]
    found = measured_modulation(hand_flanger(x, 0.5), x, SR)
    assert found is not None and found["kind"] == "flange"
    assert found["rate_hz"] == pytest.approx(0.5, rel=0.03)
    _, lo_ms, hi_ms = found["comb_delay_ms"]              # the comb sweeps 0.8-3.2 ms
    assert lo_ms == pytest.approx(0.8, abs=0.5) and hi_ms == pytest.approx(3.2, abs=0.5)
    faster = measured_modulation(hand_flanger(x, 0.8), x, SR)
    assert faster is not None and faster["rate_hz"] == pytest.approx(0.8, rel=0.03)


@pytest.mark.parametrize("name, type_id, values, rate_key", [
    ("jazz", 0x17, dict(mod_frequency_hz=2.05, mod_depth_pct=70), "mod_frequency_hz"),
    ("E2", 0x15, dict(mod_frequency_hz=1.15, mod_depth_pct=50), "mod_frequency_hz"),
    ("jazz", 0x12, dict(mod_frequency_hz=2.25, pm_depth_pct=80), "mod_frequency_hz"),
    ("E2", 0x3A, dict(phaser_speed=6.0, phaser_depth=8.0, phaser_level=8.0, preamp_gain=3.0),
     "phaser_speed"),
])
def test_emulator_lfo_rates(dis, name, type_id, values, rate_key):
    from magicstomp.emulator.mappings import knob_value
    patch = Patch.init(type_id).with_values(**values)
    x = dis[name]
    found = measured_modulation(to_mono(render(patch, x, SR)), x, SR)
    truth = patch.get(rate_key) if rate_key == "mod_frequency_hz" else knob_value(rate_key, values[rate_key])
    assert found is not None and found["rate_hz"] == pytest.approx(truth, rel=0.03)


@pytest.mark.parametrize("name, type_id, values", [
    ("E2", 0x08, {}), ("jazz", 0x2F, {}), ("E2", 0x0D, {}),
    ("gulmini", 0x33, dict(eq_gain_1_db=6.0, eq_frequency_1_hz=300.0)),
    ("E2", 0x37, dict(chorus_level=0.0)),
])
def test_static_patches_have_no_modulation(dis, name, type_id, values):
    x = dis[name]
    y = to_mono(render(Patch.init(type_id).with_values(**values), x, SR))
    assert measured_modulation(y, x, SR) is None


def test_the_dry_signal_has_no_lfo(dis):
    assert find_lfo(dis["jazz"], dis["jazz"], SR) is None
