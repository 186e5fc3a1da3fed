"""One exception tree for the whole toolkit.

Every error a user can cause derives from :class:`MagicstompError`. The CLI
turns these into one line and exit code 1; anything else is a bug and shows a
traceback. Each class also derives from the closest builtin, so callers that
catch ``ValueError`` or ``OSError`` keep working.
"""


class MagicstompError(Exception):
    """Root of every error the toolkit raises on purpose."""


class ParameterError(MagicstompError, ValueError):
    """A parameter name, kind or value is not allowed.

    Attributes: ``field``, ``value``, ``allowed`` (a human-readable range or list).
    """

    def __init__(self, message, *, field=None, value=None, allowed=None):
        super().__init__(message)
        self.field = field
        self.value = value
        self.allowed = allowed


class UnknownEffectTypeError(ParameterError):
    """An effect type id or name that is not one of the 64 types."""


class PatchFormatError(MagicstompError, ValueError):
    """Patch bytes or a patch JSON document that cannot be decoded."""


class SysexError(MagicstompError, ValueError):
    """A SysEx message or .syx/.ub9 file that does not follow the protocol."""


class ChecksumError(SysexError):
    """A bulk message whose checksum does not match its contents."""

    def __init__(self, message, *, expected=None, actual=None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class MidiError(MagicstompError, OSError):
    """A MIDI port that cannot be found, opened or used."""


class MidiTimeoutError(MidiError, TimeoutError):
    """The unit did not answer within the timeout."""


class DeviceError(MagicstompError, OSError):
    """An audio device that cannot be found, opened or used."""


class CalibrationError(MagicstompError, RuntimeError):
    """A calibration measurement that failed or cannot be trusted."""


class AudioInputError(MagicstompError, ValueError):
    """An audio file that is missing, unreadable, silent or otherwise unusable."""


class EmulationError(MagicstompError, ValueError):
    """A patch the virtual Magicstomp cannot render (e.g. a type it does not emulate)."""
