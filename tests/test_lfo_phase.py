"""The LFO-phase render option, and which MatchLoss terms depend on the LFO's phase
at the start of a take (the unit's is not under our control)."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.loading import load_audio
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch
from optimize.objective import MatchLoss

SR = 48000


def test_lfo_phase_shifts_a_tremolo_by_a_fraction_of_its_cycle(rng):
    x = rng.standard_normal(SR) * 0.1
    p = Patch.init(0x17).with_values(mod_frequency_hz=2.0, mod_depth_pct=80, mod_waveform="Sine")
    quarter = SR // 8                                     # 90 degrees of a 2 Hz cycle
    shifted = render(p, x, SR, lfo_phase_deg=90.0)
    ran_before = render(p, np.r_[np.zeros(quarter), x], SR)[quarter:]
    np.testing.assert_allclose(shifted, ran_before, atol=1e-9)
    assert not np.allclose(shifted, render(p, x, SR), atol=1e-3)


def test_lfo_phase_reaches_the_multis_modulation(rng):
    x = rng.standard_normal(SR // 2) * 0.1
    p = Patch.init(0x37).with_values(chorus_level=8.0, chorus_speed=6.0, chorus_depth=8.0)
    assert not np.allclose(render(p, x, SR, lfo_phase_deg=120.0), render(p, x, SR), atol=1e-4)


def test_the_tremolo_modulation_term_does_not_depend_on_the_lfo_phase(data_dir):
    """The tremolo's modulation term (0.07-0.11 against 0.70) does not follow the phase.
    The whole loss's phase invariance (the envelope term averaged over one LFO period,
    the mod_rate term) is tested in test_timing_terms.py."""
    x = load_audio(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac", sample_rate=SR,
                   role="DI").samples[:5 * SR]
    patch = Patch.init(0x17).with_values(mod_frequency_hz=3.0, mod_depth_pct=80)
    loss = MatchLoss(to_mono(render(patch, x, SR)), SR, di=x)
    wrong_rate = loss(to_mono(render(patch.with_values(mod_frequency_hz=3.9), x, SR))).terms
    for phase in (90.0, 180.0, 270.0):
        terms = loss(to_mono(render(patch, x, SR, lfo_phase_deg=phase))).terms
        assert terms["modulation"] < 0.25 * wrong_rate["modulation"]
