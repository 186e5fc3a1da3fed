"""Small JACK helpers for the virtual hardware path (JACK-Client imported lazily).

    DummyServer(name, rate_hz, period)   ``jackd --no-realtime -S -d dummy`` as a subprocess
    wait_for_ports(names, timeout_s)     until every port exists (or the process died)
    wait_for_ports_gone(names, timeout_s) until none exists (a client was removed)
    freewheel()                          context manager: run the graph faster than real time
    JackWatch()                          is the server up, does a client still have its ports?

Stop order matters: stop every client (e.g. the virtual unit) *before* the
server, or jackd hangs for 20 s (``AUDIO_MIDI_TEST_RIG.md``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

from magicstomp.errors import DeviceError
from magicstomp.quiet import close_within, quiet_stderr, route_jack_messages

JACK_HOSTAPI = "JACK Audio Connection Kit"


def _jack():
    try:
        import jack
    except OSError as exc:
        raise DeviceError(f"JACK-Client cannot load libjack ({exc}); install it "
                          "(apt-get install jackd2)") from None
    return jack


def wait_for_ports(names, *, timeout_s: float = 20.0, process=None, server=None) -> None:
    """Return once every JACK port in ``names`` exists; DeviceError after ``timeout_s`` or
    when ``process`` (a Popen that should create them) exits first. ``server`` names the
    JACK server (default ``$JACK_DEFAULT_SERVER``)."""
    jack = _jack()
    deadline = time.monotonic() + timeout_s
    client = None
    try:
        while True:
            if process is not None and process.poll() is not None:
                raise DeviceError(f"the process that should create {names[0]!r} exited with "
                                  f"code {process.returncode} before its ports appeared")
            if client is None:
                try:
                    client = jack.Client(f"portwait{os.getpid()}", no_start_server=True,
                                         servername=server)
                except jack.JackError:
                    client = None
            if client is not None:
                have = {p.name for p in client.get_ports()}
                if all(n in have for n in names):
                    return
            if time.monotonic() > deadline:
                raise DeviceError(f"JACK ports {', '.join(names)} did not appear within "
                                  f"{timeout_s:g} s; is the JACK server running?")
            time.sleep(0.05)
    finally:
        if client is not None:
            client.close()


def wait_for_ports_gone(names, *, timeout_s: float = 30.0) -> None:
    """Return once none of the JACK ports in ``names`` exists (a client has been removed)."""
    jack = _jack()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client = jack.Client(f"portgone{os.getpid()}", no_start_server=True)
        except jack.JackError:
            client = None
        if client is not None:
            try:
                if not {p.name for p in client.get_ports()} & set(names):
                    return
            finally:
                client.close()
        if time.monotonic() > deadline:
            raise DeviceError(f"JACK ports {', '.join(names)} still exist after {timeout_s:g} s")
        time.sleep(0.2)


class JackWatch:
    """A passive JACK client (no ports, never activated) that checks, before each take,
    that the server still runs and that the audio devices' clients still have ports.

    ``problem(names)`` returns None, or one sentence naming what vanished. Reading
    the port list does not wait on other clients, so a frozen client cannot block it.
    """

    def __init__(self):
        jack = _jack()
        self.server_gone = False
        with quiet_stderr("opening a JACK watch client"):
            try:
                self.client = jack.Client(f"watch{os.getpid()}", no_start_server=True)
            except jack.JackError as exc:
                raise DeviceError(f"cannot connect to the JACK server ({exc}); is jackd "
                                  "running?") from None
        self.client.set_shutdown_callback(lambda status, reason: self._gone())
        route_jack_messages()           # libjack's own lines go to the DEBUG log

    def _gone(self) -> None:
        self.server_gone = True

    def problem(self, client_names) -> str | None:
        """None when every client in ``client_names`` has ports, else what vanished."""
        if self.server_gone:
            return "the JACK server stopped (every JACK audio device vanished with it)"
        ports = self.client.get_ports()
        if not ports:             # not even the server's own ports: it is gone
            self.server_gone = True
            return self.problem(client_names)
        clients = {p.name.split(":", 1)[0] for p in ports}
        audio = {p.name.split(":", 1)[0] for p in ports if p.is_audio}
        for name in dict.fromkeys(client_names):
            if name not in clients:
                return (f"the audio device {name!r} vanished: its JACK client is gone "
                        "(the unit or its audio client stopped, or was unplugged)")
            if name not in audio:
                return (f"the audio device {name!r} vanished: its JACK client has no audio "
                        "ports any more (the audio interface was unplugged or switched off)")
        return None

    def close(self) -> None:
        if not self.server_gone:
            close_within(self.client.close, "closing the JACK watch client")


@contextlib.contextmanager
def freewheel():
    """Run the JACK graph as fast as the CPU allows inside the block (sample-exact).

    Freewheel is switched off again on exit, and only if it was switched on.
    """
    jack = _jack()
    ctl = jack.Client(f"freewheel{os.getpid()}", no_start_server=True)
    switched = False
    try:
        ctl.set_freewheel(True)
        switched = True
        yield
    finally:
        try:
            if switched:
                ctl.set_freewheel(False)
        finally:
            ctl.close()


class DummyServer:
    """A private ``jackd --no-realtime -S -t 2000 -d dummy`` server (real-time clocked).

    Sets nothing in ``os.environ``; pass :meth:`env` to subprocesses, or use
    :meth:`export` to point this process' JACK, PortAudio and mido at it.
    """

    def __init__(self, name: str, *, rate_hz: int = 48000, period: int = 256, log_path=None):
        self.name, self.rate_hz, self.period, self.log_path = name, rate_hz, period, log_path
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict:
        return dict(os.environ, JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=self.name,
                    MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")

    def export(self) -> None:
        os.environ.update({k: self.env()[k] for k in ("JACK_NO_START_SERVER",
                                                       "JACK_DEFAULT_SERVER", "MIDO_BACKEND")})

    def start(self, *, timeout_s: float = 15.0) -> "DummyServer":
        if shutil.which("jackd") is None:
            raise DeviceError("jackd is not installed; apt-get install jackd2")
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            ["jackd", "-n", self.name, "--no-realtime", "-S", "-t", "2000", "-d", "dummy",
             "-r", str(self.rate_hz), "-p", str(self.period)],
            stdout=out, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + timeout_s
        while subprocess.run(["jack_wait", "-w", "-t", "1", "-s", self.name], env=self.env(),
                             capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DeviceError(f"jackd {self.name!r} did not start within {timeout_s:g} s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
