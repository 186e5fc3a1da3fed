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
"""

from __future__ import annotations

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
    if entry is None:
        raise EmulationError(
            f"no assumed mapping for parameter {key!r}; expected one of "
            f"{', '.join(sorted(MAPPINGS_BY_KEY))} (add a row to ASSUMED_MAPPINGS)")
    if entry.kind == "enum_table":
        for label, mapped in entry.table:
            if str(value) == label:
                return mapped
        raise EmulationError(
            f"{key}={value!r} is not a known label; expected one of "
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
    raise EmulationError(f"mapping kind {entry.kind!r} of {key!r} is unknown; fix ASSUMED_MAPPINGS")


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
