"""The processors' registry, StreamProcessor, render and to_mono (re-exported by the package).

Kept apart from ``magicstomp/emulator/__init__.py`` so that ``parallel`` can use
them without importing the package that imports it.
"""

from __future__ import annotations

import importlib

import numpy as np

from ..effects import effect_type
from ..errors import EmulationError
from .mappings import use_variant
from .variants import UnitVariant

SUPPORTED_RATES_HZ = (44100, 48000, 96000)

#: type id -> "module:Class" inside this package; one module per effect family.
EMULATED_TYPES = {
    0x08: "amp:AmpSimulator",
    0x2F: "distortion:Distortion",
    0x36: "dynamics:Compressor",
    0x33: "eq:ParametricEQ3",
    0x0D: "delay:MonoDelay",
    0x0E: "delay:StereoDelay",
    0x0F: "delay:ModDelay",
    0x11: "delay:Echo",
    0x35: "delay:TapeEcho",
    0x09: "reverb:Reverb",
    0x34: "reverb:SpringReverb",
    0x12: "modulation:Chorus",
    0x13: "modulation:Flange",
    0x15: "modulation:Phaser",
    0x17: "modulation:Tremolo",
    0x37: "multi:AmpMulti",
    0x38: "multi:AmpMulti",
    0x39: "multi:AmpMulti",
    0x3A: "multi:AmpMulti",
    0x3B: "multi:DistortionMulti",
    0x3C: "multi:DistortionMulti",
    0x3D: "multi:DistortionMulti",
    0x3E: "multi:DistortionMulti",
}


def processor_class(type_ref):
    """The processor class that emulates an effect type.

    Raises
    ------
    EmulationError
        for a type the virtual Magicstomp does not emulate, listing those it does.
    """
    t = effect_type(type_ref)
    target = EMULATED_TYPES.get(t.id)
    if target is None:
        names = ", ".join(f"{effect_type(i).name} (0x{i:02X})" for i in sorted(EMULATED_TYPES))
        raise EmulationError(
            f"the virtual Magicstomp does not emulate {t.name} (0x{t.id:02X}); "
            f"emulated types: {names}")
    module_name, class_name = target.split(":")
    module = importlib.import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)


def _check_rate(sample_rate) -> int:
    if int(sample_rate) not in SUPPORTED_RATES_HZ:
        raise EmulationError(
            f"sample rate {sample_rate} Hz is not supported by the virtual Magicstomp; "
            f"expected one of {', '.join(map(str, SUPPORTED_RATES_HZ))} Hz (resample the audio first)")
    return int(sample_rate)


class StreamProcessor:
    """Block-by-block rendering of one patch; output equals :func:`render`.

    ``variant``: a :class:`UnitVariant` the processor is built with (None = nominal);
    ``lfo_phase_deg``: see :func:`render`.
    """

    def __init__(self, patch, sample_rate: int, *, variant: UnitVariant | None = None,
                 lfo_phase_deg: float = 0.0):
        self.patch = patch
        self.sample_rate = _check_rate(sample_rate)
        self.variant = variant
        cls = processor_class(patch.effect_type)
        with use_variant(variant):
            self._impl = cls(patch, self.sample_rate)
        if lfo_phase_deg:
            _start_lfos(self._impl, float(lfo_phase_deg) % 360.0)

    def process(self, block) -> np.ndarray:
        """Process mono ``block`` (n,) and return stereo (n, 2) float64."""
        x = np.ascontiguousarray(block, dtype=np.float64)
        if x.ndim != 1:
            raise EmulationError(f"the virtual Magicstomp takes mono input; got shape {x.shape}")
        if x.size == 0:
            return np.zeros((0, 2))
        return self._impl.process(x)

    def reset(self) -> None:
        """Return to the initial state (empty delay lines, LFO phase 0)."""
        self._impl.reset()


def render(patch, audio, sample_rate: int, *, variant: UnitVariant | None = None,
           lfo_phase_deg: float = 0.0) -> np.ndarray:
    """Render mono ``audio`` through ``patch`` (on unit ``variant``); returns (n, 2) float64.

    ``lfo_phase_deg`` starts every LFO of the patch that far into its cycle (as if it
    had run before the first sample): the unit's LFO phase at the start of a take is
    not under our control, and a loss must not depend on it.
    """
    return StreamProcessor(patch, sample_rate, variant=variant,
                           lfo_phase_deg=lfo_phase_deg).process(audio)


def _start_lfos(obj, phase_deg: float, _seen=None) -> None:
    """Set ``start_n`` of every Lfo reachable from ``obj``'s attributes to ``phase_deg`` of its
    cycle."""
    from .delay_lines import Lfo
    seen = set() if _seen is None else _seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Lfo):
        if obj.increment > 0:
            obj.start_n = int(round(phase_deg / 360.0 / obj.increment))
            obj.reset()
        return
    children = obj if isinstance(obj, (list, tuple)) else getattr(obj, "__dict__", {}).values()
    for child in children:
        if isinstance(child, (list, tuple)) or type(child).__module__.startswith(__package__):
            _start_lfos(child, phase_deg, seen)


def to_mono(stereo: np.ndarray) -> np.ndarray:
    """The mono fold used for matching: the mean of the two outputs, 0.5 * (L + R)."""
    stereo = np.asarray(stereo)
    return stereo if stereo.ndim == 1 else stereo.mean(axis=1)
