"""Yamaha Magicstomp (UB99): effect table, patches, SysEx, files, MIDI and the virtual unit.

Effect table (``magicstomp.effects``)
    EFFECT_TYPES, effect_type(ref), Param, EffectType, TABLES
Patches (``magicstomp.patch``)
    Patch: from_payload / to_payload, from_dict / to_dict (JSON), init(type)
SysEx and files (``magicstomp.sysex``, ``magicstomp.files``)
    bulk framing with checksum, parameter change, dump requests; .syx and .ub9
MIDI (``magicstomp.midi``, imported on demand)
    port listing and opening, send, dump, store to a user slot
Virtual Magicstomp (``magicstomp.emulator``, imported on demand)
    render(patch, audio, sample_rate), StreamProcessor

Importing this package opens no device and loads no audio library.
"""

from .effects import EFFECT_TYPES, KNOB_NONE, EffectType, Param, effect_type
from .errors import (ChecksumError, MagicstompError, ParameterError, PatchFormatError,
                     SysexError, UnknownEffectTypeError)
from .patch import PAYLOAD_BYTES, Patch

__all__ = [
    "EFFECT_TYPES", "KNOB_NONE", "EffectType", "Param", "effect_type", "Patch", "PAYLOAD_BYTES",
    "MagicstompError", "ParameterError", "PatchFormatError", "SysexError", "ChecksumError",
    "UnknownEffectTypeError",
]
