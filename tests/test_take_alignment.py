"""Alignment against the rig's output: a target rendered with a patch scores, for
that same patch, at the replicate floor once its takes are aligned with the target
(the effect's own latency and polarity), not 5-15x above it."""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.alignment import align, align_to_take, apply_alignment, apply_take_alignment
from analyzers.loading import load_audio
from hil.imperfections import Imperfections
from hil.rig import VirtualRig
from magicstomp.patch import Patch
from magicstomp.presets import find_preset
from optimize.objective import MatchLoss
from optimize.take_alignment import TakeAligner, patch_family

SR = 48000


def _di(data_dir, path, start_s):
    x = load_audio(data_dir / "audio" / path, sample_rate=SR, role="DI").samples
    return x[int(start_s * SR):int((start_s + 4.0) * SR)]


def _rig(seed):
    return VirtualRig(SR, imperfections=Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3,
                                                      latency_jitter_samples=8,
                                                      latency_samples=256), seed=seed)


def test_known_lag_and_inversion_are_found(rng):
    target = rng.standard_normal(SR)
    take = np.concatenate([np.zeros(100 + 37), -target])       # 100 before, 37 late, inverted
    found = align_to_take(target, take, SR, pre_samples=100)
    assert (found.lag_samples, found.polarity) == (37, -1) and found.correlation < -0.99
    placed = apply_take_alignment(take, found, target.size, pre_samples=100)
    np.testing.assert_allclose(placed, target)


@pytest.mark.parametrize("path, start_s, true_patch, start_patch", [
    ("di-cc0-jazz/jazz.flac", 2.0, "BigSusFuzz", 0x3B),              # distortion: inverted
    ("di-cc0-jazz/jazz.flac", 2.0, "HeavyHiGain", 0x37),
    ("di-toobamp-notes/Guitar-E2-2.flac", 0.0, "HeavyHiGain", 0x37),   # DI alignment fails
    ("di-toobamp-notes/Guitar-E2-2.flac", 0.0, "HiGainStk", 0x08),
    ("egfxset-notes/Clean/Middle/6-22.flac", 0.0, "MetalDist", 0x2F),
    ("di-toobamp-notes/Guitar-E2.flac", 0.0, "VinTremolo", 0x39),
])
def test_the_true_patch_scores_at_the_floor_after_alignment(data_dir, path, start_s,
                                                          true_patch, start_patch):
    di = _di(data_dir, path, start_s)
    truth = find_preset(true_patch).patch()
    target_raw = _rig(1).render(truth, di)
    placed = apply_alignment(target_raw, align(target_raw, di, SR), di.size)   # as load_pair does
    loss = MatchLoss(placed, SR, di=di)
    aligner = TakeAligner(placed, SR)
    aligner(Patch.init(start_patch), _rig(2).render(Patch.init(start_patch), di))  # the start take
    takes = [_rig(seed).render(truth, di) for seed in (3, 4, 5)]
    unaligned = np.mean([loss(t).total for t in takes[:2]])
    aligned = np.mean([loss(aligner(truth, t)).total for t in takes[:2]])
    floor = np.mean([MatchLoss(takes[i], SR, di=di)(takes[j]).total for i, j in ((0, 2), (1, 2))])
    assert aligned <= 1.5 * floor and aligned <= unaligned + 0.5 * floor
    assert patch_family(truth) in aligner.alignments
