"""The README's JACK recipe works when pasted: the virtual unit is started in the background and
``python -m hil.virtual_unit --wait`` returns only once its audio and MIDI ports exist, so the
next command (``auto_match_hil --list-devices``) sees it. Runs on the session's dummy server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.jack
REPO = Path(__file__).resolve().parents[1]
NAME = "waitunit"


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def _run(*args, timeout_s: float = 180.0):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(),
                          cwd=REPO, timeout=timeout_s)


def test_wait_returns_once_a_unit_started_in_the_background_is_ready(jack_server, tmp_path):
    log = (tmp_path / "unit.log").open("w")
    unit = subprocess.Popen([sys.executable, "-m", "hil.virtual_unit", "--name", NAME],
                            stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    jack_server.clients.append(unit)           # stopped before jackd whatever happens
    try:
        started = time.monotonic()
        waited = _run("-m", "hil.virtual_unit", "--wait", "--name", NAME, "--timeout-s", "120")
        assert waited.returncode == 0, waited.stderr
        assert waited.stdout.strip() == f"ready {NAME}"
        assert unit.poll() is None
        listed = _run("-m", "cli.auto_match_hil", "--list-devices")
        assert listed.returncode == 0, listed.stderr
        assert f"{NAME} [JACK Audio Connection Kit] (2 in, 1 out" in listed.stdout
        ports = dict(line.split(":", 1) for line in listed.stdout.splitlines()
                     if line.startswith("MIDI "))     # other units of the session may be listed
        assert f"{NAME}:midi_in" in ports["MIDI outputs"].replace(" ", "").split(",")
        assert f"{NAME}:midi_out" in ports["MIDI inputs"].replace(" ", "").split(",")
        assert time.monotonic() - started < 120
    finally:
        unit.terminate()
        unit.wait(10)
        log.close()
    assert f"ready {NAME} {jack_server.rate_hz} {jack_server.period}" in \
        (tmp_path / "unit.log").read_text()


def test_wait_for_a_unit_that_never_comes_is_one_line_and_exit_1(jack_server):
    started = time.monotonic()
    result = _run("-m", "hil.virtual_unit", "--wait", "--name", "nobody-here", "--timeout-s", "0.5")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: the virtual unit 'nobody-here' was not ready within 0.5 s")
    assert "--timeout-s" in lines[0] and result.stdout == ""
    assert time.monotonic() - started < 30
