"""Shared fixtures: the vendored reference data (tests/data), a seeded RNG, signal
helpers, and a session-wide JACK dummy server for the real MIDI/audio paths.

JACK tests skip with a reason only when ``jackd`` is absent; ``make test``
installs it (apt ``jackd2``), so CI runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from reference import DATA_DIR

pytest_plugins = ["hil_fixtures"]   # JACK virtual-unit fixtures (tests/hil_fixtures.py)

JACK_RATE_HZ = 48000
JACK_PERIOD = 256


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The vendored reference recordings and patch files (tests/data, see its SOURCES.md)."""
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


class JackServer:
    """A running ``jackd --no-realtime -S -d dummy`` under a private server name."""

    def __init__(self, name: str, rate_hz: int, period: int, proc: subprocess.Popen, log: Path):
        self.name, self.rate_hz, self.period, self.proc, self.log = name, rate_hz, period, proc, log
        self.clients: list = []   # subprocesses to stop before the server

    def stop(self) -> None:
        for client in self.clients:          # clients first, then the server
            if client.poll() is None:
                client.terminate()
                try:
                    client.wait(5)
                except subprocess.TimeoutExpired:
                    client.kill()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _start_jackd(tmp_dir: Path) -> JackServer:
    name = f"mshil{os.getpid()}"
    log = tmp_dir / "jackd.log"
    env = dict(os.environ, JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=name)
    proc = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-S", "-t", "2000", "-d", "dummy",
         "-r", str(JACK_RATE_HZ), "-p", str(JACK_PERIOD)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}: {log.read_text()[-2000:]}")
        ok = subprocess.run(["jack_wait", "-c", "-s", name], env=env,
                            capture_output=True).returncode == 0 if shutil.which("jack_wait") else True
        if ok:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    return JackServer(name, JACK_RATE_HZ, JACK_PERIOD, proc, log)


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory):
    """A JACK dummy server for the whole session; sets the environment so that
    mido (rtmidi JACK API), sounddevice (PortAudio JACK) and JACK-Client find it."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2; `make test` does this)")
    server = _start_jackd(tmp_path_factory.mktemp("jack"))
    saved = {k: os.environ.get(k) for k in ("JACK_NO_START_SERVER", "JACK_DEFAULT_SERVER",
                                            "MIDO_BACKEND")}
    os.environ.update(JACK_NO_START_SERVER="1", JACK_DEFAULT_SERVER=server.name,
                      MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK")
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
