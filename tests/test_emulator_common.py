"""Cross-type tests of the virtual Magicstomp, over every type in EMULATED_TYPES.

* no parameter is ignored (except the documented no-ops in ``emulator/noops.py``),
  and every choice of an enum parameter sounds different from every other,
* block-by-block streaming equals the offline render (blocks 64, 256, 1024),
* finite output for silence, full-scale noise and clipped input,
* no denormal slow-down and no subnormal numbers left in the state,
* 44.1, 48 and 96 kHz work and give the same level,
* deterministic, and an unsupported type raises EmulationError listing the emulated ones.

A type whose module is not written yet is skipped with a reason.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from magicstomp.effects import effect_type
from magicstomp.emulator import EMULATED_TYPES, StreamProcessor, processor_class, render
from magicstomp.emulator.audible import audible_patch
from magicstomp.emulator.noops import no_op_reason
from magicstomp.errors import EmulationError
from magicstomp.patch import Patch
from reference import FACTORY_PRESETS

FS = 44100
TYPE_IDS = sorted(EMULATED_TYPES)
TYPE_NAMES = [f"0x{t:02X}-{effect_type(t).name}" for t in TYPE_IDS]
GATE_TIMING_KEYS = ("gate_attack_ms", "gate_hold_time_ms", "gate_decay_time_ms")
CHANGED_ABOVE = 1e-7        # max |difference| that counts as "the output changed"


def require_processor(type_id: int):
    """The processor class of a registered type, built once on its init patch.

    Every registered type must import and build: a missing module or class fails here.
    """
    cls = processor_class(type_id)
    cls(Patch.init(type_id), FS)
    return cls


def guitar_like(sample_rate: int = FS, duration_s: float = 1.0, *, seed: int = 7) -> np.ndarray:
    """A loud pluck (0 s), a quiet pluck (0.25 s, -30 dB), then only hiss (-70 dBFS) from 0.4 s.

    Harmonics of 110 Hz with decaying envelopes: loud enough to drive compressors and
    amps, quiet and silent parts to open and close gates, a hiss floor that a gate cuts.
    """
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    tone = sum(np.sin(2 * np.pi * 110.0 * k * t + k) / k for k in range(1, 9))
    env = 0.8 * np.exp(-t / 0.06) * (t < 0.25)
    late = t - 0.25
    env = env + 0.025 * np.exp(-np.maximum(late, 0) / 0.04) * (late >= 0) * (t < 0.4)
    hiss = 10 ** (-70 / 20) * np.random.default_rng(seed).standard_normal(t.size)
    return env * tone / 2.2 + hiss


def enable_gate(patch: Patch) -> Patch:
    """Switch the gate on (a threshold between the hiss floor and the quiet pluck)."""
    keys = patch.effect_type.keys()
    if "gate_threshold" in keys:
        patch = patch.with_values(gate_threshold=5.0)
    if "gate_level_db" in keys:
        patch = patch.with_values(gate_level_db=-50)
    return patch


def trial_raws(param):
    """Raw values a parameter is moved to: every choice of an enum, else both ends and middle."""
    if param.kind == "enum":
        return list(range(param.min_raw, param.max_raw + 1))
    return sorted({param.min_raw, (param.min_raw + param.max_raw) // 2, param.max_raw})


@pytest.fixture(scope="module")
def signal_44k():
    return guitar_like()


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_no_parameter_is_ignored(type_id, signal_44k):
    require_processor(type_id)
    base = audible_patch(type_id)
    ignored = []
    for param in base.effect_type.params:
        if no_op_reason(type_id, param.key) is not None:
            continue
        start = enable_gate(base) if param.key in GATE_TIMING_KEYS else base
        raws = trial_raws(param)
        if param.kind == "enum":          # every choice must sound different from every other
            outs = [render(start.copy().set_raw(param.key, raw), signal_44k, FS) for raw in raws]
            label = param.to_physical
            ignored += [f"{param.key} {label(raws[i])!r} = {label(raws[j])!r}"
                        for i in range(len(outs)) for j in range(i + 1, len(outs))
                        if np.max(np.abs(outs[i] - outs[j])) <= CHANGED_ABOVE]
            continue
        first = render(start.copy().set_raw(param.key, raws[0]), signal_44k, FS)
        for raw in raws[:0:-1]:           # the other end first: most often enough
            other = render(start.copy().set_raw(param.key, raw), signal_44k, FS)
            if np.max(np.abs(other - first)) > CHANGED_ABOVE:
                break
        else:
            ignored.append(f"{param.key} ({param.describe_range()})")
    assert not ignored, (
        f"{effect_type(type_id).name}: these parameters (or pairs of choices) give the same "
        f"output: "
        f"{', '.join(ignored)}; emulate them or document them in emulator/noops.py")


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_streaming_equals_offline_render(type_id, signal_44k):
    require_processor(type_id)
    patch = audible_patch(type_id)
    offline = render(patch, signal_44k, FS)
    assert offline.shape == (signal_44k.size, 2) and offline.dtype == np.float64
    for block in (64, 256, 1024):
        stream = StreamProcessor(patch, FS)
        streamed = np.concatenate([stream.process(signal_44k[i:i + block])
                                   for i in range(0, signal_44k.size, block)])
        np.testing.assert_allclose(streamed, offline, rtol=0, atol=1e-10,
                                   err_msg=f"blocks of {block} differ from the one-shot render")


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_output_is_finite_for_silence_noise_and_clipped_input(type_id, rng):
    require_processor(type_id)
    patch = audible_patch(type_id)
    n = FS // 2
    inputs = {"silence": np.zeros(n),
              "full-scale noise": np.clip(rng.standard_normal(n), -1, 1),
              "clipped": np.clip(8 * guitar_like(duration_s=0.5), -1, 1)}
    for name, x in inputs.items():
        y = render(patch, x, FS)
        assert np.all(np.isfinite(y)), f"non-finite output for {name}"
        assert np.abs(y).max() < 100.0, f"runaway output for {name}"


def _subnormals(obj, depth=0, seen=None) -> int:
    """Count subnormal floats in the numpy arrays reachable from a processor's attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind != "f":
            return 0
        tiny = np.finfo(obj.dtype).tiny
        return int(np.count_nonzero((obj != 0) & (np.abs(obj) < tiny)))
    if isinstance(obj, (list, tuple)):
        return sum(_subnormals(v, depth + 1, seen) for v in obj)
    if isinstance(obj, dict):
        return sum(_subnormals(v, depth + 1, seen) for v in obj.values())
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("magicstomp"):
        return sum(_subnormals(v, depth + 1, seen) for v in vars(obj).values())
    return 0


def _min_time_s(stream_factory, x, repeats=3) -> float:
    """Least CPU time (not wall clock: the cores are shared) of processing ``x``."""
    best = np.inf
    for _ in range(repeats):
        stream = stream_factory()
        start = time.process_time()
        stream.process(x)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_no_denormals_after_a_loud_burst(type_id, rng):
    require_processor(type_id)
    patch = audible_patch(type_id)
    burst = np.clip(rng.standard_normal(FS // 5), -1, 1)
    tail = np.zeros(FS)
    stream = StreamProcessor(patch, FS)
    stream.process(burst)
    y = stream.process(tail)
    assert _subnormals(stream._impl) == 0, "subnormal numbers left in the processor state"
    assert np.count_nonzero((y != 0) & (np.abs(y) < np.finfo(float).tiny)) == 0

    def primed():
        s = StreamProcessor(patch, FS)
        s.process(burst)
        return s

    noise = np.clip(rng.standard_normal(FS), -1, 1)
    silent_s, noisy_s = _min_time_s(primed, tail), _min_time_s(primed, noise)
    assert silent_s < 3.0 * noisy_s + 0.005, (
        f"silence after a burst took {silent_s * 1e3:.1f} ms, noise {noisy_s * 1e3:.1f} ms")


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_sample_rates_work_and_agree_in_level(type_id):
    require_processor(type_id)
    patch = audible_patch(type_id)
    levels_db = {}
    for rate in (44100, 48000, 96000):
        x = guitar_like(rate, 0.4)
        y = render(patch, x, rate)
        assert y.shape == (x.size, 2) and np.all(np.isfinite(y))
        levels_db[rate] = 10 * np.log10(np.mean(y ** 2) + 1e-30)
    spread_db = max(levels_db.values()) - min(levels_db.values())
    assert spread_db < 3.0, f"output level depends on the sample rate: {levels_db}"


@pytest.mark.parametrize("type_id", TYPE_IDS, ids=TYPE_NAMES)
def test_render_is_deterministic(type_id, signal_44k):
    require_processor(type_id)
    patch = audible_patch(type_id)
    first = render(patch, signal_44k, FS)
    np.testing.assert_array_equal(render(patch, signal_44k, FS), first)
    stream = StreamProcessor(patch, FS)
    stream.process(signal_44k)
    stream.reset()
    np.testing.assert_array_equal(stream.process(signal_44k), first)


def test_unsupported_type_names_it_and_lists_the_emulated_ones():
    unsupported = next(i for i in range(64) if i not in EMULATED_TYPES)
    name = effect_type(unsupported).name
    with pytest.raises(EmulationError, match=rf"does not emulate {name} \(0x{unsupported:02X}\)"
                       ) as info:
        render(Patch.init(unsupported), np.zeros(64), FS)
    for type_id in EMULATED_TYPES:
        assert f"{effect_type(type_id).name} (0x{type_id:02X})" in str(info.value)


def test_unsupported_sample_rate_is_refused():
    with pytest.raises(EmulationError, match="22050 Hz is not supported"):
        render(Patch.init(0x09), np.zeros(64), 22050)


def test_every_factory_preset_of_an_emulated_type_renders_sensibly(data_dir):
    """Yamaha's factory presets (reference_data/factory_presets.json) through a real DI
    (jazz.wav, CC0, freesound user Sub-d): finite, not silent, not exploding."""
    import json

    import soundfile as sf
    doc = json.loads(FACTORY_PRESETS.read_text())
    di, rate = sf.read(data_dir / "audio/di-cc0-jazz/jazz.flac", dtype="float64")
    di = di[:rate]
    di_rms = np.sqrt(np.mean(di ** 2))
    rendered, odd = 0, []
    for bank, items in doc["banks"].items():
        for item in items:
            patch = Patch.from_payload(bytes.fromhex(item["payload_hex"]))
            if patch.effect_type.id not in EMULATED_TYPES:
                continue
            y = render(patch, di, rate)
            rendered += 1
            gain_db = 20 * np.log10(np.sqrt(np.mean(y ** 2)) / di_rms + 1e-12)
            if not np.all(np.isfinite(y)) or not -40.0 < gain_db < 30.0:
                odd.append(f"{bank} {item['name'].strip()} ({patch.effect_type.name}): "
                           f"{gain_db:.1f} dB")
    assert rendered >= 50, f"only {rendered} factory presets use emulated types"
    assert not odd, f"factory presets with an implausible output level: {odd}"
