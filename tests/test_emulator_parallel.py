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
