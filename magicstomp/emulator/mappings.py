"""The one table of *assumed* physical mappings used by the virtual Magicstomp.

The unit shows many parameters only as a 0-10 knob (or an unlabelled enum) and
Yamaha does not publish what they mean physically. Every such assumption the
emulator makes lives here, as data: the parameter key, the mapping, and why it
was chosen. DSP modules read their numbers from this table through
:func:`knob_value`; they never hard-code their own.

Mapping kinds (``x`` is the knob value as the patch shows it):

``"db_linear"``     value = lo + (hi - lo) * x / 10, a level or gain in dB
``"db_linear_off"`` as ``db_linear``, but ``x == 0`` means "off" (returns None)
``"amp_linear"``    linear amplitude x / 10 * hi (hi = 1.0 gives unity at 10)
``"amp_square"``    audio taper, amplitude (x / 10) ** 2 * hi; 0 mutes
``"enum_table"``    label -> value, ``table`` lists the pairs
``"linear"``        value = lo + (hi - lo) * x / 10 in any unit (ms, Hz, %, gain)
``"geometric"``     value = lo * (hi / lo) ** (x / 10): equal ratios per knob step (times, rates)

Adding an entry: append one :class:`AssumedMapping` to ``ASSUMED_MAPPINGS``
(helpers own their rows; keep the reason one or two sentences).

Unit variants: every such assumption (and each assumed constant of the DSP
modules: tone-stack frequencies, drive base gains, trims, sweeps, the reverb's
damping corner) has a documented spread in ``ASSUMPTION_SPREADS``. A
:class:`~magicstomp.emulator.variants.UnitVariant` draws one value per spread;
while a processor is built under :func:`use_variant`, :func:`knob_value` and
:func:`variant_value` return the variant's values instead of the nominal ones.
Without a variant (the default) nothing changes, bit for bit.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import EmulationError


@dataclass(frozen=True)
class AssumedMapping:
    """One assumed mapping of a knob or enum onto a physical quantity.

    Attributes
    ----------
    key : str
        Parameter key as in the effect table (shared by every type using it).
    kind : str
        One of the kinds listed in the module docstring.
    lo, hi : float
        End points of the mapping (meaning depends on ``kind``).
    unit : str
        Unit of the returned physical value ("dB", "dBFS", "x" for amplitude).
    reason : str
        Why this mapping was assumed.
    table : tuple
        (label, value) pairs for ``"enum_table"``.
    """

    key: str
    kind: str
    lo: float
    hi: float
    unit: str
    reason: str
    table: tuple = field(default=())


#: compressor knee label -> soft-knee width in dB (the two knee keys share it).
_KNEE_WIDTHS_DB = (("Hard", 0.0), ("1", 3.0), ("2", 6.0), ("3", 9.0), ("4", 12.0), ("5", 15.0))

ASSUMED_MAPPINGS = (
    # --- amp / distortion / dynamics / EQ family (helper A) --------------------
    AssumedMapping(
        "preamp_gain", "db_linear", 0.0, 36.0, "dB",
        "Drive added on top of each amp/distortion voicing's base gain; 36 dB over the knob "
        "turns every voicing from its cleanest to its most saturated setting."),
    AssumedMapping(
        "master_volume", "amp_square", 0.0, 1.0, "x",
        "Output level with an audio (square-law) taper: 10 = unity, 5 = -12 dB, 0 mutes, "
        "like a volume pot."),
    AssumedMapping(
        "master_tone", "db_linear", -18.0, 0.0, "dB",
        "Treble-cut master tone: a 1.2 kHz high shelf from -18 dB (0) to flat (10); the "
        "factory init patch sets 10, which we read as 'flat'."),
    AssumedMapping(
        "treble", "db_linear", -12.0, 12.0, "dB",
        "Tone-stack high shelf gain; 5 = flat voicing, each knob step 2.4 dB."),
    AssumedMapping(
        "hi_mid", "db_linear", -12.0, 12.0, "dB",
        "Tone-stack upper-mid peaking gain (frequency set by the amp voicing); 5 = flat."),
    AssumedMapping(
        "lo_mid", "db_linear", -12.0, 12.0, "dB",
        "Tone-stack lower-mid peaking gain (frequency set by the amp voicing); 5 = flat."),
    AssumedMapping(
        "bass", "db_linear", -12.0, 12.0, "dB",
        "Tone-stack low shelf gain; 5 = flat."),
    AssumedMapping(
        "presence", "db_linear", -8.0, 8.0, "dB",
        "Power-amp presence: a high shelf near 3.5 kHz after the tone stack; 5 = flat."),
    AssumedMapping(
        "gate_threshold", "db_linear_off", -80.0, -30.0, "dBFS",
        "Noise-gate open threshold on the input peak envelope; 0 switches the gate off (the "
        "factory init value), 10 = -30 dBFS, which gates all but firm picking."),
    AssumedMapping(
        "pre_eq_level", "amp_linear", 0.0, 1.0, "x",
        "Level out of the Distortion pre-EQ into the drive stage; 10 = unity (factory init "
        "value), linear amplitude below."),
    AssumedMapping(
        "effect_level", "amp_linear", 0.0, 1.0, "x",
        "3 Band Parametric EQ output level; 10 = unity (factory init value), linear amplitude."),
    AssumedMapping(
        "compressor_knee", "enum_table", 0.0, 15.0, "dB",
        "Soft-knee width of the quadratic knee (Giannoulis, Massberg & Reiss 2012); "
        "'Hard' = 0 dB and each step adds 3 dB.", table=_KNEE_WIDTHS_DB),
    AssumedMapping(
        "knee", "enum_table", 0.0, 15.0, "dB",
        "Standalone Compressor knee; same as compressor_knee.", table=_KNEE_WIDTHS_DB),
    # --- time / modulation family (helper B: delay.py, modulation.py, multi.py) -----
    AssumedMapping(
        "delay_time", "geometric", 30.0, 1000.0, "ms",
        "Tape Echo time: tape echoes span slapback (tens of ms) to long echoes; equal ratios "
        "per step make each knob step sound alike, and 4.6 (the init patch) is a 150 ms slapback."),
    AssumedMapping(
        "feedback_level", "linear", 0.0, 1.0, "x",
        "Tape Echo loop gain: 10 = unity, the edge of runaway a tape echo reaches; its "
        "saturation and darkening keep the repeats bounded."),
    AssumedMapping(
        "mix", "linear", 0.0, 1.0, "x",
        "Tape Echo mix, like the other delays' Mix %: a crossfade from dry (0) to wet (10)."),
    AssumedMapping(
        "chorus_speed", "geometric", 0.1, 10.0, "Hz",
        "Multi chorus LFO rate, slow sweep to vibrato with equal ratios per step, as pedal rate knobs."),
    AssumedMapping("flanger_speed", "geometric", 0.1, 10.0, "Hz", "Multi flanger LFO rate; as chorus_speed."),
    AssumedMapping("phaser_speed", "geometric", 0.1, 10.0, "Hz", "Multi phaser LFO rate; as chorus_speed."),
    AssumedMapping(
        "tremolo_speed", "geometric", 0.5, 15.0, "Hz",
        "Multi tremolo rate: amp tremolos run from a slow throb (0.5 Hz) to a fast stutter (15 Hz)."),
    AssumedMapping("chorus_depth", "linear", 0.0, 100.0, "%", "Same scale as the Chorus type's PM depth %."),
    AssumedMapping("flanger_depth", "linear", 0.0, 100.0, "%", "Same scale as the Flange type's depth %."),
    AssumedMapping("phaser_depth", "linear", 0.0, 100.0, "%", "Same scale as the Phaser type's depth %."),
    AssumedMapping("tremolo_depth", "linear", 0.0, 100.0, "%", "Same scale as the Tremolo type's depth %."),
    AssumedMapping(
        "chorus_level", "linear", 0.0, 1.0, "x",
        "Multi chorus wet gain added to the dry path; 10 = wet as loud as dry (the classic 50/50 chorus)."),
    AssumedMapping(
        "flanger_level", "linear", 0.0, 1.0, "x",
        "Multi flanger wet gain added to the dry path; 10 = equal to dry, full-depth notches."),
    AssumedMapping(
        "phaser_level", "linear", 0.0, 1.0, "x",
        "Multi phaser wet gain added to the dry path; 10 = equal to dry, full-depth notches."),
    AssumedMapping(
        "delay_level", "linear", 0.0, 1.0, "x",
        "Multi echo gain added to the dry path; 10 = first echo as loud as the dry signal."),
    # --- reverbs (helper C: reverb.py) -------------------------------------------
    AssumedMapping(
        "reverb_level", "linear", 0.0, 1.0, "x",
        "Spring Reverb and multi reverb wet gain added to the dry path, linear like the other "
        "multi effect levels; 10 = the reverb at unity (its tail energy is normalized in "
        "reverb.py), so 2.4 (factory 'Drivin'Verb') is a -12 dB ambience."),
)

#: key -> AssumedMapping (read-only view of the table).
MAPPINGS_BY_KEY = MappingProxyType({m.key: m for m in ASSUMED_MAPPINGS})


@dataclass(frozen=True)
class AssumptionSpread:
    """How far a real unit may plausibly be from one assumption of the model.

    Attributes
    ----------
    name : str
        Name of the drawn value (a key of ``UnitVariant.values``).
    kind : str
        ``"ratio"`` multiplies a frequency, time or rate; ``"scale"`` multiplies a dB
        value (the dB per knob step of a taper); ``"power"`` raises an amplitude taper
        to this power (2 = square law becomes 2 x value); ``"db"`` adds dB to a level
        (to a dB value, or as a gain on an amplitude).
    amount : float
        Half-width of the spread: the value is drawn uniformly in [1 - amount, 1 + amount]
        (``ratio``, ``scale``, ``power``) or [-amount, +amount] dB (``db``).
    targets : tuple
        Mapping keys of :data:`ASSUMED_MAPPINGS` it applies to (through
        :func:`knob_value`), or the module constants that read it (through
        :func:`variant_value`).
    reason : str
        Why this spread (one line).
    """

    name: str
    kind: str
    amount: float
    targets: tuple
    reason: str

    @property
    def nominal(self) -> float:
        """The value that leaves the model as it is (0 dB or a factor of 1)."""
        return 0.0 if self.kind == "db" else 1.0

    @property
    def bounds(self) -> tuple:
        """(lowest, highest) value a variant may draw."""
        return (self.nominal - self.amount, self.nominal + self.amount)


_TONE_KNOBS = ("treble", "hi_mid", "lo_mid", "bass", "presence", "master_tone")
_EQ_WHY = "is the voicing's, chosen by ear; Yamaha publishes no tone-stack frequencies."

ASSUMPTION_SPREADS = (
    AssumptionSpread("bass_hz", "ratio", 0.20, ("AmpVoicing.bass_hz",),
                     f"The bass shelf corner {_EQ_WHY}"),
    AssumptionSpread("lo_mid_hz", "ratio", 0.20, ("AmpVoicing.lo_mid_hz",),
                     f"The lo-mid peak centre {_EQ_WHY}"),
    AssumptionSpread("hi_mid_hz", "ratio", 0.20, ("AmpVoicing.hi_mid_hz",),
                     f"The hi-mid peak centre {_EQ_WHY}"),
    AssumptionSpread("treble_hz", "ratio", 0.20, ("AmpVoicing.treble_hz",),
                     f"The treble shelf corner {_EQ_WHY}"),
    AssumptionSpread("presence_hz", "ratio", 0.20, ("AmpVoicing.presence_hz",),
                     f"The presence shelf corner {_EQ_WHY}"),
    AssumptionSpread("master_tone_hz", "ratio", 0.20, ("amp.MASTER_TONE_HZ",),
                     "The master tone's 1.2 kHz corner is a guess at a treble-cut pot."),
    AssumptionSpread("tone_taper", "scale", 0.25, _TONE_KNOBS,
                     "dB per step of the tone knobs: real tone stacks span about +/-9 to "
                     "+/-15 dB."),
    AssumptionSpread("drive_taper", "scale", 0.20, ("preamp_gain",),
                     "dB of drive per gain step: 36 dB over the knob is a guess; 29-43 dB is "
                     "common."),
    AssumptionSpread("drive_base_db", "db", 3.0, ("DriveVoicing.base_gain_db",),
                     "Drive at gain 0 of each voicing was set by ear; 3 dB is a clearly audible "
                     "step."),
    AssumptionSpread("volume_taper", "power", 0.15, ("master_volume",),
                     "Audio-taper pots lie between about x^1.7 and x^2.3, not exactly square law."),
    AssumptionSpread("front_level_db", "db", 2.0,
                     ("AmpVoicing.trim_db", "DistortionVoicing.trim_db"),
                     "Voicing trims even out loudness on one DI; the unit's own levels are "
                     "unmeasured."),
    AssumptionSpread("lfo_rate", "ratio", 0.15,
                     ("chorus_speed", "flanger_speed", "phaser_speed", "tremolo_speed"),
                     "Hz per step of the multis' 0-10 speed knobs is not published."),
    AssumptionSpread("mod_sweep", "ratio", 0.20, ("modulation.CHORUS_SWEEP_MS",
                                                  "modulation.FLANGE_SWEEP_MS"),
                     "The delay sweep at 100 % depth of chorus and flanger is not published."),
    AssumptionSpread("mod_level_db", "db", 2.0, ("chorus_level", "flanger_level", "phaser_level"),
                     "The wet gain of a modulation level step is assumed linear, 10 = dry level."),
    AssumptionSpread("delay_level_db", "db", 2.0, ("delay_level",),
                     "The multis' echo level per step is assumed linear, 10 = dry level."),
    AssumptionSpread("reverb_level_db", "db", 2.0, ("reverb_level",),
                     "The reverb's wet level per step is assumed linear over a normalized tail."),
    AssumptionSpread("reverb_damping_hz", "ratio", 0.30, ("reverb.HF_CORNER_HZ",),
                     "The corner above which hi_freq_ratio shortens the tail (3 kHz) is a guess."),
    AssumptionSpread("gate_threshold_db", "db", 3.0, ("gate_threshold",),
                     "dBFS of each gate threshold step is assumed; 3 dB moves where the gate "
                     "bites."),
    AssumptionSpread("tape_time", "ratio", 0.10, ("delay_time",),
                     "Tape Echo ms per step (geometric 30-1000 ms) is assumed."),
)

#: name -> AssumptionSpread
SPREADS_BY_NAME = MappingProxyType({s.name: s for s in ASSUMPTION_SPREADS})
#: mapping key -> the spreads that apply to it in knob_value
_SPREADS_BY_KEY = MappingProxyType({
    key: tuple(s for s in ASSUMPTION_SPREADS if key in s.targets) for key in MAPPINGS_BY_KEY})

#: the variant processors are being built under (None = the nominal model)
_ACTIVE_VARIANT: ContextVar = ContextVar("magicstomp_unit_variant", default=None)


@contextlib.contextmanager
def use_variant(variant):
    """Build processors under ``variant`` (a UnitVariant, or None for the nominal model).

    Only construction reads the assumptions (every coefficient is computed once), so
    a processor built inside the block keeps its variant for its whole life.
    """
    token = _ACTIVE_VARIANT.set(variant)
    try:
        yield variant
    finally:
        _ACTIVE_VARIANT.reset(token)


def active_variant():
    """The variant processors are being built under (None = the nominal model)."""
    return _ACTIVE_VARIANT.get()


def variant_value(name: str) -> float:
    """The active variant's value of spread ``name`` (its nominal value without a variant)."""
    spread = SPREADS_BY_NAME[name]
    variant = _ACTIVE_VARIANT.get()
    return spread.nominal if variant is None else float(variant.value(name))


def _vary(entry: AssumedMapping, value, variant):
    """``value`` of mapping ``entry`` with the spreads of ``variant`` applied."""
    for spread in _SPREADS_BY_KEY[entry.key]:
        d = float(variant.value(spread.name))
        if value is None or d == spread.nominal:
            continue
        if spread.kind in ("ratio", "scale"):
            value = value * d
        elif spread.kind == "power":
            value = entry.hi * (value / entry.hi) ** d
        elif entry.unit in ("dB", "dBFS"):
            value = value + d
        else:
            value = value * 10.0 ** (d / 20.0)
    return value


def knob_value(key: str, value):
    """The physical value the emulator assumes for ``value`` of parameter ``key``.

    Parameters
    ----------
    key : str
        Parameter key with an entry in :data:`ASSUMED_MAPPINGS`.
    value : float or str
        The knob value (0-10) or enum label as the patch shows it.

    Returns
    -------
    float or None
        dB, dBFS or linear amplitude (see the entry's ``unit``); None means "off"
        for ``db_linear_off`` mappings.

    Raises
    ------
    EmulationError
        if ``key`` has no assumed mapping or ``value`` is not one of its labels.
    """
    entry = MAPPINGS_BY_KEY.get(key)
    variant = _ACTIVE_VARIANT.get()
    if entry is not None and variant is not None and _SPREADS_BY_KEY[entry.key]:
        return _vary(entry, _nominal_value(entry, value), variant)
    return _nominal_value(entry, value, key)


def _nominal_value(entry, value, key: str = ""):
    """The nominal mapping of ``value`` (the body of :func:`knob_value`)."""
    if entry is None:
        raise EmulationError(
            f"no assumed mapping for parameter {key!r}; expected one of "
            f"{', '.join(sorted(MAPPINGS_BY_KEY))} (add a row to ASSUMED_MAPPINGS)")
    if entry.kind == "enum_table":
        for label, mapped in entry.table:
            if str(value) == label:
                return mapped
        raise EmulationError(
            f"{entry.key}={value!r} is not a known label; expected one of "
            f"{', '.join(label for label, _ in entry.table)}")
    x = float(value)
    if entry.kind == "db_linear_off" and x <= 0.0:
        return None
    if entry.kind in ("db_linear", "db_linear_off", "linear"):
        return entry.lo + (entry.hi - entry.lo) * x / 10.0
    if entry.kind == "geometric":
        return entry.lo * (entry.hi / entry.lo) ** (min(max(x, 0.0), 10.0) / 10.0)
    if entry.kind == "amp_linear":
        return entry.hi * x / 10.0
    if entry.kind == "amp_square":
        return entry.hi * (x / 10.0) ** 2
    raise EmulationError(f"mapping kind {entry.kind!r} of {entry.key!r} is unknown; "
                         "fix ASSUMED_MAPPINGS")


def require_keys(params, keys, *, stage: str) -> None:
    """Check that a reusable stage got every physical value it reads.

    Raises
    ------
    EmulationError
        naming the stage and the missing keys, e.g. when a stage is composed with
        the values of an effect type that does not have them.
    """
    missing = [k for k in keys if k not in params]
    if missing:
        raise EmulationError(
            f"{stage} needs the parameter(s) {', '.join(missing)} but they are missing from the "
            f"values it was given; pass patch.values() of an effect type that has them")
