"""The rig seam: ``Rig.render(patch, di) -> take``, one take per candidate patch.

    Rig           template: validates the DI, counts takes, context management;
                  subclasses implement ``_render`` (and ``_close``)
    VirtualRig    the emulator (magicstomp.emulator), optionally through an
                  imitated re-amp chain (hil.imperfections.Imperfections)
    HardwareRig   the real path: patch to the edit buffer over MIDI, confirm it
                  (read back), settle, play the DI and record the return
                  (hil.io.playrec), compensate the calibrated latency and
                  polarity, trim to the DI

Every take is mono float64, aligned to the DI sample for sample, exactly as long
as the DI, at the level the unit returns it: the rig never rescales the DI by
the return level (that would change how hard the unit is driven) and never
normalises the take. Level matching belongs to the loss.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from magicstomp.errors import (AudioInputError, CalibrationError, DeviceError, MagicstompError,
                               MidiError, MidiTimeoutError, SysexError)

from .imperfections import Imperfections

log = logging.getLogger(__name__)

#: The loudest sample a rig sends to a sound card, in dBFS.
MAX_SEND_PEAK_DBFS = -1.0


def peak_dbfs(x: np.ndarray) -> float:
    """Peak level of ``x`` in dBFS (-inf for digital silence)."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def check_di(di, *, max_peak_dbfs: float | None = None) -> np.ndarray:
    """Return ``di`` as a 1-D float64 array, or raise :class:`AudioInputError`.

    ``max_peak_dbfs`` (e.g. -1) refuses a DI that would peak above the send limit.
    """
    x = np.asarray(di, dtype=np.float64)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1 or x.size == 0:
        raise AudioInputError(
            f"the DI has shape {np.shape(di)}; expected a non-empty mono signal (n,) "
            "(fold stereo to mono first)")
    if not np.all(np.isfinite(x)):
        raise AudioInputError("the DI contains NaN or infinite samples; expected finite audio "
                              "(check the file or the processing before the rig)")
    if max_peak_dbfs is not None:
        level = peak_dbfs(x)
        if level > max_peak_dbfs + 1e-9:
            raise AudioInputError(
                f"the DI peaks at {level:.2f} dBFS; a rig sends at most {max_peak_dbfs:.1f} dBFS "
                f"to the sound card; lower the DI once, by a fixed gain, before matching "
                f"(e.g. multiply by {10 ** ((max_peak_dbfs - level) / 20):.4f})")
    return x


class Rig:
    """Render a patch with a DI through some unit: the template every rig follows.

    Subclasses implement ``_render(patch, di) -> take`` (``di`` already checked,
    1-D float64) and optionally ``_close()``. Use a rig as a context manager, or
    call :meth:`close`.

    Attributes
    ----------
    sample_rate : int
        Rate of the DI and the takes, in Hz.
    takes : int
        Number of takes rendered so far.
    """

    #: refuse a DI above this peak (None: no limit; hardware rigs set -1 dBFS)
    max_send_peak_dbfs: float | None = None

    def __init__(self, sample_rate: int):
        if int(sample_rate) <= 0:
            raise DeviceError(f"sample_rate={sample_rate} must be a positive rate in Hz (e.g. 48000)")
        self.sample_rate = int(sample_rate)
        self.takes = 0
        self.closed = False

    def render(self, patch, di) -> np.ndarray:
        """One take of ``patch`` with ``di``: mono float64, aligned to ``di``, same length.

        Parameters
        ----------
        patch : magicstomp.patch.Patch
            The patch the unit plays.
        di : array_like
            Mono DI at ``self.sample_rate``.

        Returns
        -------
        numpy.ndarray
            The take, at the level the unit returns it.
        """
        if self.closed:
            raise DeviceError(f"this {type(self).__name__} is closed; create a new rig to render")
        x = check_di(di, max_peak_dbfs=self.max_send_peak_dbfs)
        take = np.asarray(self._render(patch, x), dtype=np.float64)
        if take.shape != x.shape:   # a subclass bug, not a user error
            raise RuntimeError(f"{type(self).__name__} returned shape {take.shape} for a DI "
                               f"of shape {x.shape}")
        self.takes += 1
        return take

    def _render(self, patch, di: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release devices and ports (idempotent)."""
        if not self.closed:
            self.closed = True
            self._close()

    def _close(self) -> None:
        """Subclass hook: release resources."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def describe(self) -> dict:
        """Plain-JSON description for session reports."""
        return {"rig": type(self).__name__, "sample_rate": self.sample_rate, "takes": self.takes}


class VirtualRig(Rig):
    """The virtual Magicstomp (``magicstomp.emulator``) as a rig.

    Without imperfections a take is ``to_mono(render(patch, di))``: deterministic,
    exact. With :class:`Imperfections` the take goes through an imitated re-amp
    chain (latency with jitter, noise, gain and its wobble, colouring, polarity);
    like :class:`HardwareRig` after calibration, the rig then compensates the
    *nominal* latency and the polarity, so only the jitter, noise, gain and
    colouring remain.

    Parameters
    ----------
    sample_rate : int
        44100, 48000 or 96000 Hz (the emulator's rates).
    imperfections : Imperfections, optional
        The chain to imitate; None for an ideal one.
    seed : int
        Seed of the random draws (jitter, wobble, noise), take after take.
    variant : UnitVariant, int or path, optional
        The unit played through: a :class:`magicstomp.emulator.UnitVariant`, a seed
        or a variant JSON file (None = the nominal model), so a search whose model is
        the nominal emulator plays through a different unit, as on hardware.
    """

    def __init__(self, sample_rate: int = 44100, *, imperfections: Imperfections | None = None,
                 seed: int = 0, variant=None):
        from magicstomp.emulator.variants import UnitVariant
        super().__init__(sample_rate)
        self.imperfections = imperfections
        self.seed = seed
        self.variant = UnitVariant.load(variant)
        self._rng = np.random.default_rng(seed)

    def _render(self, patch, di: np.ndarray) -> np.ndarray:
        from magicstomp.emulator import render, to_mono
        take = to_mono(render(patch, di, self.sample_rate, variant=self.variant))
        imp = self.imperfections
        if imp is None:
            return take
        extra = imp.latency_samples + imp.latency_jitter_samples
        chain = imp.apply(take, self.sample_rate, self._rng, extra_samples=extra)
        take = chain[imp.latency_samples:imp.latency_samples + len(di)]
        return -take if imp.polarity_inverted else take

    def describe(self) -> dict:
        d = super().describe()
        d.update(seed=self.seed,
                 imperfections=self.imperfections.to_dict() if self.imperfections else None,
                 variant=self.variant.to_dict() if self.variant else None)
        return d


class PatchNotConfirmedError(MidiError):
    """The unit did not confirm that it holds the patch a take is for (MIDI link lost)."""


class HardwareRig(Rig):
    """A real (or JACK virtual) Magicstomp behind a sound card and a re-amp box.

    Each take: send the patch to the edit buffer (skipped when it equals the last
    one sent), confirm it (below), wait ``settle_ms``, play ``pre_roll_ms`` of silence + the DI +
    ``tail_ms`` (plus the latency) and record the return, then shift by the
    calibrated latency, flip the polarity if the calibration found it inverted,
    and trim to the DI. The DI is sent as given (peak <= -1 dBFS, checked),
    never scaled by the return level.

    Confirmation: before every take the edit buffer is read back (dump request
    ``30 03 00``) and compared byte for byte with the patch. A unit that never
    answers that request (the real unit may not: SYSEX.md 4.3) is confirmed by a
    round trip instead (a dump of user slot 1 answered after the patch: MIDI keeps
    order, so the patch reached the unit). The round trip runs inside the settle
    wait. An unconfirmed patch is sent again once; then
    :class:`PatchNotConfirmedError` stops the take.

    Parameters
    ----------
    in_device, out_device : int or str
        Sound-card devices (index or name substring; see :func:`hil.io.resolve_device`).
    in_ch : int or sequence of int
        1-based input channel(s) carrying the unit's return; several are averaged
        (the mono fold 0.5 * (L + R) of a stereo return, as the emulator's ``to_mono``).
    out_ch : int
        1-based output channel feeding the re-amp box.
    sample_rate : int
        Stream rate in Hz; must equal the calibration's.
    midi : magicstomp.midi.MagicstompMidi or str
        An open MIDI connection to the unit, or a port name to open (closed with the rig).
    calibration : hil.calibration.CalibrationRecord
        Latency and polarity of this chain (``hil.calibration.calibrate``).
    settle_ms, pre_roll_ms, tail_ms : float
        Wait after a patch change; silence before the DI; recording after it
        (beyond the latency).
    pacing_ms : float
        Gap between the SysEx messages of one patch.
    timeout_s : float, optional
        Give up on a take that has not finished this long after its nominal
        duration (default 5 s).
    retries : int
        Re-takes after an under-/overrun before giving up.
    on_dropout : {"retry", "warn"}, optional
        What an under-/overrun does (see :func:`hil.io.playrec`; default from
        ``$MAGICSTOMP_HIL_ON_DROPOUT``, else "retry").
    confirm_timeout_s : float
        How long to wait for the unit's answer when confirming a patch.
    """

    max_send_peak_dbfs = MAX_SEND_PEAK_DBFS

    def __init__(self, *, in_device, out_device, in_ch=1, out_ch: int = 1, sample_rate: int,
                 midi, calibration, settle_ms: float = 100.0, pre_roll_ms: float = 20.0,
                 tail_ms: float = 20.0, pacing_ms: float = 70.0, timeout_s: float = 5.0,
                 retries: int = 2, on_dropout: str | None = None,
                 confirm_timeout_s: float = 1.0):
        super().__init__(sample_rate)
        from . import io
        if calibration.sample_rate != self.sample_rate:
            raise DeviceError(
                f"the calibration was measured at {calibration.sample_rate} Hz but the rig runs at "
                f"{self.sample_rate} Hz; calibrate again at this rate (auto_match_hil --calibrate)")
        self.in_channels = io.check_channels(in_ch, "input")
        self.out_channels = io.check_channels(out_ch, "output")
        self.in_device = io.resolve_device(in_device, "input")
        self.out_device = io.resolve_device(out_device, "output")
        io.check_stream(self.in_device, self.out_device, in_channels=self.in_channels,
                        out_channels=self.out_channels, sample_rate=self.sample_rate)
        if calibration.in_device is not None and not calibration.matches(
                (self.in_device, self.out_device), self.sample_rate):
            raise CalibrationError(
                f"the calibration was measured with {calibration.in_device!r} -> "
                f"{calibration.out_device!r}, not {self.in_device.name!r} -> "
                f"{self.out_device.name!r}; calibrate this chain (auto_match_hil --calibrate)")
        self.calibration = calibration
        self.settle_ms, self.pacing_ms = float(settle_ms), float(pacing_ms)
        self.pre_roll_samples = int(round(pre_roll_ms * 1e-3 * self.sample_rate))
        self.tail_samples = int(round(tail_ms * 1e-3 * self.sample_rate))
        self.timeout_s, self.retries = float(timeout_s), int(retries)
        self.on_dropout = io.dropout_policy(on_dropout)
        self._owns_midi = isinstance(midi, str)
        self.midi = _open_midi(midi) if self._owns_midi else midi
        self._last_payload: bytes | None = None
        self.patch_sends = 0
        self.confirm_timeout_s = float(confirm_timeout_s)
        #: how takes are confirmed: None (not yet known), "readback" or "round trip"
        self.confirmation: str | None = None
        self.confirm_seconds = 0.0
        self.resends = 0
        self._problem = ""
        self._watch = _jack_watch(self.in_device, self.out_device)

    def send_patch(self, patch, *, force: bool = False, settle: bool = True) -> bool:
        """Put ``patch`` in the unit's edit buffer and wait ``settle_ms`` (unless not
        ``settle``); skip an identical patch unless ``force``. True when a patch was sent."""
        payload = patch.to_payload()
        if not force and payload == self._last_payload:
            return False
        self._last_payload = None          # unknown state if sending fails halfway
        self.midi.send_patch(patch, pacing_ms=self.pacing_ms)
        self._last_payload = payload
        self.patch_sends += 1
        if settle:
            time.sleep(self.settle_ms * 1e-3)
        return True

    def confirm_patch(self, patch) -> bool:
        """True when the unit confirms it holds ``patch`` (read back, or a round trip)."""
        started = time.perf_counter()
        try:
            return self._confirm(patch.to_payload())
        finally:
            self.confirm_seconds += time.perf_counter() - started

    def _confirm(self, payload: bytes) -> bool:
        if self.confirmation in (None, "readback"):
            try:
                ok = self.midi.request_edit_payload(timeout_s=self.confirm_timeout_s) == payload
                self.confirmation = "readback"
                self._problem = "its edit buffer read back different from the patch sent"
                return ok
            except (MidiTimeoutError, SysexError):
                self._problem = "it did not answer the read-back"
                if self.confirmation == "readback":
                    return False       # it answered before: silence now is a lost link
        try:                           # a unit that ignores the edit-buffer request
            self.midi.request_slot_payload(1, timeout_s=self.confirm_timeout_s, retries=0)
        except (MidiError, SysexError):
            self._problem = "it did not answer a dump request"
            return False
        if self.confirmation is None:
            log.info("the unit does not answer edit-buffer dump requests; each take is "
                     "confirmed by a MIDI round trip instead")
        self.confirmation = "round trip"
        return True

    def _send_confirmed(self, patch) -> None:
        """Send ``patch`` (if needed) and confirm it, within the settle wait; send and
        confirm once more on failure, then raise."""
        for attempt in range(2):
            sent = self.send_patch(patch, force=attempt > 0, settle=False)
            sent_at = time.monotonic()       # the settle wait starts after the last message
            if self.confirm_patch(patch):
                if sent:
                    time.sleep(max(0.0, self.settle_ms * 1e-3 - (time.monotonic() - sent_at)))
                return
            if attempt == 0:
                log.warning("the unit did not confirm the patch for this take (%s); sending it "
                            "again", self._problem)
                self.resends += 1
        self._last_payload = None
        raise PatchNotConfirmedError(
            f"the unit did not confirm the patch for the next take twice in a row "
            f"({self._problem}): the MIDI link to the unit is lost or the unit is off; check "
            "the MIDI/USB cable and the unit")

    def _render(self, patch, di: np.ndarray) -> np.ndarray:
        from . import io
        self._check_devices()
        try:
            self._send_confirmed(patch)
        except PatchNotConfirmedError:
            self._check_devices()       # the JACK server (MIDI and audio) may be what went
            raise
        latency = int(self.calibration.latency_samples)
        pre = self.pre_roll_samples
        stimulus = np.concatenate([np.zeros(pre), di, np.zeros(latency + self.tail_samples)])
        try:
            rec = io.playrec(stimulus, in_device=self.in_device, out_device=self.out_device,
                             in_channels=self.in_channels, out_channels=self.out_channels,
                             sample_rate=self.sample_rate, timeout_s=self.timeout_s,
                             retries=self.retries, on_dropout=self.on_dropout,
                             server_alive=self._server_alive if self._watch else None)
            io.check_return_alive(rec, stimulus, latency_samples=latency,
                                  sample_rate=self.sample_rate)
        except DeviceError:
            self._check_devices()       # a more precise sentence when a JACK client is gone
            raise
        take = rec[pre + latency:pre + latency + len(di)]
        return take * float(self.calibration.polarity)

    def _server_alive(self) -> bool:
        return self._watch.problem([]) is None

    def _check_devices(self) -> None:
        """DeviceError naming what vanished when the JACK server or the devices' JACK
        clients are gone (checked before each take; JACK devices only)."""
        problem = self._watch.problem([self.in_device.name, self.out_device.name]) \
            if self._watch is not None else None
        if problem is not None:
            from .io import mark_fault
            mark_fault(problem, server_gone=self._watch.server_gone)
            raise DeviceError(f"{problem}; reconnect it and run again")

    def _close(self) -> None:
        if self._watch is not None:
            problem = self._watch.problem([])
            if problem is not None:     # the server went away: PortAudio must not terminate
                from .io import mark_fault
                mark_fault(problem, server_gone=self._watch.server_gone)
            self._watch.close()
        if self._owns_midi and self.midi is not None:
            try:
                self.midi.close()
            except MagicstompError:   # closing a port that vanished
                log.debug("closing the MIDI port failed", exc_info=True)

    def describe(self) -> dict:
        d = super().describe()
        d.update(in_device=self.in_device.name, out_device=self.out_device.name,
                 in_ch=list(self.in_channels), out_ch=list(self.out_channels),
                 settle_ms=self.settle_ms, patch_sends=self.patch_sends,
                 patch_confirmation=self.confirmation, patch_resends=self.resends,
                 confirm_seconds=round(self.confirm_seconds, 4),
                 latency_samples=int(self.calibration.latency_samples),
                 polarity=int(self.calibration.polarity))
        return d


def _jack_watch(*devices):
    """A :class:`hil.jack_tools.JackWatch` when a device is a JACK client, else None."""
    from .jack_tools import JACK_HOSTAPI, JackWatch
    if not any(d.hostapi == JACK_HOSTAPI for d in devices):
        return None
    try:
        return JackWatch()
    except (DeviceError, ImportError):      # JACK-Client missing: takes are not pre-checked
        log.debug("no JACK watch client; devices are not checked before takes", exc_info=True)
        return None


def _open_midi(port: str):
    """Open the unit's MIDI connection by port name (magicstomp.midi)."""
    from magicstomp.midi import MagicstompMidi
    return MagicstompMidi(port).open()
