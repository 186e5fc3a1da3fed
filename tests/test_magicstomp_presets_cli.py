"""`magicstomp types` marks the emulated types; `magicstomp presets` lists and prints the
vendored factory presets (magicstomp/data/factory_presets.json, see magicstomp/data/SOURCES.md)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from cli.magicstomp_cli import main
from magicstomp.emulator import EMULATED_TYPES
from magicstomp.patch import Patch
from magicstomp.presets import find_preset

ROW = re.compile(r"^(guitar|bass|acoustic)\s+(\d+)\s+(.+?)\s+0x([0-9A-F]{2}) (.+?)\s+(yes|-)$")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _rows(result) -> list:
    assert result.exit_code == 0, result.output
    return [ROW.match(line).groups() for line in result.stdout.splitlines() if ROW.match(line)]


def test_types_marks_exactly_the_emulated_types():
    result = run("types")
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^0x([0-9A-F]{2})  .+?\s+\d+  (yes|-)$", result.stdout, re.M)
    assert len(rows) == 64
    assert {int(i, 16) for i, mark in rows if mark == "yes"} == set(EMULATED_TYPES)
    legend = result.stdout.strip().splitlines()[-1]
    assert legend.startswith("virtual: yes = the virtual Magicstomp emulates the type "
                             f"({len(EMULATED_TYPES)} of 64 types")


@pytest.mark.parametrize("ref,word", [("0x37", "emulated by the virtual Magicstomp"),
                                      ("Gate Reverb", "not emulated: on the unit only")])
def test_one_type_says_whether_it_is_emulated(ref, word):
    assert word in run("types", ref).stdout.splitlines()[0]


def test_presets_lists_all_292_with_type_and_emulation():
    result = run("presets")
    rows = _rows(result)
    assert len(rows) == 292
    assert [sum(r[0] == bank for r in rows) for bank in ("guitar", "bass", "acoustic")] == \
        [94, 99, 99]
    assert rows[0][:5] == ("guitar", "1", "HeavyHiGain", "37", "Amp Multi (Chorus)")
    for bank, index, name, type_hex, type_name, mark in rows:
        assert (mark == "yes") == (int(type_hex, 16) in EMULATED_TYPES), name
        assert Patch.init(int(type_hex, 16)).effect_type.name == type_name
    emulated = sum(r[5] == "yes" for r in rows)
    assert result.stdout.strip().splitlines()[-1].startswith(
        f"292 preset(s), {emulated} the virtual Magicstomp can play")


@pytest.mark.parametrize("args,count,check", [
    (["--bank", "bass"], 99, lambda r: r[0] == "bass"),
    (["--type", "Amp Multi (Chorus)"], None, lambda r: r[3] == "37"),
    (["--bank", "guitar", "--type", "0x37"], None, lambda r: r[0] == "guitar" and r[3] == "37"),
    (["--emulated"], None, lambda r: r[5] == "yes"),
])
def test_presets_filters(args, count, check):
    everything = _rows(run("presets"))
    rows = _rows(run("presets", *args))
    assert rows and all(check(r) for r in rows)
    assert rows == [r for r in everything if check(r)]      # nothing else dropped
    if count is not None:
        assert len(rows) == count


def test_a_preset_by_name_prints_its_patch_json():
    result = run("presets", "guitar:HeavyHiGain")
    assert result.exit_code == 0, result.output
    patch = Patch.from_dict(json.loads(result.stdout))
    assert patch == find_preset("guitar:HeavyHiGain").patch()
    assert patch.effect_type.id == 0x37


@pytest.mark.parametrize("args,code,pattern", [
    (["HeavyHiGian"], 1, r"Error: no factory preset named 'HeavyHiGian'; did you mean"),
    (["--type", "Warp Drive"], 1, r"Error: unknown effect type 'Warp Drive'"),
    (["--bank", "keyboard"], 2, r"Error: Invalid value for '--bank'"),
    (["HeavyHiGain", "--bank", "guitar"], 2, r"Error: NAME prints one preset"),
])
def test_bad_preset_requests_are_one_line(args, code, pattern):
    result = run("presets", *args)
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(pattern, lines[0]), result.stderr
