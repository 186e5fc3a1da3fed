"""Profile the connected unit: fit the model's assumptions to its takes of a probe session.

    profile = fit_unit_profile(rig, types=(0x37, 0x3B, 0x35))   # plays the probes (~20 takes)
    profile.variant            UnitVariant: render(patch, di, rate, variant=profile.variant)
    profile.sections           {section: SectionFit(before_db, after_db, probes)}
    profile.save("out/unit_profile.json"); load_unit_profile(path) -> UnitProfile

The rig is anything with ``render(patch, di) -> take`` (mono, aligned, as long as the
DI) and ``sample_rate``: :class:`hil.rig.VirtualRig` (with a variant it stands in for a
real unit) or :class:`hil.rig.HardwareRig`. The probe session
(:mod:`optimize.unit_probes`) is one take of silence (the chain's noise floor, which
the distance then ignores) and one take per probe: about 20 s of audio for the default
types (at most :data:`MAX_PROBE_SECONDS`).

The fit (:func:`fit_assumptions`): first, which assumptions each probe can see (the
probe's model render moves when the assumption is put at the edge of its spread); an
assumption no probe sees stays nominal and is listed as ``unseen``. The level and drive
assumptions in series on the multis' front (:data:`COUPLED`) are fitted together first
(Nelder-Mead on the level and drive probes). Then coordinate passes: for each seen
assumption in turn, a 1-D search (a grid over twice its documented spread, then a
bounded Brent refinement around the best grid point; later passes search half a spread
around the current value) of the summed :func:`~optimize.unit_probes.take_distance_db`
over the probes of its own section that see it, the other assumptions at their current
values. Passes repeat until one improves the total by less than 0.5 %. Model
evaluations cost no take.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from magicstomp.errors import MagicstompError

from .unit_probes import (DEFAULT_TYPES, SECTIONS, SILENCE_S, band_spectrogram_db,
                          noise_floor_db, probe_session, take_distance_db)

log = logging.getLogger(__name__)

PROFILE_FORMAT = "magicstomp-unit-profile"
PROFILE_VERSION = 1
#: the most audio a probe session may play
MAX_PROBE_SECONDS = 120.0
#: the section each assumption belongs to (ASSUMPTION_SPREADS names)
ASSUMPTION_SECTIONS = {
    "front_level_db": "levels", "volume_taper": "levels", "gate_threshold_db": "levels",
    "drive_base_db": "amp/drive", "drive_taper": "amp/drive",
    "bass_hz": "tone", "lo_mid_hz": "tone", "hi_mid_hz": "tone", "treble_hz": "tone",
    "presence_hz": "tone", "master_tone_hz": "tone", "tone_taper": "tone",
    "lfo_rate": "modulation", "mod_sweep": "modulation", "mod_level_db": "modulation",
    "delay_level_db": "delay", "tape_time": "delay",
    "reverb_level_db": "reverb", "reverb_damping_hz": "reverb",
}
#: a probe sees an assumption when its edge moves the render by more than this (dB)
SEEN_DB = 0.02
GRID_POINTS = 17
#: assumptions whose distance has many local minima (an LFO or echo drifting in and out of
#: phase with the unit's): the first pass searches them on a finer grid
PERIODIC = ("lfo_rate", "tape_time", "mod_sweep")
MIN_PASS_GAIN = 0.005


class UnitProfileError(MagicstompError, ValueError):
    """A unit profile file that cannot be used, or a probe session that cannot run."""


@dataclass(frozen=True)
class SectionFit:
    """Model-versus-unit distance of one section, before (nominal) and after the fit."""

    before_db: float
    after_db: float
    probes: int
    #: distance between two takes of the same probe on the unit: what noise alone gives
    floor_db: float = 0.0

    @property
    def reduction_pct(self) -> float:
        """How much of the nominal distance the fit removed, in percent."""
        return 100.0 * (1.0 - self.after_db / self.before_db) if self.before_db > 0 else 0.0

    @property
    def reduction_above_floor_pct(self) -> float | None:
        """The reduction of the distance above the replicate floor (None when the nominal
        model was already within the floor: nothing measurable to remove)."""
        room = self.before_db - self.floor_db
        if room <= 0.0:
            return None
        return 100.0 * (1.0 - max(self.after_db - self.floor_db, 0.0) / room)

    def to_dict(self) -> dict:
        above = self.reduction_above_floor_pct
        return {"before_db": round(self.before_db, 4), "after_db": round(self.after_db, 4),
                "reduction_pct": round(self.reduction_pct, 1), "probes": self.probes,
                "floor_db": round(self.floor_db, 4),
                "reduction_above_floor_pct": None if above is None else round(above, 1)}


@dataclass
class UnitProfile:
    """A fitted unit: the variant to render the model with, and what it rests on."""

    variant: object
    sections: dict
    fitted: list
    unseen: list
    probes: list = field(default_factory=list)
    measurement: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": PROFILE_FORMAT, "version": PROFILE_VERSION,
                "variant": self.variant.to_dict(), "fitted": list(self.fitted),
                "unseen": list(self.unseen),
                "sections": {name: s.to_dict() for name, s in self.sections.items()},
                "probes": list(self.probes), "measurement": dict(self.measurement),
                "fit": dict(self.fit)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path) -> Path:
        """Write the profile JSON (atomically); returns the path."""
        from magicstomp.files import atomic_write_bytes
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, self.to_json().encode())
        return path

    def summary_lines(self) -> list:
        """One line per section: distance before -> after (reduction)."""
        return [f"{name:<11s} {s.before_db:6.2f} dB -> {s.after_db:6.2f} dB "
                f"({s.reduction_pct:5.1f} % closer; two takes of one probe differ by "
                f"{s.floor_db:.2f} dB; {s.probes} probes)" for name, s in self.sections.items()]


# -- loading --------------------------------------------------------------------------------
def load_unit_profile(path) -> UnitProfile:
    """Read a profile written by :meth:`UnitProfile.save`; raise :class:`UnitProfileError`
    (one sentence) for a missing, unreadable, damaged or foreign file."""
    from magicstomp.emulator.variants import UnitVariant
    path = Path(path)
    hint = "run `magicstomp profile` to measure the unit again"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UnitProfileError(f"the unit profile {path} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnitProfileError(f"the unit profile {path} cannot be read "
                               f"({getattr(exc, 'strerror', None) or exc}); {hint}") from None
    except json.JSONDecodeError as exc:
        raise UnitProfileError(f"the unit profile {path} is not valid JSON ({exc.msg} at line "
                               f"{exc.lineno}); {hint}") from None
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise UnitProfileError(f"{path} is not a unit profile (no \"format\": "
                               f"\"{PROFILE_FORMAT}\" field); pass the JSON written by "
                               "`magicstomp profile`")
    if data.get("version") != PROFILE_VERSION:
        raise UnitProfileError(f"the unit profile {path} has version {data.get('version')!r}; "
                               f"this toolkit reads version {PROFILE_VERSION}; {hint}")
    try:
        variant = UnitVariant.from_dict(data["variant"])
        sections = {name: SectionFit(float(s["before_db"]), float(s["after_db"]),
                                     int(s["probes"]), float(s.get("floor_db", 0.0)))
                    for name, s in data["sections"].items()}
        profile = UnitProfile(variant, sections, list(data["fitted"]), list(data["unseen"]),
                              list(data.get("probes", [])), dict(data.get("measurement", {})),
                              dict(data.get("fit", {})))
    except MagicstompError as exc:
        raise UnitProfileError(f"the unit profile {path} is damaged ({exc}); {hint}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnitProfileError(f"the unit profile {path} is damaged (field {exc} missing or "
                               f"malformed); {hint}") from None
    return profile


# -- the probe session ----------------------------------------------------------------------
def record_probes(rig, probes, *, on_take=None) -> tuple:
    """``(takes, silent_take, repeats)``: one take of each probe on ``rig`` (mono float64, in
    the probes' order); first one take of :data:`SILENCE_S` of silence (the chain's noise);
    last a second take of each section's first probe, ``{probe index: take}`` (the
    replicate floor: how far two takes of one patch differ on this chain)."""
    again = [i for i, p in enumerate(probes)
             if all(q.section != p.section for q in probes[:i])]   # each section's first
    seconds = sum(p.seconds for p in probes) + SILENCE_S + sum(probes[i].seconds for i in again)
    if seconds > MAX_PROBE_SECONDS + 1e-9:
        raise UnitProfileError(f"the probe session holds {seconds:.1f} s of audio; the most is "
                               f"{MAX_PROBE_SECONDS:.0f} s (profile fewer types or shorten "
                               "the probes)")
    silent = np.asarray(rig.render(probes[0].patch, np.zeros(int(SILENCE_S * rig.sample_rate))),
                        dtype=np.float64)
    takes = []
    for i, probe in enumerate(probes):
        takes.append(np.asarray(rig.render(probe.patch, probe.signal(rig.sample_rate)),
                                dtype=np.float64))
        if on_take is not None:
            on_take(i, probe)
    repeats = {i: np.asarray(rig.render(probes[i].patch, probes[i].signal(rig.sample_rate)),
                             dtype=np.float64) for i in again}
    return takes, silent, repeats


def fit_unit_profile(rig, *, types=DEFAULT_TYPES, scale: float = 1.0, max_passes: int = 3,
                     on_take=None) -> UnitProfile:
    """Play the probe session of ``types`` on ``rig`` and fit the model to its takes.

    Parameters
    ----------
    rig : hil.rig.Rig
        The unit (``render(patch, di) -> take`` and ``sample_rate``).
    types : iterable of int or str
        Effect types in use (:func:`optimize.unit_probes.probe_types` have probes).
    scale : float
        Stretches every probe's stimulus (1.0: about 20 s for the default types).
    max_passes : int
        Most coordinate passes of the fit.
    on_take : callable, optional
        ``on_take(index, probe)`` after each take (progress).

    Returns
    -------
    UnitProfile
    """
    from magicstomp.effects import effect_type
    probes = probe_session(types, scale=scale)
    if not probes:
        raise UnitProfileError(
            f"none of the effect types {', '.join(effect_type(t).name for t in types)} has "
            "probes; profile the multis (0x37-0x3E) or the Tape Echo (0x35)")
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    takes, silent, repeats = record_probes(rig, probes, on_take=on_take)
    take_seconds = time.perf_counter() - t0
    noise_db = noise_floor_db(silent, rig.sample_rate)
    profile = fit_assumptions(probes, takes, rig.sample_rate, max_passes=max_passes,
                              noise_db=noise_db, repeats=repeats)
    describe = rig.describe() if hasattr(rig, "describe") else {"rig": type(rig).__name__}
    describe.pop("variant", None)        # the stand-in's truth is not part of the measurement
    profile.measurement = {
        "rig": type(rig).__name__, "rig_description": describe,
        "sample_rate": int(rig.sample_rate), "date": started.isoformat(timespec="seconds"),
        "takes": len(takes) + 1 + len(repeats), "probe_takes": len(takes),
        "audio_seconds": round(sum(p.seconds for p in probes) + SILENCE_S
                               + sum(probes[i].seconds for i in repeats), 3),
        "noise_rms_dbfs": round(float(20 * np.log10(np.sqrt(np.mean(silent ** 2)) + 1e-12)),
                                1),
        "take_wall_seconds": round(take_seconds, 2), "probe_scale": float(scale),
        "types": [effect_type(t).name for t in dict.fromkeys(types)]}
    return profile


# -- the fit ---------------------------------------------------------------------------------
class _Model:
    """Model renders of the probes, scored against the unit's takes; counts evaluations."""

    def __init__(self, probes, takes, sample_rate, noise_db=None):
        self.probes, self.sample_rate, self.noise_db = probes, int(sample_rate), noise_db
        self.signals = [p.signal(sample_rate) for p in probes]
        self.unit_db = [band_spectrogram_db(t, sample_rate) for t in takes]
        self.takes = takes
        self.evaluations = 0

    def render(self, i, values):
        from magicstomp.emulator import render, to_mono
        from magicstomp.emulator.variants import UnitVariant
        self.evaluations += 1
        return to_mono(render(self.probes[i].patch, self.signals[i], self.sample_rate,
                              variant=UnitVariant(values)))

    def distance(self, i, values) -> float:
        return take_distance_db(self.render(i, values), self.takes[i], self.sample_rate,
                                unit_db=self.unit_db[i], noise_db=self.noise_db)

    def total(self, indices, values) -> float:
        return float(sum(self.distance(i, values) for i in indices))


def seen_by(model: _Model) -> dict:
    """{assumption: [probe indices whose render moves at the edge of its spread]}."""
    from magicstomp.emulator.mappings import ASSUMPTION_SPREADS
    nominal = {s.name: s.nominal for s in ASSUMPTION_SPREADS}
    base = [model.render(i, nominal) for i in range(len(model.probes))]
    base_db = [band_spectrogram_db(y, model.sample_rate) for y in base]
    seen = {}
    for s in ASSUMPTION_SPREADS:
        moved = dict(nominal, **{s.name: s.bounds[1]})
        seen[s.name] = [i for i in range(len(model.probes))
                        if take_distance_db(model.render(i, moved), base[i], model.sample_rate,
                                            unit_db=base_db[i]) > SEEN_DB]
    return seen


def _fit_one(model, spread, indices, values, *, width: float, points: int) -> float:
    """The value of ``spread`` that minimises the summed distance of ``indices``: a grid of
    ``points`` over +/- ``width`` spreads around the current value (within twice the
    documented spread), then Brent between the best point's neighbours."""
    from scipy.optimize import minimize_scalar

    from magicstomp.emulator.variants import MAX_SPREADS
    centre = values[spread.name]
    lo = max(spread.nominal - MAX_SPREADS * spread.amount, centre - width * spread.amount)
    hi = min(spread.nominal + MAX_SPREADS * spread.amount, centre + width * spread.amount)

    def cost(v):
        return model.total(indices, dict(values, **{spread.name: float(v)}))

    grid = np.linspace(lo, hi, points)
    costs = [cost(v) for v in grid]
    best = int(np.argmin(costs))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, points - 1)]
    res = minimize_scalar(cost, bounds=(a, b), method="bounded",
                          options={"xatol": 0.002 * spread.amount, "maxiter": 10})
    return round(float(res.x) if res.fun <= costs[best] else float(grid[best]), 5)


def _joint_polish(model, names, indices, values, *, max_evaluations: int) -> None:
    """Nelder-Mead over the coupled assumptions ``names`` (in units of their spreads) on the
    probes ``indices``; updates ``values`` when it lowers their summed distance."""
    from scipy.optimize import minimize

    from magicstomp.emulator.mappings import SPREADS_BY_NAME
    from magicstomp.emulator.variants import MAX_SPREADS
    spreads = [SPREADS_BY_NAME[n] for n in names]
    x0 = np.array([(values[s.name] - s.nominal) / s.amount for s in spreads])

    def trial(x):
        x = np.clip(x, -MAX_SPREADS, MAX_SPREADS)
        return dict(values, **{s.name: float(s.nominal + xi * s.amount)
                               for s, xi in zip(spreads, x)})

    def cost(x):
        return model.total(indices, trial(x))

    start_cost = cost(x0)
    simplex = np.vstack([x0] + [x0 + 0.3 * np.eye(len(x0))[k] for k in range(len(x0))])
    res = minimize(cost, x0, method="Nelder-Mead",
                   options={"initial_simplex": simplex, "maxfev": max_evaluations,
                            "xatol": 0.01, "fatol": 1e-4})
    if res.fun < start_cost:
        values.update({k: round(v, 5) for k, v in trial(res.x).items() if k in names})


#: assumptions acting in series on one path (the front of the multis: drive into the
#: shaper, trim and volume after it): a level moved in one is undone in another, so they
#: are fitted together first (Nelder-Mead) on the probes that see nothing else
COUPLED = ("front_level_db", "volume_taper", "drive_base_db", "drive_taper")


def _fit_indices(probes, spread_name, seen) -> list:
    """The probes a 1-D search of ``spread_name`` scores: those of its own section that see
    it (a level reaches every probe; its own section's probes are the ones built for it),
    else every probe that sees it."""
    own = [i for i in seen if probes[i].section == ASSUMPTION_SECTIONS[spread_name]]
    return own or list(seen)


def fit_assumptions(probes, takes, sample_rate: int, *, max_passes: int = 3,
                    noise_db=None, repeats=None) -> UnitProfile:
    """Fit every assumption the probes see to the unit's ``takes`` (see the module doc);
    ``noise_db`` (:func:`optimize.unit_probes.noise_floor_db`) is the chain's noise,
    ``repeats`` ``{probe index: second take}`` give each section's replicate floor."""
    from magicstomp.emulator.mappings import ASSUMPTION_SPREADS
    from magicstomp.emulator.variants import UnitVariant
    t0 = time.perf_counter()
    model = _Model(probes, takes, sample_rate, noise_db)
    seen = seen_by(model)
    order = [s for sec in SECTIONS for s in ASSUMPTION_SPREADS
             if ASSUMPTION_SECTIONS[s.name] == sec and seen[s.name]]
    values = {s.name: s.nominal for s in ASSUMPTION_SPREADS}
    everything = list(range(len(probes)))
    before = [model.distance(i, values) for i in everything]
    total = sum(before)
    coupled = [s.name for s in order if s.name in COUPLED]
    if len(coupled) > 1:       # first, the front's levels and drive together
        idx = [i for i, p in enumerate(probes) if p.section in ("levels", "amp/drive")
               and all(i not in seen[s.name] for s in order if s.name not in COUPLED)]
        _joint_polish(model, coupled, idx, values, max_evaluations=50 * len(coupled))
    passes = 0
    for passes in range(1, max_passes + 1):
        for spread in order:
            wide = passes == 1 and spread.name not in coupled
            fine = spread.name in PERIODIC
            values[spread.name] = _fit_one(
                model, spread, _fit_indices(probes, spread.name, seen[spread.name]), values,
                width=2.0 if wide else 0.5,
                points=(GRID_POINTS if fine else 9) if wide else 5)
        new_total = model.total(everything, values)
        log.debug("fit pass %d: summed distance %.4f -> %.4f dB", passes, total, new_total)
        gain = (total - new_total) / total if total > 0 else 0.0
        total = new_total
        if gain < MIN_PASS_GAIN:
            break
    after = [model.distance(i, values) for i in everything]
    sections = {}
    for sec in SECTIONS:
        idx = [i for i, p in enumerate(probes) if p.section == sec]
        if idx:
            again = [i for i in idx if i in (repeats or {})]
            floor = take_distance_db(repeats[again[0]], takes[again[0]], sample_rate,
                                     noise_db=noise_db) if again else 0.0
            sections[sec] = SectionFit(float(np.mean([before[i] for i in idx])),
                                       float(np.mean([after[i] for i in idx])), len(idx),
                                       float(floor))
    probe_rows = [dict(p.describe(), before_db=round(before[i], 4), after_db=round(after[i], 4),
                       sees=[s.name for s in order if i in seen[s.name]])
                  for i, p in enumerate(probes)]
    fitted = [s.name for s in order]
    return UnitProfile(
        UnitVariant(values), sections, fitted,
        [s.name for s in ASSUMPTION_SPREADS if not seen[s.name]], probe_rows,
        fit={"method": "coordinate passes of 1-D searches (grid + bounded Brent) of the "
                       "band-spectrogram distance, then Nelder-Mead over the coupled "
                       "level/drive assumptions",
             "passes": passes, "model_evaluations": model.evaluations,
             "seconds": round(time.perf_counter() - t0, 2)})


def section_reduction(profile: UnitProfile) -> dict:
    """{section: reduction in percent}."""
    return {name: s.reduction_pct for name, s in profile.sections.items()
            if math.isfinite(s.reduction_pct)}
