"""Model evaluations over the machine's cores: many patches through one input at once.

    render_many(patches, audio, rate, workers=N, variant=None) -> [render(p, audio, rate), ...]
    with RenderPool(audio, rate, workers=N) as pool:      # keep the workers for many batches
        takes = pool.render_many(patches)                 # stereo (n, 2) each, in order
        takes = pool.render_many(patches, mono=True)      # the mono fold (n,), half the transfer

A pool also keeps the front of the multis: the output of gate, compressor and amp
(or distortion) depends only on the input and the values those stages read
(:meth:`~magicstomp.emulator.multi._Multi.front_key`), so candidates that differ
only after the front (modulation, delay, reverb: most of a search's moves once the
amp is chosen) reuse it and skip the costliest half of the render. The result is the
same render, bit for bit; ``cache_front=False`` turns it off.

The input is sent to each worker once (when the pool starts), then only patches
travel (as their payload bytes). Each render is the same function as
:func:`magicstomp.emulator.render`, so results equal serial renders bit for bit.
``workers=1`` renders in this process (no pool). Workers are forked where the
platform allows it, so they inherit the numba kernels the parent has loaded;
elsewhere they are spawned and load them once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..errors import EmulationError

_WORKER = {}          # audio, rate, variant and front cache of this worker process
#: front outputs a pool keeps per process (each is one float64 copy of the input's length)
FRONT_CACHE_ENTRIES = 8


def default_workers() -> int:
    """The cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:       # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _check_workers(workers) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise EmulationError(f"workers={workers!r} is not a positive integer; pass e.g. "
                             f"workers={default_workers()} (the cores available)")
    return workers


class FrontCache:
    """The last :data:`FRONT_CACHE_ENTRIES` front outputs of the multis for one input."""

    def __init__(self, entries: int = FRONT_CACHE_ENTRIES):
        self.entries = entries
        self._fronts: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def render(self, patch, audio, sample_rate: int, variant) -> "np.ndarray":
        """``render(patch, audio, sample_rate, variant=variant)``, reusing a cached front."""
        from .core import StreamProcessor
        stream = StreamProcessor(patch, sample_rate, variant=variant)
        impl = stream._impl
        if not hasattr(impl, "front_key") or audio.size == 0:
            return stream.process(audio)
        key = impl.front_key()
        front = self._fronts.get(key)
        if front is None:
            self.misses += 1
            front = impl.process_front(audio)
            front.setflags(write=False)           # shared by later renders: never modified
            self._fronts[key] = front
            if len(self._fronts) > self.entries:
                self._fronts.popitem(last=False)
        else:
            self.hits += 1
            self._fronts.move_to_end(key)
        return impl.process_back(front)


def _render(patch, audio, rate, variant, cache, mono: bool):
    from .core import render, to_mono
    y = render(patch, audio, rate, variant=variant) if cache is None \
        else cache.render(patch, audio, rate, variant)
    return to_mono(y) if mono else y


def _init_worker(audio, sample_rate, variant, cache_front) -> None:
    _WORKER.update(audio=audio, rate=sample_rate, variant=variant,
                   cache=FrontCache() if cache_front else None)


def _render_one(payload: bytes, mono: bool):
    from ..patch import Patch
    patch = Patch.from_payload(payload)
    return _render(patch, _WORKER["audio"], _WORKER["rate"], _WORKER["variant"],
                   _WORKER["cache"], mono)


class RenderPool:
    """Worker processes holding one input; :meth:`render_many` maps patches over them.

    Parameters
    ----------
    audio : array (n,)
        The mono input every patch is rendered from.
    sample_rate : int
        44100, 48000 or 96000 Hz.
    workers : int, optional
        Processes to use (default: the cores available). 1 renders in this process.
    variant : UnitVariant, optional
        The unit the renders model (None = the nominal model).
    cache_front : bool
        Reuse the multis' front outputs (see the module doc); the renders are the same.
    """

    def __init__(self, audio, sample_rate: int, *, workers: int | None = None, variant=None,
                 cache_front: bool = True):
        self.audio = np.ascontiguousarray(audio, dtype=np.float64)
        if self.audio.ndim != 1:
            raise EmulationError(f"render_many takes mono input; got shape {self.audio.shape}")
        self.sample_rate = int(sample_rate)
        self.variant = variant
        self.workers = _check_workers(workers)
        self.front_cache = FrontCache() if cache_front else None     # used in this process
        self._pool = None
        if self.workers > 1:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(self.audio, self.sample_rate, variant, cache_front))

    def render_many(self, patches, *, mono: bool = False) -> list:
        """Render every patch of ``patches``; results in the same order."""
        patches = list(patches)
        if self._pool is None or len(patches) <= 1:
            return [_render(p, self.audio, self.sample_rate, self.variant, self.front_cache, mono)
                    for p in patches]
        chunk = max(1, len(patches) // (4 * self.workers))
        payloads = [p.to_payload() for p in patches]          # bytes travel, not objects
        return list(self._pool.map(_render_one, payloads, [mono] * len(patches), chunksize=chunk))

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def render_many(patches, audio, sample_rate: int, *, workers: int | None = None,
                variant=None, mono: bool = False, cache_front: bool = True) -> list:
    """Render each patch of ``patches`` from mono ``audio`` over ``workers`` processes.

    Equal to ``[render(p, audio, sample_rate, variant=variant) for p in patches]``
    (``to_mono`` of each with ``mono=True``). For repeated batches keep a
    :class:`RenderPool` instead: starting the workers costs tens of ms.
    """
    with RenderPool(audio, sample_rate, workers=workers, variant=variant,
                    cache_front=cache_front) as pool:
        return pool.render_many(patches, mono=mono)
