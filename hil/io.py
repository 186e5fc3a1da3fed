"""Sound-card I/O for the hardware path (sounddevice / PortAudio, imported lazily).

    list_devices(refresh=False)        -> [DeviceInfo]  (index, name, host API, channels, rate)
    resolve_device(ref, kind)          -> DeviceInfo    (index or name substring; clear errors)
    check_channels(ch, kind)           -> (1-based channel, ...)
    check_stream(in_dev, out_dev, ...) -> None, or DeviceError naming what the device refuses
    playrec(stimulus, ...)             -> the recorded return, mono float64, same length
    check_return_alive(rec, stimulus, ...) -> DeviceError when the return went dead mid-take
    list_midi_ports()                  -> {"inputs": [...], "outputs": [...]}

These are the library calls behind ``auto_match_hil --list-devices`` (devices
and MIDI ports) and the device options of ``--calibrate`` (``--in-device``,
``--out-device``, ``--in-ch``, ``--out-ch``). Importing this module opens no
device and needs no PortAudio library.

The signal sent is never rescaled here: :func:`playrec` refuses a stimulus
peaking above -1 dBFS instead.

Faults: PortAudio calls run inside :func:`magicstomp.quiet.quiet_stderr` (no
library chatter before the one-line error). A stream that fails, does not finish
or whose device vanished is a *fault* (:func:`audio_fault_seen`); how streams are
closed, or left open, after one is :mod:`hil.stream_safety`.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass

import numpy as np

from magicstomp.errors import DeviceError
from magicstomp.quiet import quiet_stderr

from .stream_safety import (_FAULT, _LEFT_OPEN, _closing, _skip_terminate_if_wedged,  # noqa: F401
                            audio_fault_seen, audio_stalled, close_stream, mark_fault,
                            release_audio)

log = logging.getLogger(__name__)

MAX_SEND_PEAK = 10 ** (-1.0 / 20)   # -1 dBFS
ON_DROPOUT_ENV = "MAGICSTOMP_HIL_ON_DROPOUT"
#: a return that stays digitally silent this long while the DI plays is a dead connection
DEAD_RETURN_MS = 100.0
_ACTIVE_LEVEL = 1e-4                # -80 dBFS: the send counts as playing above this


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device as the toolkit reports it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.index}: {self.name} [{self.hostapi}] "
                f"({self.max_input_channels} in, {self.max_output_channels} out, "
                f"{self.default_samplerate_hz:g} Hz)")


def _sd():
    import sys
    first = "sounddevice" not in sys.modules
    try:
        with quiet_stderr("loading PortAudio"):
            import sounddevice
    except OSError as exc:   # PortAudio missing
        raise DeviceError(f"sounddevice cannot load PortAudio ({exc}); install it "
                          "(Debian/Ubuntu: apt-get install libportaudio2)") from None
    if first:   # registered after sounddevice's own handler, so it runs before it
        import atexit
        atexit.register(_skip_terminate_if_wedged)
    return sounddevice


def refresh_devices() -> None:
    """Re-initialise PortAudio so devices that appeared after start-up are listed
    (PortAudio scans only at initialisation; JACK clients come and go). Skipped once
    a stream has failed in this process (see the module notes)."""
    sd = _sd()
    if _closing(wait_s=2.0) or (_LEFT_OPEN and _FAULT["server_gone"]):
        log.debug("not re-scanning audio devices: a stream is still closing or left open")
        return
    with quiet_stderr("re-scanning audio devices"):
        sd._terminate()   # private API of sounddevice, stable since 0.3
        sd._initialize()


def list_devices(*, refresh: bool = False) -> list[DeviceInfo]:
    """All audio devices PortAudio sees (every JACK client with audio ports is one)."""
    sd = _sd()
    if refresh:
        refresh_devices()
    with quiet_stderr("listing audio devices"):
        hostapis, devices = sd.query_hostapis(), sd.query_devices()
    return [DeviceInfo(index=int(d["index"]), name=str(d["name"]),
                       hostapi=str(hostapis[d["hostapi"]]["name"]),
                       max_input_channels=int(d["max_input_channels"]),
                       max_output_channels=int(d["max_output_channels"]),
                       default_samplerate_hz=float(d["default_samplerate"]))
            for d in devices]


def _channels_of(dev: DeviceInfo, kind: str) -> int:
    return dev.max_input_channels if kind == "input" else dev.max_output_channels


def _find(ref, kind: str, devices: list[DeviceInfo]) -> DeviceInfo | None:
    usable = [d for d in devices if _channels_of(d, kind) > 0]
    if isinstance(ref, (int, np.integer)) or (isinstance(ref, str) and ref.strip().isdigit()):
        index = int(ref)
        found = [d for d in devices if d.index == index]
        if found and _channels_of(found[0], kind) == 0:
            raise DeviceError(f"audio device {found[0]} has no {kind} channels; choose one of: "
                              + "; ".join(map(str, usable)))
        return found[0] if found else None
    text = str(ref).strip().lower()
    exact = [d for d in usable if d.name.lower() == text]
    if len(exact) == 1:
        return exact[0]
    matches = [d for d in usable if text in d.name.lower()]
    if len(matches) > 1:
        raise DeviceError(f"{kind} device {ref!r} is ambiguous: it matches "
                          + "; ".join(map(str, matches))
                          + "; give more of the name or the index")
    return matches[0] if matches else None


def resolve_device(ref, kind: str) -> DeviceInfo:
    """The ``kind`` ("input" or "output") device named by ``ref``.

    ``ref`` is an index (int or digit string) or a case-insensitive substring of
    the name; an exact name wins over substrings. Devices are re-scanned once
    when ``ref`` is not found (JACK clients may have appeared since start-up).

    Raises
    ------
    DeviceError
        unknown (listing what exists), ambiguous (listing the matches) or a
        device without ``kind`` channels.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind={kind!r}; expected 'input' or 'output'")
    if isinstance(ref, DeviceInfo):
        return ref
    if ref is None or (isinstance(ref, str) and not ref.strip()):
        usable = [d for d in list_devices() if _channels_of(d, kind) > 0]
        raise DeviceError(f"no {kind} audio device given; choose one of: "
                          + ("; ".join(map(str, usable)) or "none found")
                          + f" (--{'in' if kind == 'input' else 'out'}-device)")
    found = _find(ref, kind, list_devices())
    if found is None:
        found = _find(ref, kind, list_devices(refresh=True))
    if found is None:
        usable = [d for d in list_devices() if _channels_of(d, kind) > 0]
        listing = "; ".join(map(str, usable)) or "none (is the interface connected and powered?)"
        raise DeviceError(f"no {kind} audio device matches {ref!r}; {kind} devices: {listing} "
                          "(auto_match_hil --list-devices shows them all)")
    return found


def check_channels(channels, kind: str) -> tuple[int, ...]:
    """Validate 1-based channel number(s) (an int, a sequence or "1,2") and return a tuple."""
    if isinstance(channels, str):      # "2" or "1,2" from a command line
        parts = [c.strip() for c in channels.split(",")]
        values = [int(c) if c.isdigit() else c for c in parts]
    elif isinstance(channels, (int, np.integer)):
        values = [channels]
    else:
        values = list(channels) if isinstance(channels, (list, tuple)) else [channels]
    if not values or any(not isinstance(c, (int, np.integer)) or isinstance(c, bool) or c < 1
                         for c in values):
        raise DeviceError(f"{kind} channel(s) {channels!r} must be whole numbers counted from 1 "
                          f"(--{'in' if kind == 'input' else 'out'}-ch 1 is the first channel)")
    if len(set(values)) != len(values):
        raise DeviceError(f"{kind} channels {channels!r} repeat a channel; list each once")
    return tuple(int(c) for c in values)


def check_stream(in_device: DeviceInfo, out_device: DeviceInfo, *, in_channels, out_channels,
                 sample_rate: int) -> None:
    """Raise :class:`DeviceError` unless both devices take these channels at ``sample_rate``."""
    sd = _sd()
    for dev, chans, kind in ((in_device, in_channels, "input"), (out_device, out_channels, "output")):
        have = _channels_of(dev, kind)
        if max(chans) > have:
            raise DeviceError(f"{kind} channel {max(chans)} does not exist on {dev.name!r}, "
                              f"which has {have} {kind} channel(s); choose 1..{have}")
        check = sd.check_input_settings if kind == "input" else sd.check_output_settings
        try:
            with quiet_stderr("checking the stream settings"):
                check(device=dev.index, channels=max(chans), samplerate=sample_rate,
                      dtype="float32")
        except sd.PortAudioError as exc:
            raise DeviceError(
                f"{kind} device {dev.name!r} refuses {sample_rate} Hz with {max(chans)} channel(s) "
                f"({exc}); its default rate is {dev.default_samplerate_hz:g} Hz: use that rate "
                "or set the interface (or JACK server) to the rate you need") from None


def playrec(stimulus, *, in_device: DeviceInfo, out_device: DeviceInfo, in_channels=(1,),
            out_channels=(1,), sample_rate: int, timeout_s: float = 5.0, retries: int = 2,
            on_dropout: str | None = None, blocksize: int = 0,
            server_alive=None) -> np.ndarray:
    """Play mono ``stimulus`` on ``out_channels`` and record ``in_channels`` at the same time.

    Several input channels are averaged (mono fold). Under-/overruns are
    detected from the stream status; with ``on_dropout="retry"`` the take is
    repeated up to ``retries`` times, then :class:`DeviceError` reports them;
    ``on_dropout="warn"`` logs them and keeps the take (right for a JACK dummy
    server in synchronous mode, whose "xruns" are a late timer, not lost data).
    None reads the environment variable ``MAGICSTOMP_HIL_ON_DROPOUT`` (default "retry"). A stream that has not finished
    ``timeout_s`` after the stimulus' duration is aborted with a DeviceError.
    ``server_alive()`` (optional) is asked before a finished stream is closed: a
    stream whose JACK server is gone, or that did not finish, is left open rather
    than closed (closing it makes PortAudio's pa_jack.c fail an assertion and abort
    the process).

    Returns
    -------
    numpy.ndarray
        float64, ``len(stimulus)`` samples, sample k recorded while sample k was sent
        (so the chain's latency shows as a lag).
    """
    x = np.asarray(stimulus, dtype=np.float64).reshape(-1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > MAX_SEND_PEAK + 1e-9:
        raise DeviceError(f"the signal to send peaks at {20 * np.log10(peak):.2f} dBFS; the limit is "
                          "-1.0 dBFS; lower it by a fixed gain (never by the return level)")
    on_dropout = dropout_policy(on_dropout)
    problems = []
    for attempt in range(int(retries) + 1):
        rec, flags = _one_take(x, in_device=in_device, out_device=out_device,
                               in_channels=tuple(in_channels), out_channels=tuple(out_channels),
                               sample_rate=int(sample_rate), timeout_s=float(timeout_s),
                               blocksize=blocksize, server_alive=server_alive)
        if not flags:
            return rec
        if on_dropout == "warn":
            log.warning("the take had dropouts (%s); kept it (on_dropout='warn')",
                        ", ".join(sorted(flags)))
            return rec
        problems.append(", ".join(sorted(flags)))
        log.warning("take %d: %s; taking it again", attempt + 1, problems[-1])
    raise DeviceError(f"every one of {len(problems)} takes had dropouts ({'; '.join(problems)}); "
                      "close other audio programs, use a larger buffer (blocksize) or a "
                      "lower sample rate")


def dropout_policy(on_dropout: str | None = None) -> str:
    """``on_dropout``, or ``$MAGICSTOMP_HIL_ON_DROPOUT``, or "retry"; checked."""
    value = on_dropout or os.environ.get(ON_DROPOUT_ENV) or "retry"
    if value not in ("retry", "warn"):
        raise DeviceError(f"on_dropout={value!r} (argument or ${ON_DROPOUT_ENV}); expected "
                          "'retry' (real hardware) or 'warn' (a JACK dummy server)")
    return value


def _one_take(x, *, in_device, out_device, in_channels, out_channels, sample_rate, timeout_s,
              blocksize, server_alive=None):
    sd = _sd()
    total = len(x)
    rec = np.zeros(total)
    stim = x.astype(np.float32)
    in_idx = [c - 1 for c in in_channels]
    out_idx = [c - 1 for c in out_channels]
    state = {"pos": 0, "flags": set()}
    done = threading.Event()

    def callback(indata, outdata, frames, time_info, status):
        if status:
            for flag in ("input_underflow", "input_overflow", "output_underflow",
                         "output_overflow"):
                if getattr(status, flag):
                    state["flags"].add(flag.replace("_", " "))
        pos = state["pos"]
        n = min(frames, total - pos)
        outdata.fill(0)
        if n > 0:
            outdata[:n, out_idx] = stim[pos:pos + n, None]
            rec[pos:pos + n] = indata[:n, in_idx].mean(axis=1)
        state["pos"] = pos + n
        if state["pos"] >= total:
            raise sd.CallbackStop

    if _closing(wait_s=2.0):
        raise DeviceError(f"the audio library is still closing a stream of a device that "
                          f"failed ({_FAULT['reason']}); start the run again")
    try:
        with quiet_stderr("opening the audio stream"):
            stream = sd.Stream(samplerate=sample_rate, blocksize=blocksize,
                               device=(in_device.index, out_device.index),
                               channels=(max(in_channels), max(out_channels)), dtype="float32",
                               callback=callback, finished_callback=done.set)
    except sd.PortAudioError as exc:
        mark_fault(f"opening the stream failed: {exc}")
        raise DeviceError(_vanished_message(in_device, out_device, "open", exc)) from None
    try:
        try:
            with quiet_stderr("starting the audio stream"):
                stream.start()
        except sd.PortAudioError as exc:
            mark_fault(f"starting the stream failed: {exc}")
            raise DeviceError(_vanished_message(in_device, out_device, "start", exc)) from None
        if not done.wait(total / sample_rate + timeout_s):
            mark_fault("a take did not finish")
            names = " -> ".join(dict.fromkeys(repr(d.name) for d in (out_device, in_device)))
            raise DeviceError(
                f"the audio device {names} stopped in the middle of a take: it did not finish "
                f"within {timeout_s:g} s after its {total / sample_rate:.2f} s duration (recorded "
                f"{state['pos']} of {total} samples); it was unplugged, or the unit's JACK client "
                "or the JACK server died: check the interface and try again")
    finally:
        close_stream(stream, finished=done.is_set(), server_alive=server_alive)
    return rec, state["flags"]


def _vanished_message(in_device: DeviceInfo, out_device: DeviceInfo, action: str,
                      exc: Exception) -> str:
    """One sentence for a stream PortAudio could not open or start: a device that was
    there when the run began has vanished (PortAudio's own text, e.g. "Insufficient
    memory", says nothing useful then)."""
    names = " and ".join(dict.fromkeys(repr(d.name) for d in (in_device, out_device)))
    return (f"the audio device {names} vanished or stopped answering (PortAudio could not "
            f"{action} the stream: {' '.join(str(exc).split())}): it was unplugged or switched "
            "off, or the unit's JACK client or the JACK server stopped; reconnect it and run "
            "again (auto_match_hil --list-devices shows what is there)")


def check_return_alive(rec: np.ndarray, stimulus: np.ndarray, *, latency_samples: int,
                       sample_rate: int, dead_ms: float = DEAD_RETURN_MS) -> None:
    """Raise :class:`DeviceError` when the return is digital silence (exact zeros) from some
    point to the end while the send was still playing for at least ``dead_ms``.

    A live analogue return always carries noise; exact zeros mean the connection
    (or the unit's audio client) went away mid-take.
    """
    rec = np.asarray(rec)
    nonzero = np.flatnonzero(rec)
    dead_from = int(nonzero[-1]) + 1 if nonzero.size else 0
    start = max(0, dead_from - int(latency_samples))
    active = np.count_nonzero(np.abs(np.asarray(stimulus)[start:len(rec) - int(latency_samples)])
                              > _ACTIVE_LEVEL)
    if active >= dead_ms * 1e-3 * sample_rate:
        what = ("the return was digital silence for the whole take" if dead_from == 0 else
                f"the return went digitally silent {dead_from / sample_rate:.2f} s into the take")
        raise DeviceError(f"{what} while the DI was still playing; the unit or its connection "
                          "dropped out: check the cables, the input channel (--in-ch) and that "
                          "the unit is powered, then calibrate again")


def list_midi_ports() -> dict:
    """MIDI input and output port names (``magicstomp.midi.list_ports``; MIDO_BACKEND applies at call time)."""
    from magicstomp.midi import list_ports

    return list_ports()
