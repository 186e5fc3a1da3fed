"""Pytest fixtures for the JACK virtual unit (loaded from conftest.py via ``pytest_plugins``).

    start_virtual_unit(**options) -> VirtualUnitProcess   a new unit on the session's JACK
                                                          dummy server (unique client name)
    virtual_unit                  -> VirtualUnitProcess   one plain unit for the session
                                                          (slots persisted to a bank file)
    freewheel                     -> context manager      run the JACK graph faster than real time

Units are subprocesses (``python -m hil.virtual_unit``) appended to
``jack_server.clients``, so they are stopped before jackd, and stopped again
(idempotently) when the session ends. Client names are ``stomp-NN``: no name is
a substring of another, so device and MIDI port look-ups are unambiguous.
"""

from __future__ import annotations

import itertools
import sys

import pytest

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def start_virtual_unit(jack_server, tmp_path_factory):
    from hil import io
    from hil.virtual_unit import VirtualUnitProcess

    log_dir = tmp_path_factory.mktemp("virtual_units")
    started = []

    def start(**options):
        name = f"stomp-{next(_numbers):02d}"
        unit = VirtualUnitProcess(name, log_path=log_dir / f"{name}.log", **options)
        unit.start()
        jack_server.clients.append(unit.proc)
        started.append(unit)
        io.refresh_devices()        # PortAudio lists JACK clients only when it initialises
        return unit

    yield start
    for unit in started:
        unit.stop()
    # PortAudio's JACK host API holds a client on the server: release it before jackd stops,
    # or Pa_Terminate at interpreter exit aborts (pa_jack.c assertion).
    sd = sys.modules.get("sounddevice")
    while sd is not None and sd._initialized:
        sd._terminate()


@pytest.fixture(scope="session")
def virtual_unit(start_virtual_unit, tmp_path_factory):
    """A unit with no imitated interface (latency 0, gain 0 dB, no noise); its 99 slots
    are persisted to ``virtual_unit.options["bank_path"]`` (written on the first slot write)."""
    return start_virtual_unit(bank_path=tmp_path_factory.mktemp("bank") / "bank.syx")


@pytest.fixture(scope="session")
def freewheel(jack_server):
    """``with freewheel(): ...`` runs the JACK graph as fast as the CPU allows (still sample-exact)."""
    from hil.jack_tools import freewheel as _freewheel
    return _freewheel
