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

    ``variant``: a :class:`UnitVariant` the processor is built with (None = nominal).
    """

    def __init__(self, patch, sample_rate: int, *, variant: UnitVariant | None = None):
        self.patch = patch
        self.sample_rate = _check_rate(sample_rate)
        self.variant = variant
        cls = processor_class(patch.effect_type)
        with use_variant(variant):
            self._impl = cls(patch, self.sample_rate)

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


def render(patch, audio, sample_rate: int, *, variant: UnitVariant | None = None) -> np.ndarray:
    """Render mono ``audio`` through ``patch`` (on unit ``variant``); returns (n, 2) float64."""
    return StreamProcessor(patch, sample_rate, variant=variant).process(audio)


def to_mono(stereo: np.ndarray) -> np.ndarray:
    """The mono fold used for matching: the mean of the two outputs, 0.5 * (L + R)."""
    stereo = np.asarray(stereo)
    return stereo if stereo.ndim == 1 else stereo.mean(axis=1)
