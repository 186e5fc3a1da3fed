"""Unit profiles: a drawn unit variant, profiled on the virtual rig, is recovered.

The stand-in unit is ``VirtualRig(variant=UnitVariant.draw(seed))``; the fit starts from
the nominal model and must find the drawn values of every assumption the probes see.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hil.rig import VirtualRig
from magicstomp.emulator import UnitVariant
from magicstomp.emulator.mappings import SPREADS_BY_NAME
from optimize.unit_probes import probe_session, take_distance_db
from optimize.unit_profile import (MAX_PROBE_SECONDS, UnitProfileError, fit_unit_profile,
                                   load_unit_profile)

SEED = 7
#: a fitted value within this fraction of its documented spread of the drawn one (0.15 of
#: +/-20 % is +/-3 % of a tone corner; with two passes the corners and the tone taper trade
#: a little)
TOLERANCE_SPREADS = 0.15
#: what the Amp Multi (Chorus) probes see at scale 0.4 (the gate's decay and the Tape
#: Echo's time need longer probes and the Tape Echo type)
SEEN = {"bass_hz", "lo_mid_hz", "hi_mid_hz", "treble_hz", "presence_hz", "master_tone_hz",
        "tone_taper", "drive_taper", "drive_base_db", "volume_taper", "front_level_db",
        "lfo_rate", "mod_sweep", "mod_level_db", "delay_level_db", "reverb_level_db",
        "reverb_damping_hz"}


@pytest.fixture(scope="module")
def fitted():
    truth = UnitVariant.draw(SEED)
    rig = VirtualRig(44100, variant=truth)
    return truth, rig, fit_unit_profile(rig, types=(0x37,), scale=0.4, max_passes=2)


def test_profile_recovers_the_drawn_values(fitted):
    truth, _rig, profile = fitted
    assert SEEN <= set(profile.fitted)
    for name in SEEN:
        error = abs(profile.variant.value(name) - truth.value(name))
        assert error <= TOLERANCE_SPREADS * SPREADS_BY_NAME[name].amount, \
            (name, truth.value(name), profile.variant.value(name))


def test_profile_halves_every_sections_distance_within_two_minutes(fitted):
    _truth, rig, profile = fitted
    assert set(profile.sections) == {"amp/drive", "tone", "modulation", "delay", "reverb",
                                     "levels"}
    for name, section in profile.sections.items():
        assert section.before_db > 0.5, name           # the drawn unit is audibly different
        assert section.after_db <= 0.5 * section.before_db, (name, section)
    m = profile.measurement
    # the probes, one silent take (noise), a second take of one probe per section (floor)
    assert m["takes"] == rig.takes == len(profile.probes) + 1 + len(profile.sections)
    assert m["probe_takes"] == len(profile.probes)
    for section in profile.sections.values():
        assert section.floor_db == 0.0        # an exact rig: two takes are identical
    assert m["audio_seconds"] <= MAX_PROBE_SECONDS and m["rig"] == "VirtualRig"
    assert "variant" not in m["rig_description"]         # the truth stays out of the file


def test_profile_round_trips_and_renders_like_the_unit(fitted, tmp_path):
    truth, _rig, profile = fitted
    loaded = load_unit_profile(profile.save(tmp_path / "p.json"))
    assert loaded.variant == profile.variant
    assert loaded.to_dict()["sections"] == profile.to_dict()["sections"]
    from magicstomp.emulator import render, to_mono
    probe = next(p for p in probe_session((0x37,), scale=0.4) if p.section == "tone")
    x = probe.signal(44100)
    unit = to_mono(render(probe.patch, x, 44100, variant=truth))
    nominal = take_distance_db(to_mono(render(probe.patch, x, 44100)), unit, 44100)
    profiled = take_distance_db(to_mono(render(probe.patch, x, 44100, variant=loaded.variant)),
                                unit, 44100)
    assert profiled < 0.2 * nominal


@pytest.mark.parametrize("text, expected", [
    ("{not json", "is not valid JSON"),
    ('{"seed": 3}', "is not a unit profile"),
    ('{"format": "magicstomp-unit-profile", "version": 1, "variant": {"values": '
     '{"bass_hz": 9}}, "sections": {}, "fitted": [], "unseen": []}', "is damaged"),
    ('{"format": "magicstomp-unit-profile", "version": 1}', "is damaged"),
])
def test_bad_profile_is_refused_in_one_sentence(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UnitProfileError) as info:
        load_unit_profile(path)
    message = str(info.value)
    assert expected in message and "\n" not in message and str(path) in message
    with pytest.raises(UnitProfileError, match="does not exist"):
        load_unit_profile(tmp_path / "missing.json")


def test_profile_command_end_to_end(tmp_path):
    out = tmp_path / "unit.json"
    proc = subprocess.run([sys.executable, "-m", "cli.magicstomp_cli", "profile",
                           "--virtual-variant", "3", "--types", "0x35", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "delay" in proc.stdout and "->" in proc.stdout and "s in all" in proc.stdout
    assert proc.stdout.splitlines()[-1] == ("Next step: auto_match_hil TARGET --di-signal DI "
                                            f"--virtual-variant 3 --unit-profile {out}")
    profile = load_unit_profile(out)
    truth = UnitVariant.draw(3)
    assert abs(profile.variant.value("tape_time") - truth.value("tape_time")) <= 0.01
    assert profile.sections["delay"].after_db <= 0.5 * profile.sections["delay"].before_db
    data = json.loads(out.read_text())
    assert data["measurement"]["takes"] == 3 and data["probes"][0]["section"] == "delay"


def test_profile_command_usage_errors(tmp_path):
    for args, needle in ((["profile"], "say which unit"),
                         (["profile", "--virtual-variant", "3", "--types", "0x08"], "no probes"),
                         (["profile", "--virtual-variant", "3", "--in-device", "x"],
                          "drop it")):
        proc = subprocess.run([sys.executable, "-m", "cli.magicstomp_cli", *args],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1
    bad = tmp_path / "v.json"
    bad.write_text("{")
    proc = subprocess.run([sys.executable, "-m", "cli.magicstomp_cli", "profile",
                           "--virtual-variant", str(bad), "--types", "0x35",
                           "--out", str(tmp_path / "p.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr


def test_profile_through_a_noisy_chain_still_halves_every_section():
    """A re-amp chain with -70 dBFS noise, +/-0.3 dB gain wobble and latency jitter: the
    silent take measures the noise, which is then not scored."""
    from hil.imperfections import Imperfections
    chain = Imperfections(noise_dbfs=-70.0, gain_wobble_db=0.3, latency_jitter_samples=8,
                          latency_samples=256)
    rig = VirtualRig(44100, variant=UnitVariant.draw(SEED), imperfections=chain, seed=1)
    profile = fit_unit_profile(rig, types=(0x37,), scale=0.4, max_passes=1)
    assert -75.0 < profile.measurement["noise_rms_dbfs"] < -65.0
    for name, section in profile.sections.items():
        assert 0.0 < section.floor_db < 1.0, (name, section)       # noise: takes differ
        assert section.after_db <= 0.5 * section.before_db, (name, section)


def test_a_session_longer_than_two_minutes_is_refused():
    from optimize.unit_profile import record_probes
    probes = probe_session((0x37, 0x38, 0x39, 0x3A, 0x3B, 0x35), scale=2.0)
    rig = VirtualRig(44100)
    with pytest.raises(UnitProfileError, match="the most is 120 s"):
        record_probes(rig, probes)
    assert rig.takes == 0                    # refused before any take
