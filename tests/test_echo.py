"""Echo times measured from the audio (analyzers/echo.py): known answers on renders of
every delay type of the virtual Magicstomp on three real DIs, behind an amp and a
modulation section for the multis, and "no echo" where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.alignment import align, apply_alignment
from analyzers.echo import delay_from_echoes, echo_response, measure_echoes
from analyzers.loading import load_audio
from magicstomp.emulator import render, to_mono
from magicstomp.emulator.delay import MOD_DELAY_SWEEP_MS
from magicstomp.patch import Patch

SR = 48000
DIS = {"jazz": ("di-cc0-jazz/jazz.flac", 2.0), "E2": ("di-toobamp-notes/Guitar-E2-2.flac", 0.0),
       "egfx": ("egfxset-notes/Clean/Middle/6-22.flac", 0.0)}


@pytest.fixture(scope="module")
def dis(data_dir):
    out = {}
    for name, (path, start_s) in DIS.items():
        x = load_audio(data_dir / "audio" / path, sample_rate=SR, role="DI").samples
        out[name] = x[int(start_s * SR):int((start_s + 4.0) * SR)]
    return out


def _delay(patch, di):
    target = to_mono(render(patch, di, SR))
    placed = apply_alignment(target, align(target, di, SR), di.size)     # as the analysis does
    echoes = measure_echoes(echo_response(placed, di, SR), SR)
    return delay_from_echoes(echoes), echoes


@pytest.mark.parametrize("di_name, type_id, values, key", [
    ("jazz", 0x0D, dict(delay_time_ms=437.6, feedback_gain_pct=0, mix_pct=40), "delay_time_ms"),
    ("E2", 0x0D, dict(delay_time_ms=238.4, feedback_gain_pct=90, mix_pct=30), "delay_time_ms"),
    ("egfx", 0x0D, dict(delay_time_ms=599.4, feedback_gain_pct=45, mix_pct=60), "delay_time_ms"),
    ("jazz", 0x37, dict(feedback_delay_time_ms=341.7, delay_level=5.0, chorus_level=8.0,
                        chorus_speed=3.0, chorus_depth=6.0, preamp_gain=7.0), "feedback_delay_time_ms"),
    ("E2", 0x37, dict(feedback_delay_time_ms=188.3, delay_level=4.0, chorus_level=5.0,
                      preamp_gain=8.0, amplifier_type="Heavy 1"), "feedback_delay_time_ms"),
    ("E2", 0x3C, dict(feedback_delay_time_ms=756.1, delay_level=7.4, flanger_level=5.0,
                      delay_feedback_pct=20), "feedback_delay_time_ms"),
])
def test_single_echo_time_within_a_tenth_of_a_millisecond(dis, di_name, type_id, values, key):
    patch = Patch.init(type_id).with_values(**values)
    delay, _ = _delay(patch, dis[di_name])
    assert delay is not None and delay["confidence"] >= 0.4
    assert delay["time_ms"] == pytest.approx(patch.get(key), abs=0.1)


def test_stereo_and_two_tap_echoes_are_all_found(dis):
    stereo = Patch.init(0x0E).with_values(delay_time_l_ms=156.2, delay_time_r_ms=491.8,
                                          feedback_gain_l_pct=50, feedback_gain_r_pct=20)
    delay, _ = _delay(stereo, dis["egfx"])
    for t in (156.2, 491.8):
        assert min(abs(tap - t) for tap in delay["taps_ms"]) <= 0.1
    echo = Patch.init(0x11).with_values(delay_time_l_ms=457.8, delay_time_fb_l_ms=457.8,
                                        delay_time_r_ms=843.3, delay_time_fb_r_ms=843.3)
    delay, _ = _delay(echo, dis["jazz"])
    for t in (457.8, 843.3):
        assert min(abs(tap - t) for tap in delay["taps_ms"]) <= 0.1


def test_modulated_and_tape_echoes_are_found_at_their_mean_time(dis):
    mod = Patch.init(0x0F).with_values(delay_time_ms=531.6, mod_depth_pct=50, mix_pct=50)
    delay, _ = _delay(mod, dis["E2"])
    mean_ms = 531.6 + 0.5 * 0.5 * MOD_DELAY_SWEEP_MS          # the sweep goes up from Delay Time
    assert delay["time_ms"] == pytest.approx(mean_ms, abs=0.5)
    tape = Patch.init(0x35).with_values(delay_time=6.0)
    from magicstomp.emulator.mappings import knob_value
    delay, _ = _delay(tape, dis["jazz"])
    assert delay["time_ms"] == pytest.approx(knob_value("delay_time", 6.0), abs=0.5)  # wow: 0.43 ms


@pytest.mark.parametrize("di_name, type_id, values", [
    ("jazz", 0x37, dict(delay_level=0.0, chorus_level=5.0, chorus_speed=3.0, chorus_depth=5.0)),
    ("E2", 0x17, {}),
    ("egfx", 0x09, {}),
    ("E2", 0x2F, {}),
    ("jazz", 0x13, {}),
])
def test_no_echo_is_reported_where_there_is_none(dis, di_name, type_id, values):
    delay, echoes = _delay(Patch.init(type_id).with_values(**values), dis[di_name])
    assert delay is None
    assert all(e["confidence"] < 0.4 for e in echoes)
