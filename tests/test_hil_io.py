"""Sound-card helpers that need no device: channel checks, name matching, dead-return check."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hil import io
from hil.io import DeviceInfo
from magicstomp.errors import DeviceError

RATE = 48000
DEVICES = [
    DeviceInfo(0, "system", "JACK Audio Connection Kit", 2, 2, 48000.0),
    DeviceInfo(1, "Scarlett 2i2 USB", "ALSA", 2, 2, 44100.0),
    DeviceInfo(2, "Scarlett 2i2 USB: monitor", "ALSA", 0, 2, 44100.0),
    DeviceInfo(3, "magicstomp", "JACK Audio Connection Kit", 2, 1, 48000.0),
]


def test_importing_hil_opens_no_audio_or_jack_library():
    code = ("import sys, hil, hil.io, hil.rig, hil.calibration, hil.virtual_unit, hil.jack_tools, "
            "hil.unit_state; bad = [m for m in ('sounddevice', 'jack', 'rtmidi') if m in sys.modules];"
            " print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("ref, kind, index", [
    ("magicstomp", "input", 3), ("MAGICSTOMP", "output", 3), (1, "input", 1), ("0", "output", 0),
    ("monitor", "output", 2), ("scarlett 2i2 usb", "output", 1),   # exact name beats substrings
])
def test_device_found_by_index_or_name(ref, kind, index):
    assert io._find(ref, kind, DEVICES).index == index


def test_ambiguous_name_lists_the_matches():
    with pytest.raises(DeviceError, match="ambiguous.*Scarlett 2i2 USB.*monitor"):
        io._find("scarlett", "output", DEVICES)


def test_device_without_channels_of_that_kind_is_refused():
    with pytest.raises(DeviceError, match="has no input channels"):
        io._find(2, "input", DEVICES)
    assert io._find("monitor", "input", DEVICES) is None


@pytest.mark.parametrize("bad", [0, -1, "x", "1,", [], [1, 1], 1.5, True])
def test_bad_channels_are_refused(bad):
    with pytest.raises(DeviceError, match="channel"):
        io.check_channels(bad, "input")


def test_channels_are_one_based_tuples():
    assert io.check_channels(2, "output") == (2,)
    assert io.check_channels([1, 2], "input") == io.check_channels("1,2", "input") == (1, 2)


def test_send_above_minus_one_dbfs_is_refused_before_any_device_opens():
    with pytest.raises(DeviceError, match="peaks at 0.00 dBFS; the limit is -1.0 dBFS"):
        io.playrec(np.array([0.0, 1.0]), in_device=DEVICES[3], out_device=DEVICES[3],
                   sample_rate=RATE)


def _stimulus(seconds=1.0):
    x = np.zeros(int(seconds * RATE))
    x[1000:] = 0.1
    return x


def test_live_return_passes_the_dead_check():
    x = _stimulus()
    rec = np.concatenate([np.zeros(356), 0.5 * x[:-356]])
    io.check_return_alive(rec, x, latency_samples=356, sample_rate=RATE)


def test_return_going_silent_mid_take_is_an_error():
    x = _stimulus()
    rec = np.concatenate([np.zeros(356), 0.5 * x[:-356]])
    rec[RATE // 2:] = 0.0                               # the unit vanished half-way
    with pytest.raises(DeviceError, match=r"went digitally silent 0.50 s into the take"):
        io.check_return_alive(rec, x, latency_samples=356, sample_rate=RATE)
    with pytest.raises(DeviceError, match="digital silence for the whole take"):
        io.check_return_alive(np.zeros_like(x), x, latency_samples=356, sample_rate=RATE)


def test_silence_after_the_di_ends_is_not_an_error():
    x = _stimulus()
    x[RATE // 2:] = 0.0                                 # the DI itself stops half-way
    rec = np.concatenate([np.zeros(356), 0.5 * x[:-356]])
    io.check_return_alive(rec, x, latency_samples=356, sample_rate=RATE)


def test_dropout_policy_from_argument_environment_or_default(monkeypatch):
    monkeypatch.delenv(io.ON_DROPOUT_ENV, raising=False)
    assert io.dropout_policy() == "retry"
    monkeypatch.setenv(io.ON_DROPOUT_ENV, "warn")
    assert io.dropout_policy() == "warn"
    assert io.dropout_policy("retry") == "retry"
    with pytest.raises(DeviceError, match="expected 'retry'"):
        io.dropout_policy("ignore")
