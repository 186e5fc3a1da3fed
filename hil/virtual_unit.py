"""The JACK virtual unit: a JACK client that behaves like a Magicstomp on a sound card.

Run it with ``python -m hil.virtual_unit [--name magicstomp] [--latency-samples N]
[--gain-db G] [--invert] [--noise-dbfs L] [--bank bank.syx] [--variant SEED|FILE]``
while a JACK server runs. Fault injection for drills: ``--cut-midi-after N`` (deaf and mute
on MIDI after N SysEx messages; SIGUSR1 cuts MIDI at once), ``--corrupt-slot-writes``
(written slots keep one wrong byte), ``--ignore-edit-requests`` (no answer to
the edit-buffer dump request, as a unit that does not implement it), and, for
the take after N SysEx messages, 0.1 s into its audio: ``--die-after N`` (the
process kills itself: a unit unplugged mid-take) or ``--vanish-after N`` (the
audio ports go away, MIDI stays: an audio interface unplugged mid-take). The client
has one audio input (``in``), two audio outputs (``out_1``, ``out_2``) and MIDI ports ``midi_in`` / ``midi_out``:

* sounddevice sees it as an audio device named after the client
  (``(2 in, 1 out)``: the unit's stereo return, its mono input);
* mido (``MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK``) sees ``NAME:midi_in``
  as an output port and ``NAME:midi_out`` as an input port, so
  ``magicstomp.midi.MagicstompMidi("NAME")`` talks to it.

SysEx is read and answered inside the JACK process callback (sample-accurate,
one thread); the behaviour is :class:`hil.unit_state.UnitState`. The client
prints ``ready NAME RATE PERIOD`` once active and stops on SIGTERM/SIGINT or
when the server goes away. ``python -m hil.virtual_unit --wait [--name NAME]``
(:func:`wait_until_ready`) returns once a unit started elsewhere is ready, so a
shell recipe can start it in the background and go on safely.
:class:`VirtualUnitProcess` starts it as a subprocess and waits for its ports
(used by the test fixtures and benchmarks).
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from magicstomp.errors import DeviceError

from .unit_state import UnitState

log = logging.getLogger("hil.virtual_unit")

PORTS = ("in", "out_1", "out_2", "midi_in", "midi_out")
DEFAULT_WAIT_S = 120.0      # a first run compiles the emulator (numba) during the warm-up


def run_unit(name: str = "magicstomp", *, latency_samples: int = 0, gain_db: float = 0.0,
             invert: bool = False, noise_dbfs: float | None = None, bank_path=None,
             seed: int = 0, warm_up: bool = True, variant=None,
             stop_event: threading.Event | None = None, cut_midi_after: int | None = None,
             corrupt_slot_writes: bool = False, ignore_edit_requests: bool = False,
             die_after: int | None = None, vanish_after: int | None = None) -> None:
    """Run the virtual unit as JACK client ``name`` until ``stop_event`` is set (or the server
    stops). ``warm_up`` loads every emulated type before the ports appear (several seconds)."""
    from magicstomp.emulator.variants import UnitVariant
    variant = UnitVariant.load(variant)          # a bad --variant fails before JACK is touched
    if variant is not None:
        log.info("playing unit %s", variant.describe())
    import jack

    try:
        client = jack.Client(name, no_start_server=True)
    except jack.JackError as exc:
        raise DeviceError(f"cannot connect to a JACK server as {name!r} ({exc}); start one first "
                          "(jackd --no-realtime -S -d dummy -r 48000 -p 256)") from None
    if client.name != name:
        client.close()
        raise DeviceError(f"a JACK client called {name!r} already exists; choose another --name")
    stop = stop_event or threading.Event()
    if warm_up:
        _warm_up(client.samplerate)     # before activation: the graph never waits for it
    state = UnitState(client.samplerate, latency_samples=latency_samples, gain_db=gain_db,
                      invert=invert, noise_dbfs=noise_dbfs, bank_path=bank_path, seed=seed,
                      variant=variant, cut_midi_after=cut_midi_after,
                      corrupt_slot_writes=corrupt_slot_writes,
                      ignore_edit_requests=ignore_edit_requests)
    if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda *a: state.cut_midi())
    audio_in = client.inports.register("in")
    outs = [client.outports.register("out_1"), client.outports.register("out_2")]
    midi_in = client.midi_inports.register("midi_in")
    midi_out = client.midi_outports.register("midi_out")
    replies: collections.deque = collections.deque()
    drill = _Drill(state, client.samplerate, die_after=die_after, vanish_after=vanish_after)

    @client.set_process_callback
    def process(frames):
        try:
            _midi_cycle(midi_in, midi_out, replies, state, jack)
            if drill.gone.is_set():          # the audio ports are (being) removed: MIDI only
                return
            if audio_in.number_of_connections == 0:
                state.idle()
            x = audio_in.get_array()
            y = state.process(x)
            outs[0].get_array()[:] = y[:, 0]
            outs[1].get_array()[:] = y[:, 1]
            drill.after_block(x)
        except Exception:                    # never let the callback die: log, output silence
            log.exception("virtual unit: error in the process callback")
            for port in outs:
                port.get_array().fill(0)

    client.set_shutdown_callback(lambda status, reason: stop.set())
    with client:
        print(f"ready {client.name} {client.samplerate} {client.blocksize}", flush=True)
        while not stop.wait(0.02):
            if drill.vanish_now.is_set() and not drill.gone.is_set():
                drill.gone.set()
                stop.wait(0.1)                  # let the callback see it
                for port in (audio_in, *outs):
                    port.unregister()
            if state.bank_dirty and not state._assembler.busy:
                state.save_bank()
        if state.bank_dirty:
            state.save_bank()


def _midi_cycle(midi_in, midi_out, replies, state, jack) -> None:
    """The MIDI half of a process cycle (after the audio ports were removed)."""
    midi_out.clear_buffer()
    for _offset, data in midi_in.incoming_midi_events():
        data = bytes(data)
        if data[:1] == b"\xf0":
            replies.extend(state.handle_sysex(data))
    while replies:
        try:
            midi_out.write_midi_event(0, replies[0])
        except jack.JackError:
            break
        replies.popleft()


class _Drill:
    """Fault drills keyed on the SysEx count: die or lose the audio ports 0.1 s into the
    first take (non-silent input) after ``die_after`` / ``vanish_after`` messages."""

    def __init__(self, state, sample_rate: int, *, die_after=None, vanish_after=None):
        self.state, self.die_after, self.vanish_after = state, die_after, vanish_after
        self.trigger_samples = int(0.1 * sample_rate)
        self.heard = 0
        self.vanish_now, self.gone = threading.Event(), threading.Event()

    def after_block(self, x) -> None:
        armed = [n for n in (self.die_after, self.vanish_after) if n is not None]
        if not armed or self.state.sysex_received < min(armed):
            return
        if x.any():
            self.heard += len(x)
        if self.heard < self.trigger_samples:
            return
        if self.die_after is not None and self.state.sysex_received >= self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        self.vanish_now.set()


def _warm_up(sample_rate: int) -> None:
    """Import and JIT-load every emulated type once, before the client is active, so the first
    patch change does not stall the JACK graph for seconds (numba loads its cache on first
    call, and a Python thread doing it would starve the process callback of the GIL)."""
    import numpy as np

    from magicstomp.emulator import EMULATED_TYPES, StreamProcessor
    from magicstomp.errors import MagicstompError
    from magicstomp.patch import Patch
    for type_id in sorted(EMULATED_TYPES):
        try:
            StreamProcessor(Patch.init(type_id), sample_rate).process(np.full(64, 1e-3))
        except (MagicstompError, ImportError):
            log.debug("warm-up: type 0x%02X is not emulated", type_id)


def wait_until_ready(name: str = "magicstomp", *, timeout_s: float = DEFAULT_WAIT_S) -> None:
    """Return once the virtual unit ``name`` is ready (all its JACK ports exist).

    Raises
    ------
    DeviceError
        after ``timeout_s``, saying what to check (the unit, the server).
    """
    from .jack_tools import wait_for_ports
    try:
        wait_for_ports([f"{name}:{p}" for p in PORTS], timeout_s=timeout_s)
    except DeviceError:
        raise DeviceError(
            f"the virtual unit {name!r} was not ready within {timeout_s:g} s; start it first "
            f"(python -m hil.virtual_unit --name {name} &) while a JACK server runs "
            "(jack_wait --check tells), or wait longer with --timeout-s") from None


class VirtualUnitProcess:
    """The virtual unit as a subprocess: start, wait for its JACK ports, stop.

    Parameters
    ----------
    name : str
        JACK client name = audio device name = MIDI port prefix.
    log_path : path, optional
        File for the unit's stdout/stderr (default: discarded).
    server : str, optional
        The JACK server's name (``jackd -n``); default ``$JACK_DEFAULT_SERVER``.
    **options
        ``latency_samples``, ``gain_db``, ``invert``, ``noise_dbfs``, ``bank_path``, ``seed``,
        ``warm_up``, ``variant`` (a seed or a variant JSON path).
    """

    def __init__(self, name: str = "magicstomp", *, log_path=None, server: str | None = None,
                 **options):
        self.name, self.log_path, self.server, self.options = name, log_path, server, options
        self.proc: subprocess.Popen | None = None

    def command(self) -> list:
        cmd = [sys.executable, "-m", "hil.virtual_unit", "--name", self.name]
        for key, value in self.options.items():
            flag = "--" + key.replace("_path", "").replace("_", "-")
            if key == "warm_up":
                cmd += [] if value else ["--no-warm-up"]
            elif isinstance(value, bool):
                cmd += [flag] if value else []
            elif value is not None:
                cmd += [flag, str(value)]
        return cmd

    def start(self, *, timeout_s: float = 90.0) -> "VirtualUnitProcess":
        """Start the subprocess and return once all its ports exist."""
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        root = Path(__file__).resolve().parents[1]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        if self.server is not None:
            env.update(JACK_DEFAULT_SERVER=self.server, JACK_NO_START_SERVER="1")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     env=env)
        from .jack_tools import wait_for_ports
        try:
            wait_for_ports([f"{self.name}:{p}" for p in PORTS], timeout_s=timeout_s,
                           process=self.proc, server=self.server)
        except DeviceError:
            self.stop()
            raise
        return self

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL if it does not stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL at once (imitates a unit unplugged mid-take)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def cut_midi(self) -> None:
        """SIGUSR1: the unit ignores all MIDI from now on (a pulled MIDI cable)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@click.command()
@click.option("--name", default="magicstomp", show_default=True, help="JACK client name.")
@click.option("--latency-samples", type=click.IntRange(min=0), default=0, show_default=True,
              help="Extra output latency imitating an interface.")
@click.option("--gain-db", type=float, default=0.0, show_default=True, help="Output gain.")
@click.option("--invert", is_flag=True, help="Invert the output polarity.")
@click.option("--noise-dbfs", type=float, default=None, help="Add white noise at this RMS level.")
@click.option("--bank", "bank_path", type=click.Path(dir_okay=False), default=None,
              help="Bank .syx persisting the 99 user slots (read at start, rewritten on writes).")
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed.")
@click.option("--variant", default=None, metavar="SEED|FILE",
              help="Play a unit variant: a seed drawing every assumed mapping from its "
                   "spread, or a variant JSON (default: the nominal model).")
@click.option("--warm-up/--no-warm-up", default=True, show_default=True,
              help="Load every emulated type before the ports appear.")
@click.option("--wait", "wait_only", is_flag=True,
              help="Start nothing: wait until the unit called --name is ready (its audio and "
              "MIDI ports exist), print 'ready NAME' and exit; exit 1 after --timeout-s.")
@click.option("--timeout-s", type=click.FloatRange(min=0.1), default=DEFAULT_WAIT_S,
              show_default=True, help="With --wait: how long to wait for the unit.")
@click.option("--cut-midi-after", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fault drill: ignore all MIDI after N SysEx messages (SIGUSR1: at once).")
@click.option("--corrupt-slot-writes", is_flag=True,
              help="Fault drill: store every written slot with one wrong byte.")
@click.option("--ignore-edit-requests", is_flag=True,
              help="Fault drill: do not answer the edit-buffer dump request.")
@click.option("--die-after", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fault drill: kill this process 0.1 s into the take after N SysEx messages.")
@click.option("--vanish-after", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fault drill: remove the audio ports 0.1 s into the take after N messages.")
@click.option("--verbose", "-v", is_flag=True, help="Log every message.")
def main(name, latency_samples, gain_db, invert, noise_dbfs, bank_path, seed, variant, warm_up,
         wait_only, timeout_s, cut_midi_after, corrupt_slot_writes, ignore_edit_requests,
         die_after, vanish_after, verbose):
    """Run the JACK virtual Magicstomp until SIGTERM or Ctrl-C; it prints
    'ready NAME RATE PERIOD' once its ports exist. With --wait, wait for a unit started
    elsewhere (e.g. in the background) to be ready.

    Example: python -m hil.virtual_unit --name magicstomp &
    python -m hil.virtual_unit --wait --name magicstomp
    """
    from magicstomp.console import fail, setup_logging
    from magicstomp.errors import MagicstompError
    setup_logging(verbose)
    if wait_only:
        try:
            wait_until_ready(name, timeout_s=timeout_s)
        except MagicstompError as exc:
            fail(str(exc))
        print(f"ready {name}", flush=True)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    try:
        run_unit(name, latency_samples=latency_samples, gain_db=gain_db, invert=invert,
                 noise_dbfs=noise_dbfs, bank_path=bank_path, seed=seed, warm_up=warm_up,
                 variant=variant, stop_event=stop, cut_midi_after=cut_midi_after,
                 corrupt_slot_writes=corrupt_slot_writes,
                 ignore_edit_requests=ignore_edit_requests, die_after=die_after,
                 vanish_after=vanish_after)
    except MagicstompError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
