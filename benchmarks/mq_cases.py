"""Hidden patches, DIs and error measures of the match-quality benchmark (v2).

Three kinds of hidden patch, all reproducible from the seed:

  factory   a vendored factory preset of the type, every field that is audible in
            it on the case's DI (:func:`magicstomp.emulator.audible.audible_keys`)
            re-drawn around its factory value: continuous fields by a normal step of
            0.12 of the range, the amp model, cabinet and other choices replaced by a
            random option half of the time (a third for the other choices);
  random    every field drawn over the type's whole range (levels, mixes and depths
            in 35-85 % so the sections are heard; gates left at the init values so no
            note is cut), choices at random;
  init      v1's cases: the init patch with the original project's knobs drawn in
            musical ranges and a random amp model and cabinet (continuity with v1).

Fields with a safety limit in the searched space (delay time, feedback, rate, reverb
time) are drawn inside it, so the truth is always reachable by value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SAMPLE_RATE_HZ = 44100
EXCERPT_S = 3.0

#: Real DIs (tests/data/SOURCES.md): electric clean and driven parts by several players,
#: an acoustic guitar and single notes. 48 kHz files are resampled.
DI_FILES = ("di-cc0-jazz/jazz.flac",
            "pair-gulmini-neuralfx/audio/input/001.flac",
            "pair-gulmini-neuralfx/audio/input/002.flac",
            "pair-gulmini-neuralfx/audio/input/008.flac",
            "pair-gulmini-neuralfx/audio/input/009.flac",
            "pair-gulmini-neuralfx/loop.flac",
            "pair-gulmini-neuralfx/harmonics/clean.flac",
            "pair-gulmini-neuralfx/harmonic/clean.flac",
            "pair-gulmini-neuralfx/a_crazy_one/clean.flac",
            "pair-steinmetz-reverb/input.flac",
            "egfxset-notes/Clean/Middle/6-22.flac",
            "di-toobamp-notes/Guitar-E2-2.flac")

#: (kind, type id): the 8 multis, single delays, modulations, reverbs and the EQ.
CASES = (("factory", 0x37), ("factory", 0x38), ("factory", 0x39), ("factory", 0x3A),
         ("factory", 0x3B), ("factory", 0x3C), ("factory", 0x3E), ("factory", 0x37),
         ("factory", 0x38), ("factory", 0x39), ("factory", 0x3B), ("factory", 0x3C),
         ("factory", 0x09), ("factory", 0x35), ("factory", 0x33), ("factory", 0x12),
         ("random", 0x3D), ("random", 0x3A), ("random", 0x3E), ("random", 0x0D),
         ("random", 0x0E), ("random", 0x13), ("random", 0x17), ("random", 0x34),
         ("random", 0x15),
         ("init", 0x37), ("init", 0x3B), ("init", 0x0D), ("init", 0x09), ("init", 0x12),
         ("init", 0x39))
QUICK_CASES = (("factory", 0x37), ("random", 0x0D), ("init", 0x17))

MULTI_TYPES = frozenset(range(0x37, 0x3F))
AMP_KEYS = ("amplifier_type", "distortion_type")
SPEAKER_KEY = "speaker_type"
SECTIONS = ("amp/tone", "dynamics", "modulation", "delay", "reverb")
_CATEGORY_SECTION = {"delay": "delay", "reverb": "reverb", "modulation": "modulation",
                     "dynamics": "dynamics"}
FACTORY_SIGMA = 0.12


def load_di(index: int) -> tuple:
    """(name, excerpt): the loudest EXCERPT_S window of DI ``index``, mono, peak -6 dBFS."""
    import soundfile as sf
    from scipy.signal import resample_poly
    name = DI_FILES[index % len(DI_FILES)]
    x, sr = sf.read(str(DATA / "audio" / name), dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE_HZ:
        g = np.gcd(int(sr), SAMPLE_RATE_HZ)
        x = resample_poly(x, SAMPLE_RATE_HZ // g, int(sr) // g)
    n, hop = int(EXCERPT_S * SAMPLE_RATE_HZ), SAMPLE_RATE_HZ // 4
    if x.size > n:
        cumulative = np.concatenate([[0.0], np.cumsum(x ** 2)])
        energy = (cumulative[n:] - cumulative[:-n])[::hop]       # each window's energy
        start = int(np.argmax(energy)) * hop
        x = x[start:start + n]
    return name, x * (10 ** (-6 / 20) / np.max(np.abs(x)))


def limited_range(param) -> tuple:
    """(lo_raw, hi_raw): the field's raw range inside the search's safety limits."""
    from optimize.constraints import _dimension
    try:
        d = _dimension(param)
        return d.lo_raw, d.hi_raw
    except Exception:          # a single-valued field: its own range
        return param.min_raw, param.max_raw


def _choices(param) -> list:
    return [r for r in range(param.min_raw, param.max_raw + 1) if param.to_physical(r) != "Bypass"]


def _redraw_factory(patch, keys, rng) -> None:
    for key in keys:
        p = patch.effect_type.param(key)
        lo, hi = limited_range(p)
        if p.kind == "enum":
            keep = 0.5 if key in AMP_KEYS + (SPEAKER_KEY,) else 2 / 3
            if rng.uniform() > keep:
                patch.set_raw(key, int(rng.choice(_choices(p))))
            continue
        u = (patch.get_raw(key) - lo) / max(hi - lo, 1)
        u = float(np.clip(u + rng.normal(0.0, FACTORY_SIGMA), 0.0, 1.0))
        patch.set_raw(key, int(round(lo + u * (hi - lo))))


def _draw_random(patch, rng) -> None:
    for p in patch.effect_type.params:
        if p.key.startswith("gate") or p.max_raw <= p.min_raw:
            continue
        if p.kind == "enum":
            patch.set_raw(p.key, int(rng.choice(_choices(p))))
            continue
        lo, hi = limited_range(p)
        low_u, high_u = ((0.35, 0.85) if any(w in p.key for w in ("level", "mix", "depth"))
                         else (0.0, 1.0))
        u = rng.uniform(low_u, high_u)
        patch.set_raw(p.key, int(round(lo + u * (hi - lo))))


def _draw_init(patch, rng) -> None:
    """v1's hidden patch: the seed's knobs in musical ranges, random amp and cabinet."""
    from optimize.constraints import ParameterSpace, _is_delay_time, _is_feedback
    from optimize.screening import discrete_keys
    for dim in ParameterSpace(patch.effect_type.id).dimensions:
        p, key = dim.param, dim.key
        raws = list(range(dim.lo_raw, dim.hi_raw + 1))
        if _is_delay_time(p) or _is_feedback(p) or key.startswith("reverb_time"):
            lo, hi = (80.0, 700.0) if _is_delay_time(p) else \
                ((10.0, 60.0) if _is_feedback(p) else (0.8, 4.0))
            keep = [r for r in raws if isinstance(p.to_physical(r), (int, float))
                    and lo <= p.to_physical(r) <= hi]
        else:
            low_u = 0.35 if ("level" in key or "mix" in key or "depth" in key) else 0.15
            keep = [r for r in raws if low_u <= (r - dim.lo_raw) / dim.span_raw <= 0.85]
        patch.set_raw(key, int(rng.choice(keep or raws)))
    for key in discrete_keys(patch.effect_type.id):
        patch.set_raw(key, int(rng.choice(_choices(patch.effect_type.param(key)))))


def hidden_patch(kind: str, type_id: int, di: np.ndarray, rng) -> tuple:
    """(patch, origin, audible keys): the hidden patch of one case and where it came from.

    A draw is taken again (up to 8 times) when its render is quieter than -50 dBFS or,
    for a random draw, when fewer than 40 % of its fields are audible (a random filter
    pair can mute a delay's repeats, leaving nothing to find).
    """
    from magicstomp.emulator import render
    from magicstomp.emulator.audible import audible_keys
    from magicstomp.patch import Patch
    from magicstomp.presets import factory_presets
    for _attempt in range(8):
        if kind == "factory":
            pool = [p for p in factory_presets() if p.effect_type_id == type_id]
            preset = pool[int(rng.integers(len(pool)))]
            patch, origin = preset.patch(), preset.label
            _redraw_factory(patch, audible_keys(patch, di, SAMPLE_RATE_HZ), rng)
        elif kind == "random":
            patch, origin = Patch.init(type_id), "random draw"
            _draw_random(patch, rng)
        elif kind == "init":
            patch, origin = Patch.init(type_id), "init patch + knobs"
            _draw_init(patch, rng)
        else:
            raise ValueError(f"unknown case kind {kind!r}; expected factory, random or init")
        if np.sqrt(np.mean(render(patch, di, SAMPLE_RATE_HZ) ** 2)) < 10 ** (-50 / 20):
            continue
        audible = audible_keys(patch, di, SAMPLE_RATE_HZ)
        if kind != "random" or len(audible) >= 0.4 * len(patch.effect_type.params):
            return patch, origin, audible
    return patch, origin + " (redraws exhausted)", audible


# -- errors ---------------------------------------------------------------------------
def section_of(key: str, type_id: int) -> str:
    """amp/tone, dynamics, modulation, delay or reverb."""
    from magicstomp.effects import effect_type
    from optimize.search_order import stage_of
    if type_id not in MULTI_TYPES:
        return _CATEGORY_SECTION.get(effect_type(type_id).category, "amp/tone")
    param = effect_type(type_id).param(key)
    if param.section == "dynamics":          # the parameter roles (magicstomp/data/param_roles.json)
        return "dynamics"
    stage = stage_of(param)
    return "amp/tone" if stage == "amp" else stage


def field_error(param, guess_raw: int, true_raw: int) -> float:
    """|difference| in 0..1 of the full raw range; a choice field scores 0 or 1."""
    if param.kind == "enum":
        return float(guess_raw != true_raw)
    return abs(guess_raw - true_raw) / max(param.max_raw - param.min_raw, 1)


def errors(guess, truth, audible) -> dict:
    """Mean errors of ``guess``: over the audible fields, the seed's knobs and per section.

    The amp model and cabinet are not in the means; ``amp_right`` / ``speaker_right``
    report them (None when the type has no such field).
    """
    from optimize.constraints import default_keys
    t = truth.effect_type
    type_id = t.id

    def mean(keys):
        keys = [k for k in keys if k not in AMP_KEYS + (SPEAKER_KEY,)]
        vals = [field_error(t.param(k), guess.get_raw(k), truth.get_raw(k)) for k in keys]
        return float(np.mean(vals)) if vals else None
    out = {"all_audible": mean(audible),
           "seed_knobs": mean(default_keys(type_id)) if type_id in MULTI_TYPES else None,
           "sections": {s: mean([k for k in audible if section_of(k, type_id) == s])
                        for s in SECTIONS}}
    amp = next((k for k in AMP_KEYS if k in t.keys()), None)
    out["amp_right"] = None if amp is None else guess.get_raw(amp) == truth.get_raw(amp)
    out["speaker_right"] = (None if SPEAKER_KEY not in t.keys()
                            else guess.get_raw(SPEAKER_KEY) == truth.get_raw(SPEAKER_KEY))
    return out
