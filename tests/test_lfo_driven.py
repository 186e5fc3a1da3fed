"""The multis' modulation section behind a driven amp or distortion, measured from the
DI -> target transfer (analyzers/lfo_driven.py): known rates on emulator renders of real
DIs, and no modulation on static multis, delays and reverbs."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.lfo_driven import find_driven_lfo
from analyzers.loading import load_audio
from analyzers.modulation import measured_modulation
from magicstomp.emulator import render, to_mono
from magicstomp.emulator.mappings import knob_value
from magicstomp.patch import Patch

SR = 48000
PATHS = {"jazz": ("di-cc0-jazz/jazz.flac", 2.0), "E2": ("di-toobamp-notes/Guitar-E2-2.flac", 0.0),
         "gulmini": ("pair-gulmini-neuralfx/audio/input/001.flac", 0.0),
         "loop": ("pair-gulmini-neuralfx/loop.flac", 0.0)}
#: One raw step of a multi's speed knob (0.1 of 0-10 on a 0.1-10 Hz log scale), in %.
SPEED_STEP = 100 * (100 ** 0.01 - 1)


@pytest.fixture(scope="module")
def dis(data_dir):
    out = {}
    for name, (path, start_s) in PATHS.items():
        x = load_audio(data_dir / "audio" / path, sample_rate=SR, role="DI").samples
        x = x[int(start_s * SR):int((start_s + 8.0) * SR)]
        out[name] = x * (0.5 / np.max(np.abs(x)))           # a hot DI drives the amp
    return out


@pytest.mark.parametrize("name, type_id, section, speed, gain", [
    ("jazz", 0x3B, "chorus", 7.5, 5.0),          # Distortion Multi (Chorus), 3.16 Hz
    ("loop", 0x37, "chorus", 6.0, 4.0),          # Amp Multi (Chorus), 1.58 Hz
    ("jazz", 0x3E, "phaser", 7.0, 5.0),          # Distortion Multi (Phaser), 2.51 Hz
    ("E2", 0x3C, "flanger", 6.5, 3.0),           # Distortion Multi (Flange), 2.00 Hz, one note
])
def test_multi_modulation_rate_behind_the_drive(dis, name, type_id, section, speed, gain):
    patch = Patch.init(type_id).with_values(**{f"{section}_speed": speed, f"{section}_depth": 8.0,
                                               f"{section}_level": 8.0, "preamp_gain": gain})
    x = dis[name]
    found = measured_modulation(to_mono(render(patch, x, SR)), x, SR)
    truth = knob_value(f"{section}_speed", speed)
    assert found is not None, "no modulation found"
    assert abs(found["rate_hz"] / truth - 1) <= max(0.03, SPEED_STEP / 100), (found["rate_hz"], truth)
    assert 0.0 < found["depth"] <= 1.0


@pytest.mark.parametrize("name, type_id, values", [
    ("jazz", 0x37, dict(chorus_level=0.0, preamp_gain=7.0)),
    ("gulmini", 0x3B, dict(chorus_level=0.0, delay_level=5.0, preamp_gain=6.0)),
    ("E2", 0x3A, dict(phaser_level=0.0, preamp_gain=5.0)),
    ("loop", 0x3C, dict(flanger_level=0.0, preamp_gain=8.0)),
])
def test_static_multis_have_no_modulation(dis, name, type_id, values):
    x = dis[name]
    y = to_mono(render(Patch.init(type_id).with_values(**values), x, SR))
    assert measured_modulation(y, x, SR) is None


@pytest.mark.parametrize("name, type_id, values", [
    ("jazz", 0x0D, dict(delay_time_ms=420.0, feedback_gain_pct=40, mix_pct=50)),
    ("E2", 0x0D, dict(delay_time_ms=300.0, feedback_gain_pct=30, mix_pct=40)),
    ("E2", 0x09, dict(reverb_time_s=2.5, mix_pct=40)),
])
def test_echoes_and_reverb_are_not_an_lfo(dis, name, type_id, values):
    """An echo or a reverb makes the transfer follow the playing's rhythm, not an LFO."""
    x = dis[name]
    y = to_mono(render(Patch.init(type_id).with_values(**values), x, SR))
    assert find_driven_lfo(y, x, SR) is None


def test_a_tremolo_on_the_dry_signal_is_found_at_its_rate(dis):
    x = dis["jazz"]
    t = np.arange(x.size) / SR
    found = find_driven_lfo(x * (1 - 0.6 * (0.5 + 0.5 * np.sin(2 * np.pi * 3.3 * t))), x, SR)
    assert found is not None and found["kind"] == "tremolo"
    assert found["rate_hz"] == pytest.approx(3.3, rel=0.03)


def test_the_dry_signal_has_no_driven_lfo(dis):
    for x in dis.values():
        assert find_driven_lfo(x, x, SR) is None
