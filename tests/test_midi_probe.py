"""The JACK port listing in a child process with a deadline (magicstomp/midi_probe.py)."""

from __future__ import annotations

import time

import pytest

from magicstomp.errors import MidiError
from magicstomp.midi_probe import port_names_within

BACKENDS = {
    "probe_ok_backend": """
def get_devices(**_api):
    return [{"name": "unit:midi_out", "is_input": True, "is_output": False},
            {"name": "unit:midi_in", "is_input": False, "is_output": True},
            {"name": "other:midi_in", "is_input": False, "is_output": True}]
""",
    "probe_hang_backend": "import time\ntime.sleep(60)\n",
    "probe_error_backend": """
def get_devices(**_api):
    raise RuntimeError("MidiInJack::initialize: JACK server not running?")
""",
}


@pytest.fixture
def backends(tmp_path, monkeypatch):
    for name, text in BACKENDS.items():
        (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def test_the_child_lists_both_directions(backends):
    assert port_names_within("probe_ok_backend", 30) == {
        "inputs": ["unit:midi_out"], "outputs": ["unit:midi_in", "other:midi_in"]}


def test_a_hanging_listing_is_killed_at_the_deadline(backends):
    started = time.monotonic()
    with pytest.raises(MidiError, match="did not answer within 1.5 s when listing ports"):
        port_names_within("probe_hang_backend", 1.5)
    assert time.monotonic() - started < 10


def test_a_library_error_is_one_sentence(backends):
    with pytest.raises(MidiError, match=r"could not list MIDI ports \(MidiInJack::initialize"):
        port_names_within("probe_error_backend", 30)


def test_the_jack_backend_lists_through_the_child(backends, monkeypatch):
    """MagicstompMidi picks its ports from the child's list under a JACK backend."""
    from magicstomp import midi
    monkeypatch.setenv("MIDO_BACKEND", "probe_ok_backend/UNIX_JACK")
    assert midi._port_names(object()) == {"inputs": ["unit:midi_out"],
                                           "outputs": ["unit:midi_in", "other:midi_in"]}
