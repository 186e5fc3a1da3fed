"""MIDI port I/O with the unit (mido + python-rtmidi), imported lazily.

    list_ports()                         -> {"inputs": [...], "outputs": [...]}
    resolve_port(name, available, kind)  -> exact name, or the one port containing ``name``
    MagicstompMidi(port, in_port=...)    context manager:
        send_patch(patch)                 edit buffer, 4 messages, paced
        send_bank(payloads)               all 99 user patches (bulk-all), e.g. a backup
        send_parameter(patch, key)        one live parameter change
        request_slot(slot)       -> Patch dump request, checksum-verified answer
        request_edit_payload()   -> bytes   the edit buffer (answered by the JACK virtual unit)
        request_all()            -> [Patch] x 99
        store_to_slot(patch, slot, backup_dir=...) -> backup .syx path (read back, verified)
        restore_bank(payloads, source=...)          whole bank, read back, verified

Library calls run inside :func:`magicstomp.quiet.quiet_stderr`, so the ALSA and
libjack lines they print do not precede the toolkit's one-line errors.

The mido backend is read from ``MIDO_BACKEND`` at call time (default
``mido.backends.rtmidi``; tests use ``mido.backends.rtmidi/UNIX_JACK``). No
port is opened at import.

The unit's input and output may have different port names (under JACK they
are separate clients, e.g. ``Magicstomp:midi_in`` and ``Magicstomp-out:midi_out``):
``port`` names the unit's input (where we send) and, unless ``in_port`` is
given, also the output we listen to; a substring matching both is enough.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import midi_store
from .errors import MidiError, MidiTimeoutError, SysexError
from .files import atomic_write_bytes
from .midi_store import backup_path  # noqa: F401  (re-exported: the backup file names)
from .patch import Patch
from .quiet import close_within, quiet_stderr, route_jack_messages
from .sysex import (SLOT_COUNT, FAMILY_BULK, PatchAssembler, bank_messages, check_slot,
                    dump_request, edit_dump_request, parameter_change_for, patch_messages)

log = logging.getLogger(__name__)

DEFAULT_BACKEND = "mido.backends.rtmidi"
#: Substrings tried, in order, when no port is named (the unit's USB-MIDI names vary by OS).
DEFAULT_PORT_HINTS = ("magicstomp", "ub99", "ub-99")
PACING_MS = 70          # between messages of a patch (MagicstompFrenzy's proven spacing)
#: Pause after opening: a JACK MIDI connection is live only from the next process cycle,
#: and an event sent before that is dropped silently.
SETTLE_S = 0.05
POLL_S = 0.001
_ABANDONED: list = []     # ports let go of without closing (see MagicstompMidi.abandon)
_FAULTS: list = []        # MIDI library calls that failed in this process (see midi_fault_seen)


def midi_fault_seen() -> bool:
    """True when a MIDI library call failed or a port was abandoned in this process.

    The MIDI library's objects may then belong to a stalled JACK server, and their
    destructors at interpreter exit can block for minutes, holding the GIL; a command
    leaves with ``os._exit`` instead (:func:`magicstomp.console.run_one_line`).
    """
    return bool(_FAULTS or _ABANDONED)


def _backend():
    """The mido backend named by MIDO_BACKEND (read now, not at import)."""
    import mido   # lazy: importing the toolkit never loads a MIDI library

    name = os.environ.get("MIDO_BACKEND", DEFAULT_BACKEND)
    try:
        with quiet_stderr("loading the MIDI backend"):
            return mido.Backend(name, load=True)
    except (ImportError, AttributeError, ValueError) as exc:
        raise MidiError(f"cannot load the MIDI backend {name!r} ({exc}); "
                        f"unset MIDO_BACKEND or set it to {DEFAULT_BACKEND!r}") from None


def _midi_call(what: str, func, *args, **kwargs):
    """Call into mido/rtmidi; turn its errors into one MidiError sentence."""
    try:
        with quiet_stderr(what):
            return func(*args, **kwargs)
    except (OSError, SystemError, RuntimeError, ValueError) as exc:
        if isinstance(exc, MidiError):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        _FAULTS.append(what)
        raise MidiError(f"could not {what} ({text}); check that the Magicstomp is connected "
                        "by USB and its MIDI driver is installed (under JACK: is jackd running?)"
                        ) from None


def list_ports() -> dict:
    """MIDI port names: ``{"inputs": [...], "outputs": [...]}``."""
    return _port_names(_backend())


def _port_names(backend) -> dict:
    """Both directions' port names; under JACK listed by a child with a deadline
    (:mod:`magicstomp.midi_probe`: a stalled JACK server can deadlock the listing)."""
    name = os.environ.get("MIDO_BACKEND", DEFAULT_BACKEND)
    if "JACK" in name.upper() and hasattr(os, "fork"):
        from .midi_probe import port_names_within
        try:
            return port_names_within(name, quiet=not logging.getLogger("magicstomp")
                                     .isEnabledFor(logging.DEBUG))
        except MidiError:
            _FAULTS.append("list MIDI ports")
            raise
    return {"inputs": list(_midi_call("list MIDI input ports", backend.get_input_names)),
            "outputs": list(_midi_call("list MIDI output ports", backend.get_output_names))}


def resolve_port(name, available, kind: str) -> str:
    """The port called ``name``, or the only one containing it (case-insensitive).

    Parameters
    ----------
    name : str or None
        exact name or substring; None tries :data:`DEFAULT_PORT_HINTS`.
    available : list of str
        port names to choose from.
    kind : str
        "input" or "output", for the message.

    Raises
    ------
    MidiError
        no match (listing what exists) or several (listing the candidates).
    """
    available = list(available)
    if not available:
        raise MidiError(f"no MIDI {kind} ports at all; connect the Magicstomp by USB "
                        "(list ports with: magicstomp ports)")
    if name is None:
        for hint in DEFAULT_PORT_HINTS:
            found = [p for p in available if hint in p.lower()]
            if len(found) == 1:
                return found[0]
        raise MidiError(f"no MIDI {kind} port looks like a Magicstomp; available: "
                        f"{', '.join(available)}; choose one with --port")
    if name in available:
        return name
    found = [p for p in available if name.lower() in p.lower()]
    if len(found) == 1:
        return found[0]
    if found:
        raise MidiError(f"MIDI {kind} port {name!r} is ambiguous; it matches "
                        f"{', '.join(found)}; give more of the name")
    raise MidiError(f"no MIDI {kind} port matches {name!r}; available: {', '.join(available)}")


def _to_bytes(msg) -> bytes:
    return bytes([0xF0, *msg.data, 0xF7])


class MagicstompMidi:
    """A connection to the unit: one MIDI output (to the unit) and one input (from it).

    Parameters
    ----------
    port : str, optional
        name or substring of the unit's port; None looks for a Magicstomp.
    in_port : str, optional
        the port to listen to, when its name differs from ``port``.

    Examples
    --------
    >>> with MagicstompMidi("Magicstomp") as unit:          # doctest: +SKIP
    ...     unit.send_patch(Patch.init("Mono Delay"))
    """

    def __init__(self, port: str | None = None, *, in_port: str | None = None):
        self.port, self.in_port = port, in_port
        self._out = self._in = None

    # -- opening -------------------------------------------------------------------
    def open(self, port: str | None = None, in_port: str | None = None) -> "MagicstompMidi":
        """Resolve and open both ports (before opening either); returns self."""
        if port is not None:
            self.port = port
        if in_port is not None:
            self.in_port = in_port
        if self.is_open:
            return self
        backend = _backend()
        names = _port_names(backend)
        outputs, inputs = names["outputs"], names["inputs"]
        out_name = resolve_port(self.port, outputs, "output")
        in_name = self._resolve_input(out_name, inputs)
        self._out = _midi_call(f"open MIDI output {out_name!r}", backend.open_output, out_name)
        try:
            self._in = _midi_call(f"open MIDI input {in_name!r}", backend.open_input, in_name)
        except MidiError:
            self.abandon()        # its server may be stalled: a close would block
            raise
        route_jack_messages()        # rtmidi's libjack: its thread chatter to the DEBUG log
        time.sleep(SETTLE_S)
        log.debug("MIDI open: out %s, in %s", out_name, in_name)
        return self

    def _resolve_input(self, out_name: str, inputs) -> str:
        """--in-port, else --port, else the client part of the output's name
        ("Magicstomp:midi_in" -> "Magicstomp", which finds "Magicstomp-out:midi_out")."""
        if self.in_port is not None:
            return resolve_port(self.in_port, inputs, "input")
        try:
            return resolve_port(self.port, inputs, "input")
        except MidiError:
            client = out_name.split(":")[0]
            if self.port is None or client == out_name:
                raise
            return resolve_port(client, inputs, "input")

    @property
    def is_open(self) -> bool:
        return self._out is not None and self._in is not None

    def close(self) -> None:
        for port in (self._in, self._out):
            if port is not None:
                close_within(port.close, "closing a MIDI port")
        self._in = self._out = None

    def abandon(self) -> None:
        """Let go of the ports without closing them (kept referenced until the process ends):
        after a JACK server stalled, rtmidi's close blocks, holding the GIL, for a minute."""
        _ABANDONED.extend(p for p in (self._in, self._out) if p is not None)
        self._in = self._out = None

    def __enter__(self) -> "MagicstompMidi":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _require_open(self) -> None:
        if not self.is_open:
            raise MidiError("the MIDI connection is not open; use `with MagicstompMidi(...)` "
                            "or call open() first")

    # -- sending -------------------------------------------------------------------
    def send_raw(self, messages, *, pacing_ms: float = PACING_MS, progress=None) -> None:
        """Send complete SysEx messages (``F0 ... F7``), ``pacing_ms`` apart
        (``progress(sent, total)`` after each)."""
        import mido

        self._require_open()
        messages = list(messages)
        for i, msg in enumerate(messages):
            if i and pacing_ms > 0:
                time.sleep(pacing_ms / 1000.0)
            _midi_call("send SysEx", self._out.send, mido.Message("sysex", data=bytes(msg)[1:-1]))
            if progress is not None:
                progress(i + 1, len(messages))

    def send_patch(self, patch: Patch, *, pacing_ms: float = PACING_MS) -> None:
        """Load ``patch`` into the edit buffer (audible at once, not stored)."""
        self.send_raw(patch_messages(patch), pacing_ms=pacing_ms)

    def send_bank(self, payloads_or_patches, *, pacing_ms: float = PACING_MS) -> None:
        """Write all 99 user patches in one bulk-all bracket (e.g. to restore a backup)."""
        self.send_raw(bank_messages(payloads_or_patches), pacing_ms=pacing_ms)

    def send_parameter(self, patch: Patch, key: str) -> None:
        """Send one live parameter change: ``key``'s value in ``patch``."""
        self.send_raw([parameter_change_for(patch, key)])

    # -- receiving -----------------------------------------------------------------
    def _drain(self) -> None:
        while self._in.poll() is not None:
            pass

    def request_slot_payload(self, slot: int, *, timeout_s: float = 2.0,
                             retries: int = 1) -> bytes:
        """The raw 159-byte payload of user patch ``slot`` (see :meth:`request_slot`).

        A corrupt answer (bad checksum, broken framing) is requested again up to
        ``retries`` times, after the line has gone quiet; silence is not retried.
        """
        check_slot(slot)
        self._require_open()
        for attempt in range(retries + 1):
            try:
                return self._request_once(slot, timeout_s=timeout_s)
            except SysexError as exc:
                if attempt == retries:
                    raise _prefixed(exc, f"dump of slot {slot}: ") from None
                log.warning("dump of slot %d: %s; asking again", slot, exc)
                self._wait_quiet()
        raise AssertionError("unreachable")   # the loop returns or raises

    def _wait_quiet(self, *, quiet_s: float = 0.15, max_s: float = 2.0) -> None:
        """Discard input until nothing has arrived for ``quiet_s`` (at most ``max_s``)."""
        end, last = time.monotonic() + max_s, time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet_s:
            if self._in.poll() is not None:
                last = time.monotonic()
            else:
                time.sleep(POLL_S)

    def request_edit_payload(self, *, timeout_s: float = 1.0) -> bytes:
        """The raw payload of the edit buffer (request ``30 03 00``; SYSEX.md 4.3 lists it as
        untested on the real unit, which may stay silent: MidiTimeoutError)."""
        self._require_open()
        try:
            return self._request_once(None, timeout_s=timeout_s)
        except SysexError as exc:
            raise _prefixed(exc, "dump of the edit buffer: ") from None

    def _request_once(self, slot: int | None, *, timeout_s: float) -> bytes:
        """One dump request of user ``slot`` (None: the edit buffer) and its answer."""
        self._drain()
        self.send_raw([dump_request(slot) if slot is not None else edit_dump_request()])
        target = "slot" if slot is not None else "edit"
        what = f"slot {slot}" if slot is not None else "the edit buffer"
        assembler = PatchAssembler()
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self._in.poll()
            if msg is None:
                if time.monotonic() > deadline:
                    raise MidiTimeoutError(
                        f"the unit did not answer the dump request for {what} within "
                        f"{timeout_s:g} s; check the MIDI cable/USB and the port names "
                        "(magicstomp ports), or raise --timeout-s")
                time.sleep(POLL_S)
                continue
            if msg.type != "sysex" or len(msg.data) < 3 or msg.data[2] != FAMILY_BULK:
                continue      # clocks, active sensing, echoes of our own requests
            deadline = time.monotonic() + timeout_s   # the unit is talking: silence timeout
            for item in assembler.feed(_to_bytes(msg)):
                if item.target == target and item.slot == slot:
                    return item.payload
                log.debug("ignoring an unrequested patch (%s %s)", item.target, item.slot)

    def request_slot(self, slot: int, *, timeout_s: float = 2.0, retries: int = 1) -> Patch:
        """Dump user patch ``slot`` (1..99) from the unit.

        Raises
        ------
        MidiTimeoutError
            when the unit stays silent for ``timeout_s``.
        ChecksumError, SysexError
            for an answer still corrupt after one retry; PatchFormatError for
            bytes outside the table.
        """
        return Patch.from_payload(self.request_slot_payload(slot, timeout_s=timeout_s,
                                                            retries=retries))

    def request_all_payloads(self, *, timeout_s: float = 2.0, progress=None) -> list:
        """The 99 raw payloads, one request after the other (``progress(slot)`` after each)."""
        out = []
        for slot in range(1, SLOT_COUNT + 1):
            out.append(self.request_slot_payload(slot, timeout_s=timeout_s))
            if progress is not None:
                progress(slot)
        return out

    def request_all(self, *, timeout_s: float = 2.0, progress=None) -> list:
        """All 99 user patches, in slot order."""
        return [Patch.from_payload(p)
                for p in self.request_all_payloads(timeout_s=timeout_s, progress=progress)]

    # -- storing ---------------------------------------------------------------------
    def store_to_slot(self, patch: Patch, slot: int, *, backup_dir, dry_run_path=None,
                      timeout_s: float = 2.0, pacing_ms: float = PACING_MS,
                      progress=None, on_backup=None) -> Path:
        """Store ``patch`` in user ``slot`` after backing up all 99 patches; read all back.

        See :func:`magicstomp.midi_store.store_to_slot` (``progress(stage, done, total)``).
        With ``dry_run_path`` the bank is read and backed up, the bytes that would be
        sent go to that file, and nothing is sent.

        Returns
        -------
        Path
            the backup file.

        Raises
        ------
        magicstomp.midi_store.SlotWriteError
            when the written bank does not read back identical (names the backup).
        """
        check_slot(slot)
        if dry_run_path is None:
            return midi_store.store_to_slot(self, patch, slot, backup_dir=backup_dir,
                                            timeout_s=timeout_s, pacing_ms=pacing_ms,
                                            progress=progress, on_backup=on_backup)
        from .files import write_bank_syx
        payloads = self.request_all_payloads(timeout_s=timeout_s)
        backup = backup_path(backup_dir)
        write_bank_syx(backup, payloads)
        messages = midi_store.bank_with_slot(payloads, patch, slot)
        atomic_write_bytes(dry_run_path, b"".join(messages))
        log.info("dry run: wrote the %d messages to %s instead of sending them",
                 len(messages), dry_run_path)
        return backup

    def restore_bank(self, payloads, *, source, timeout_s: float = 2.0,
                     pacing_ms: float = PACING_MS, progress=None) -> None:
        """Write a whole bank and read all 99 slots back (SlotWriteError on any difference)."""
        midi_store.restore_bank(self, payloads, source=source, timeout_s=timeout_s,
                                pacing_ms=pacing_ms, progress=progress)


def _prefixed(exc: Exception, prefix: str) -> Exception:
    """The same error (class and attributes) with ``prefix`` before its message."""
    new = exc.__class__.__new__(exc.__class__)
    new.__dict__.update(exc.__dict__)
    new.args = (f"{prefix}{exc}",)
    return new
