"""Echo times measured from the audio (analyzers/echo.py): known answers on renders of
every delay type of the virtual Magicstomp on three real DIs, behind an amp and a
modulation section for the multis, and "no echo" where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.alignment import align, apply_alignment
from analyzers.echo import delay_from_echoes, echo_response, hear_echoes, measure_echoes
from reference import di_excerpts
from magicstomp.emulator import render, to_mono
from magicstomp.emulator.delay import MOD_DELAY_SWEEP_MS
from magicstomp.patch import Patch

SR = 48000
DIS = {"jazz": ("di-cc0-jazz/jazz.flac", 2.0), "E2": ("di-toobamp-notes/Guitar-E2-2.flac", 0.0),
       "egfx": ("egfxset-notes/Clean/Middle/6-22.flac", 0.0)}


@pytest.fixture(scope="module")
def dis():
    return di_excerpts(DIS, 4.0, SR)


def _delay(patch, di):
    target = to_mono(render(patch, di, SR))
    placed = apply_alignment(target, align(target, di, SR), di.size)     # as the analysis does
    echoes = measure_echoes(echo_response(placed, di, SR), SR)
    return delay_from_echoes(echoes), echoes


@pytest.fixture(scope="module")
def long_dis():
    """8 s excerpts (the benchmark's length for static patches)."""
    return di_excerpts(DIS, 8.0, SR)


def _heard(patch, di):
    """The delay as the analysis hears it (:func:`hear_echoes`: clipper proxies behind a
    driven amp), on the DI scaled to a 0.5 peak as the benchmark plays it."""
    di = di * (0.5 / np.max(np.abs(di)))
    target = to_mono(render(patch, di, SR))
    placed = apply_alignment(target, align(target, di, SR), di.size)
    heard = hear_echoes(placed, di, SR)
    return delay_from_echoes(heard["echoes"]), heard


@pytest.mark.parametrize("di_name, type_id, values", [
    # benchmark misses before the clipper proxies (confidence 0.03 and 0.30 on the DI alone)
    ("egfx", 0x39, dict(feedback_delay_time_ms=881.0, preamp_gain=9.8, tremolo_speed=9.0,
                        tremolo_depth=9.1, delay_feedback_pct=80, delay_level=6.9)),
    ("E2", 0x37, dict(feedback_delay_time_ms=411.9, preamp_gain=6.3, chorus_speed=8.5,
                      chorus_depth=9.8, chorus_level=5.3, delay_feedback_pct=24, delay_level=7.6)),
    ("jazz", 0x37, dict(feedback_delay_time_ms=585.2, preamp_gain=8.0, chorus_level=6.0,
                        delay_level=6.0)),
])
def test_amp_multi_delay_behind_a_driven_amp_within_a_tenth_of_a_millisecond(long_dis, di_name,
                                                                             type_id, values):
    patch = Patch.init(type_id).with_values(**values)
    delay, _ = _heard(patch, long_dis[di_name][:6 * SR])
    assert delay is not None and delay["confidence"] >= 0.4
    assert delay["time_ms"] == pytest.approx(values["feedback_delay_time_ms"], abs=0.1)


def test_two_taps_14_ms_apart_are_both_found(dis):
    """A stereo delay at 690.9 / 705.0 ms: each tap lowered the other's isolation below the
    confidence an echo needs until each is heard again with the other removed."""
    patch = Patch.init(0x0E).with_values(delay_time_l_ms=690.9, delay_time_r_ms=705.0,
                                         feedback_gain_l_pct=13, feedback_gain_r_pct=6, mix_pct=23)
    delay, _ = _heard(patch, dis["jazz"])
    assert delay is not None
    for t in (690.9, 705.0):
        assert min(abs(tap - t) for tap in delay["taps_ms"]) <= 0.1


@pytest.mark.parametrize("type_id, values", [
    (0x08, {}), (0x37, {"chorus_level": 0.0, "delay_level": 0.0, "preamp_gain": 9.0})])
def test_a_clipped_low_note_is_not_an_echo(long_dis, type_id, values):
    """A driven amp on a sustained low E: a clipped note repeats itself every period, so a
    clipper proxy's response holds a comb (a false 24.3 ms "echo" at 0.54 before the
    self-similarity check)."""
    delay, heard = _heard(Patch.init(type_id).with_values(**values), long_dis["E2"])
    assert delay is None, heard["proxy"]


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
