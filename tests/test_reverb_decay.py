"""Reverb decay from the response's level slope when the playing leaves no gap:
the wet-only Steinmetz pair (2.1-2.3 s) and no reverb on a static EQ."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.alignment import align, apply_alignment
from analyzers.echo import echo_response
from analyzers.heuristics import initial_patch, measure_reverb
from analyzers.loading import load_audio
from analyzers.reverb import reverb_decay
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch

SR = 48000


def test_the_wet_only_steinmetz_pair_decays_in_2_1_to_2_3_s(data_dir):
    pair = data_dir / "audio" / "pair-steinmetz-reverb"
    di = load_audio(pair / "input.flac", sample_rate=SR, role="DI").samples
    target = load_audio(pair / "target.flac", sample_rate=SR, role="target").samples
    neutral = initial_patch(target, SR, di=di)
    assert neutral.reverb_decay_s == pytest.approx(2.2, rel=0.15)


def test_a_known_exponential_decay_is_measured():
    rng = np.random.default_rng(3)
    t = np.arange(int(6 * SR)) / SR
    h = rng.standard_normal(t.size) * 10 ** (-60 / 20 * t / 1.5) + 1e-6 * rng.standard_normal(t.size)
    h[0] = 30.0
    found = reverb_decay(h, SR)
    assert found is not None and found["decay_s"] == pytest.approx(1.5, rel=0.1)


def test_a_static_eq_has_no_reverb(data_dir):
    x = load_audio(data_dir / "audio" / "di-toobamp-notes" / "Guitar-E2-2.flac", sample_rate=SR,
                   role="DI").samples[:6 * SR]
    y = to_mono(render(Patch.init(0x33).with_values(eq_gain_1_db=6.0, eq_frequency_1_hz=300.0), x, SR))
    placed = apply_alignment(y, align(y, x, SR), x.size)
    assert measure_reverb(placed, x, echo_response(placed, x, SR, seconds=6.0), SR, None) is None
