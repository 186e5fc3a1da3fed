"""Documented no-ops: parameters of emulated types that do not change the output, and why.

The cross-type test (``tests/test_emulator_common.py``) moves every parameter of
every emulated type across its range and expects the output to change; the
parameters listed here are the only exceptions. Each entry says *why* the
parameter is silent in the virtual Magicstomp (e.g. it only matters on
hardware, or its effect is not modelled), so that a missing feature is never
hidden as an accident.

    NO_OPS[type_id][key] = reason       (one sentence)

Add entries with the type ids of every type the reason applies to (the four
Amp Multi and four Distortion Multi types share a layout but have separate ids).
"""

from __future__ import annotations

from types import MappingProxyType

_AMP_MULTIS = (0x37, 0x38, 0x39, 0x3A)
_DIST_MULTIS = (0x3B, 0x3C, 0x3D, 0x3E)

_NO_OPS: dict[int, dict[str, str]] = {}


def _add(type_ids, key: str, reason: str) -> None:
    for type_id in type_ids:
        _NO_OPS.setdefault(type_id, {})[key] = reason


# -- entries (one _add call per parameter; keep the reason to one sentence) ---


#: Read-only view: {type id: {parameter key: reason}}.
NO_OPS = MappingProxyType({k: MappingProxyType(v) for k, v in _NO_OPS.items()})


def no_op_reason(type_id: int, key: str) -> str | None:
    """The documented reason why ``key`` of type ``type_id`` is a no-op; None if it is not one."""
    return _NO_OPS.get(int(type_id), {}).get(key)
