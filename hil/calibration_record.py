"""The calibration record: what a calibration measured, as JSON (``calibration.json``).

Written by :func:`hil.calibration.calibrate` (via ``auto_match_hil --calibrate``),
read back and reused while :meth:`CalibrationRecord.matches` the devices,
channels and rate. Latency is in samples, positive when the return lags the send.

:meth:`CalibrationRecord.load` checks every field's type, so a damaged file (not
JSON, not UTF-8, a list, ``"in_ch": 5``) is one :class:`CalibrationError`; the
pipeline then warns in one line and calibrates again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from magicstomp.errors import CalibrationError

ALGORITHM_VERSION = 1
RECORD_FORMAT = "magicstomp-calibration"


@dataclass(frozen=True)
class CalibrationRecord:
    """What a calibration measured, for one pair of devices, channels and rate.

    Attributes
    ----------
    latency_samples : int
        Round-trip latency (positive: the return lags the send).
    latency_estimates : list of int
        One estimate per blip (over all runs).
    polarity : int
        +1, or -1 when the chain inverts.
    return_gain_db : float
        Return level relative to the send at ``tone_hz`` (fixed send level).
    noise_floor_dbfs : float
        RMS of the return during the quiet window.
    threshold : float
        Onset threshold used (linear).
    replicate_floor : float or None
        Loss between two takes of one patch (set by :func:`replicate_floor`).
    warnings : list of str
        Disagreements and doubts found while measuring.
    """

    sample_rate: int
    latency_samples: int
    latency_estimates: list
    polarity: int
    return_gain_db: float
    noise_floor_dbfs: float
    threshold: float
    in_device: str | None = None
    out_device: str | None = None
    in_ch: list = field(default_factory=lambda: [1])
    out_ch: list = field(default_factory=lambda: [1])
    replicate_floor: float | None = None
    warnings: list = field(default_factory=list)
    stimulus: dict = field(default_factory=dict)
    created_utc: str = ""
    algorithm_version: int = ALGORITHM_VERSION

    @property
    def latency_ms(self) -> float:
        return 1e3 * self.latency_samples / self.sample_rate

    @property
    def latency_spread_samples(self) -> int:
        est = self.latency_estimates
        return int(max(est) - min(est)) if est else 0

    def with_values(self, **changes) -> "CalibrationRecord":
        """A copy with some fields changed (e.g. ``replicate_floor``)."""
        return replace(self, **changes)

    def matches(self, devices, rate: int, *, in_ch=None, out_ch=None) -> bool:
        """True when this record was measured with these devices (``(input, output)``, names
        or ``hil.io.DeviceInfo``), this rate and, when given, these 1-based channels."""
        names = [getattr(d, "name", d) for d in devices]
        if len(names) != 2:
            raise CalibrationError(f"devices={devices!r} must be a pair (input, output)")
        ok = (names[0] == self.in_device and names[1] == self.out_device
              and int(rate) == self.sample_rate)
        if in_ch is not None:
            ok = ok and list(np.atleast_1d(in_ch)) == list(self.in_ch)
        if out_ch is not None:
            ok = ok and list(np.atleast_1d(out_ch)) == list(self.out_ch)
        return bool(ok)

    def to_dict(self) -> dict:
        doc = {"format": RECORD_FORMAT}
        doc.update(asdict(self))
        doc["latency_ms"] = round(self.latency_ms, 4)
        return doc

    @classmethod
    def from_dict(cls, doc: dict) -> "CalibrationRecord":
        if not isinstance(doc, dict):
            raise CalibrationError(f"not a calibration record (a JSON {type(doc).__name__}, "
                                   "expected an object); run auto_match_hil --calibrate")
        if doc.get("format") != RECORD_FORMAT:
            raise CalibrationError(f"not a calibration record (format {doc.get('format')!r}); "
                                   f"expected format {RECORD_FORMAT!r}; run auto_match_hil "
                                   "--calibrate to write one")
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in doc.items() if k in known}
        _check_fields(values)
        try:
            return cls(**values)
        except TypeError as exc:
            raise CalibrationError(f"the calibration record is incomplete ({exc}); "
                                   "calibrate again") from None

    def save(self, path) -> Path:
        """Write ``calibration.json`` (atomically)."""
        from magicstomp.files import atomic_write_text
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path) -> "CalibrationRecord":
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CalibrationError(f"no calibration file at {path}; run auto_match_hil --calibrate "
                                   "first") from None
        except UnicodeDecodeError:
            raise CalibrationError(f"{path} is not UTF-8 text; calibrate again") from None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CalibrationError(f"{path} is not valid JSON ({exc}); calibrate again") from None
        try:
            return cls.from_dict(doc)
        except CalibrationError as exc:
            raise CalibrationError(f"{path}: {exc}") from None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and np.isfinite(v)


_FIELD_CHECKS = {
    "sample_rate": (lambda v: _is_int(v) and v > 0, "a positive whole number of Hz"),
    "latency_samples": (_is_int, "a whole number of samples"),
    "latency_estimates": (lambda v: isinstance(v, list) and all(map(_is_int, v)),
                          "a list of whole numbers"),
    "polarity": (lambda v: v in (1, -1) and not isinstance(v, bool), "1 or -1"),
    "return_gain_db": (_is_num, "a number of dB"),
    "noise_floor_dbfs": (_is_num, "a number of dBFS"),
    "threshold": (_is_num, "a number"),
    "in_device": (lambda v: v is None or isinstance(v, str), "a device name"),
    "out_device": (lambda v: v is None or isinstance(v, str), "a device name"),
    "in_ch": (lambda v: isinstance(v, list) and v and all(_is_int(c) and c >= 1 for c in v),
              "a list of channel numbers counted from 1"),
    "out_ch": (lambda v: isinstance(v, list) and v and all(_is_int(c) and c >= 1 for c in v),
               "a list of channel numbers counted from 1"),
    "replicate_floor": (lambda v: v is None or _is_num(v), "a number or null"),
    "warnings": (lambda v: isinstance(v, list), "a list"),
    "stimulus": (lambda v: isinstance(v, dict), "an object"),
    "created_utc": (lambda v: isinstance(v, str), "a text"),
    "algorithm_version": (_is_int, "a whole number"),
}


def _check_fields(values: dict) -> None:
    """CalibrationError naming the first field of the wrong kind."""
    for key, value in values.items():
        check, expected = _FIELD_CHECKS.get(key, (lambda v: True, ""))
        if not check(value):
            raise CalibrationError(f"field {key!r} is {json.dumps(value)[:40]}; expected "
                                   f"{expected}; calibrate again")
