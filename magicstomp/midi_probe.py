"""List MIDI ports in a child process with a deadline (the JACK MIDI backend).

    port_names_within(backend_name, wait_s)   {"inputs": [...], "outputs": [...]}
    python -m magicstomp.midi_probe BACKEND   the child: prints that as JSON

When a JACK client freezes (a stopped program, a hung driver), the JACK server
stalls, and rtmidi's JACK backend can deadlock inside libjack while it creates the
client it lists ports with (seen: ``__cxa_throw`` waiting for the dynamic linker's
lock): the call never returns and holds the GIL, so no Python timeout can stop it.
Listing in a fresh child process (not a fork: the caller may have threads) bounds
the wait: on a deadline the child is killed and one MidiError sentence says what
happened. Only the listing is moved; the caller opens the ports once the server has
answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .errors import MidiError

DEFAULT_WAIT_S = 20.0


def port_names_within(backend_name: str, wait_s: float = DEFAULT_WAIT_S, *,
                      quiet: bool = True) -> dict:
    """The MIDI port names, listed by a child process that must answer within ``wait_s``.

    Raises
    ------
    MidiError
        the child did not answer in time (it is killed), or the library failed.
    """
    try:
        done = subprocess.run([sys.executable, "-m", __name__, backend_name],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL if quiet else None,
                              timeout=wait_s, env=_child_env())
    except subprocess.TimeoutExpired:
        raise MidiError(f"the JACK MIDI system did not answer within {wait_s:g} s when "
                        "listing ports (a frozen JACK client stalls the server); restart "
                        "the frozen program or jackd, then try again") from None
    except OSError as exc:
        raise MidiError(f"could not start the MIDI port listing ({exc.strerror or exc})") \
            from None
    try:
        doc = json.loads(done.stdout.decode() or "{}")
    except ValueError:
        doc = {}
    if "error" in doc or "inputs" not in doc:
        raise MidiError(f"could not list MIDI ports ({doc.get('error', 'no answer')}); check "
                        "that the Magicstomp is connected by USB and its MIDI driver is "
                        "installed (under JACK: is jackd running?)")
    return doc


def _child_env() -> dict:
    """The caller's environment, with this package importable (run from any folder)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, path) if p))


def _main(backend_name: str) -> int:
    import mido
    try:
        backend = mido.Backend(backend_name, load=True)
        doc = {"inputs": list(backend.get_input_names()),
               "outputs": list(backend.get_output_names())}
    except Exception as exc:  # noqa: BLE001 - any library error goes back as text
        doc = {"error": " ".join(str(exc).split()) or type(exc).__name__}
    sys.stdout.write(json.dumps(doc))
    sys.stdout.flush()
    os._exit(0)          # libjack's destructors can block on a stalled server


if __name__ == "__main__":                      # pragma: no cover - the child
    sys.exit(_main(sys.argv[1]))
