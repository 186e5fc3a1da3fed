"""render_many / RenderPool: model evaluations over several processes equal serial renders."""

from __future__ import annotations

import numpy as np
import pytest

from magicstomp.emulator import RenderPool, UnitVariant, render, render_many, to_mono
from magicstomp.emulator.audible import audible_patch
from magicstomp.errors import EmulationError
from signals import SR

PATCHES = [audible_patch(t) for t in (0x37, 0x3B, 0x3A, 0x12, 0x35)]


@pytest.fixture(scope="module")
def x():
    return 0.2 * np.random.default_rng(5).standard_normal(SR // 4)


def test_render_many_over_two_workers_equals_serial_renders(x):
    outs = render_many(PATCHES, x, SR, workers=2)
    assert len(outs) == len(PATCHES)
    for patch, y in zip(PATCHES, outs):
        assert np.array_equal(y, render(patch, x, SR))


def test_a_pool_serves_several_batches_with_a_variant_and_mono_folds(x):
    variant = UnitVariant.draw(1)
    with RenderPool(x, SR, workers=2, variant=variant) as pool:
        first = pool.render_many(PATCHES[:3], mono=True)
        second = pool.render_many(PATCHES[::-1])
    for patch, y in zip(PATCHES[:3], first):
        assert np.array_equal(y, to_mono(render(patch, x, SR, variant=variant)))
    for patch, y in zip(PATCHES[::-1], second):
        assert np.array_equal(y, render(patch, x, SR, variant=variant))


def test_one_worker_renders_in_process(x):
    pool = RenderPool(x, SR, workers=1)
    assert pool._pool is None
    assert np.array_equal(pool.render_many(PATCHES[:1])[0], render(PATCHES[0], x, SR))


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_worker_counts_are_refused(x, workers):
    with pytest.raises(EmulationError, match="not a positive integer"):
        render_many(PATCHES, x, SR, workers=workers)


def test_stereo_input_is_refused():
    with pytest.raises(EmulationError, match="mono input"):
        render_many(PATCHES, np.zeros((10, 2)), SR, workers=1)


def test_the_front_cache_reuses_fronts_and_renders_the_same(x):
    """Candidates that move only modulation, delay or reverb reuse the front, bit for bit."""
    variant = UnitVariant.draw(2)
    base = [audible_patch(t) for t in (0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E)]
    moves = [dict(delay_level=3.0), dict(reverb_level=9.0), dict(delay_feedback_pct=20)]
    patches = base + [p.with_values(**m) for p in base for m in moves]
    pool = RenderPool(x, SR, workers=1, variant=variant)
    outs = pool.render_many(patches)
    for patch, y in zip(patches, outs):
        assert np.array_equal(y, render(patch, x, SR, variant=variant)), patch.effect_type.name
    # one front per family and amp/distortion setting: the Amp Multis share theirs, so do
    # the Distortion Multis; every move is a hit
    assert pool.front_cache.misses == 2 and pool.front_cache.hits == len(patches) - 2
    # a front value changes the key
    pool.render_many([base[0].with_values(preamp_gain=9.0)])
    assert pool.front_cache.misses == 3


def test_the_front_cache_keys_on_the_variant_and_can_be_off(x):
    patch = audible_patch(0x37)
    a, b = UnitVariant.draw(3), UnitVariant.draw(4)
    one = RenderPool(x, SR, workers=1, variant=a)
    other = RenderPool(x, SR, workers=1, variant=b)
    assert not np.array_equal(one.render_many([patch])[0], other.render_many([patch])[0])
    off = RenderPool(x, SR, workers=1, cache_front=False)
    assert off.front_cache is None
    assert np.array_equal(off.render_many([patch])[0], render(patch, x, SR))
