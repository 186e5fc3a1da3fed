"""--optimize-params: the original project's names as aliases, every bad name reported at once.

Audio for the end-to-end run: 3 s of the CC0 jazz DI (tests/data/audio/di-cc0-jazz, freesound
user Sub-d, sound 49658, CC0) and its render through an Amp Multi (Chorus) patch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.auto_match_hil import main
from magicstomp.emulator import EMULATED_TYPES
from magicstomp.errors import ParameterError
from magicstomp.neutral import NeutralPatch, field_targets, to_patch
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace, aliases, alias_names, check_names, resolve_keys
from test_auto_match_cli import write_pair

REPO = Path(__file__).resolve().parents[1]
AMP_MULTI_CHORUS = 0x37
ORIGINAL_EXAMPLE = ("delay_mix", "reverb_mix", "treble")   # the original project's README


def test_the_original_example_resolves_on_amp_multi_chorus():
    space = ParameterSpace(AMP_MULTI_CHORUS, list(ORIGINAL_EXAMPLE))
    assert space.keys == ("delay_level", "reverb_level", "treble")


@pytest.mark.parametrize("type_id,alias,key", [
    (0x0D, "delay_mix", "mix_pct"),                 # Mono Delay: the mix knob is the delay's
    (0x0D, "delay_feedback", "feedback_gain_pct"),
    (0x09, "reverb_mix", "mix_pct"),                # Reverb: the mix knob is the reverb's
    (0x09, "reverb_decay", "reverb_time_s"),
    (0x12, "mod_depth", "pm_depth_pct"),            # Chorus: pitch-modulation depth
    (0x38, "mod_rate_hz", "flanger_speed"),
    (0x3B, "gain", "preamp_gain"),
    (0x37, "amp_presence", "presence"),
    (0x37, "delay_time_ms", "feedback_delay_time_ms"),
])
def test_alias_goes_to_the_key_the_type_plays_that_role_with(type_id, alias, key):
    assert resolve_keys(type_id, [alias]) == (key,)


@pytest.mark.parametrize("type_id", sorted(EMULATED_TYPES))
def test_each_alias_moves_the_key_the_starting_patch_writes(type_id):
    """The alias table is the analysis' mapping: changing the neutral value an alias names
    changes exactly the keys it is written to, the first of which the alias resolves to."""
    base = dict(amp_gain=0.5, delay_time_ms=300.0, delay_feedback=0.3, delay_mix=0.3,
                reverb_decay_s=2.0, reverb_mix=0.3, mod_rate_hz=1.0, mod_depth=0.4, mod_mix=0.4,
                mod_kind="chorus")
    bumped = {"amp_gain": 0.9, "amp_treble": 0.9, "amp_presence": 0.9, "delay_time_ms": 600.0,
              "delay_feedback": 0.7, "delay_mix": 0.8, "reverb_decay_s": 4.0, "reverb_mix": 0.8,
              "mod_rate_hz": 3.0, "mod_depth": 0.9, "mod_mix": 0.9}
    start, _ = to_patch(NeutralPatch(**base), type_id)
    for alias, key in aliases(type_id).items():
        field = {"gain": "amp_gain", "treble": "amp_treble", "presence": "amp_presence",
                 "reverb_decay": "reverb_decay_s"}.get(alias, alias)
        moved, _ = to_patch(NeutralPatch(**{**base, field: bumped[field]}), type_id)
        changed = {k for k in start.raw_values() if start.get_raw(k) != moved.get_raw(k)}
        written = [t.key for t in field_targets(type_id) if t.field == field]
        assert key == written[0], (alias, written)    # a stereo delay writes L then R
        assert changed == set(written), (alias, changed)


def test_every_bad_name_is_reported_at_once_with_close_matches():
    with pytest.raises(ParameterError) as err:
        ParameterSpace(AMP_MULTI_CHORUS, ["delay_mxi", "treble", "presnce", "warp_factor"])
    message = str(err.value)
    assert message.count("\n") == 0
    assert "'delay_mxi' (did you mean delay_mix (= delay_level)" in message
    assert "'presnce' (did you mean presence" in message
    assert "'warp_factor'" in message and "'treble'" not in message
    assert "Amp Multi (Chorus) (0x37)" in message


def test_an_alias_the_type_cannot_express_names_the_type_and_types_that_can():
    with pytest.raises(ParameterError) as err:
        ParameterSpace(0x0D, ["reverb_mix", "treble", "mix_pct"])       # Mono Delay
    message = str(err.value)
    assert "Mono Delay (0x0D) has no counterpart for the original project's 'reverb_mix' and " \
           "'treble'" in message
    assert "--effect-type (e.g. 0x37 Amp Multi (Chorus)" in message
    hosts = re.findall(r"0x([0-9A-F]{2}) ", message.split("e.g.")[1])
    for host in hosts:           # every suggested type has both, and is emulated
        assert {"reverb_mix", "treble"} <= set(aliases(int(host, 16)))
        assert int(host, 16) in EMULATED_TYPES


def test_names_no_type_knows_are_refused_before_the_type_is_chosen():
    check_names(["delay_mix", "mix_pct", "DT.L"])     # alias, key, the unit's short label
    with pytest.raises(ParameterError, match=r"'tremble' \(did you mean treble"):
        check_names(["tremble", "delay_mix"])


def _amp_multi_pair(data_dir, tmp_path):
    patch = Patch.init(AMP_MULTI_CHORUS).with_values(delay_level=6.0, reverb_level=4.0)
    return write_pair(tmp_path, data_dir, patch)


def test_the_original_example_runs_end_to_end(data_dir, tmp_path):
    target, di = _amp_multi_pair(data_dir, tmp_path)
    result = CliRunner().invoke(main, [
        str(target), "--di-signal", str(di), "--out", str(tmp_path / "out"), "--session-name",
        "orig", "--effect-type", "Amp Multi (Chorus)", "--optimize", "--optimizer", "coordinate",
        "--budget", "4", "--optimize-params", *ORIGINAL_EXAMPLE])
    assert result.exit_code == 0, result.output + result.stderr
    doc = json.loads((tmp_path / "out" / "orig" / "orig_session.json").read_text())
    assert doc["parameters"] == ["delay_level", "reverb_level", "treble"]
    assert "delay_mix -> delay_level, reverb_mix -> reverb_level" in result.stderr


@pytest.mark.parametrize("extra,words", [
    (["--effect-type", "Amp Multi (Chorus)", "--optimize-params", "delay_mxi", "trebel"],
     ["'delay_mxi' (did you mean delay_mix", "'trebel' (did you mean treble"]),
    (["--effect-type", "Mono Delay", "--optimize-params", "reverb_mix"],
     ["Mono Delay (0x0D)", "'reverb_mix'", "--effect-type"]),
    (["--optimize-params", "warp_ms", "delay_mix"], ["no effect type has a parameter 'warp_ms'"]),
])
def test_bad_names_are_one_usage_error_before_any_audio_is_read(tmp_path, extra, words):
    missing = tmp_path / "not_read.wav"          # the names are checked before the files
    result = CliRunner().invoke(main, [str(missing), "--di-signal", str(missing), "--out",
                                       str(tmp_path / "out"), *extra])
    assert result.exit_code == 2, result.output + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --optimize-params"), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def _readme_alias_table() -> dict:
    """The README's alias table: {column title: {alias: key or None}}."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| alias |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    table: dict = {title: {} for title in header[1:]}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            for title, cell in zip(header[1:], cells[1:]):
                table[title][name] = cell.strip("`") if cell != "-" else None
    return table


def test_the_readme_alias_table_is_the_code_s():
    table = _readme_alias_table()
    assert set(alias_names()) == set(next(iter(table.values())))
    for title, column in table.items():
        type_ids = [type_id for type_id in EMULATED_TYPES
                    if Patch.init(type_id).effect_type.name in title.split(", ")]
        assert type_ids, title
        for type_id in type_ids:
            assert {a: aliases(type_id).get(a) for a in column} == column, title
