"""MatchLoss never divides by a near-zero quantity: a target without modulation
(the DI itself, a static EQ) scores takes with small, finite losses."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.loading import load_audio
from hil.imperfections import Imperfections
from hil.rig import VirtualRig
from magicstomp.patch import Patch
from optimize.objective import MatchLoss

SR = 48000


@pytest.fixture(scope="module")
def jazz(data_dir):
    x = load_audio(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac", sample_rate=SR,
                   role="DI").samples
    return x[2 * SR:5 * SR]


def _rig(seed):
    return VirtualRig(SR, imperfections=Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3,
                                                      latency_jitter_samples=8,
                                                      latency_samples=256), seed=seed)


def test_a_target_equal_to_its_di_scores_a_small_finite_loss(jazz):
    loss = MatchLoss(jazz, SR, di=jazz)
    flat = Patch.init(0x33)                      # 3 Band Parametric EQ, all gains 0 dB
    value = loss(_rig(1).render(flat, jazz))
    assert np.isfinite(value.total) and value.total < 0.1
    assert value.terms["modulation"] < 0.2
    # a tremolo take is heard as modulation: measured against a 1 dB swing, finitely
    trem = Patch.init(0x17).with_values(mod_frequency_hz=4.0, mod_depth_pct=100)
    moved = loss(_rig(2).render(trem, jazz))
    assert 0.3 < moved.terms["modulation"] < 1e3 and moved.total > 3 * value.total


def test_a_static_eq_target_gets_no_large_modulation_term(jazz):
    eq = Patch.init(0x33).with_values(eq_frequency_1_hz=200.0, eq_gain_1_db=6.0,
                                      eq_frequency_2_hz=1000.0, eq_gain_2_db=-8.0,
                                      eq_frequency_3_hz=4000.0, eq_gain_3_db=9.0,
                                      eq_bandwidth_1_q=1.0, eq_bandwidth_2_q=2.0,
                                      eq_bandwidth_3_q=1.0)
    target = _rig(3).render(eq, jazz)
    loss = MatchLoss(target, SR, di=jazz)
    truth, flat = loss(_rig(4).render(eq, jazz)), loss(_rig(5).render(Patch.init(0x33), jazz))
    assert truth.terms["modulation"] < 0.2 and flat.terms["modulation"] < 5.0   # was 1359
    assert truth.total < 0.1 < flat.total < 5.0        # the EQ still decides, finitely
