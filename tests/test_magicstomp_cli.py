"""The `magicstomp` command through click's CliRunner: outputs, exit codes, one-line errors, docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.magicstomp_cli import main
from magicstomp.files import read_syx
from magicstomp.patch import Patch
from magicstomp.sysex import patch_messages

REPO_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_DIR / "examples" / "HeavyHiGain.syx"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int, pattern: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"Error: " + pattern, lines[0]), lines[0]
    assert "Traceback" not in result.output


def _readme_section(name: str) -> str:
    text = (REPO_DIR / "README.md").read_text()
    match = re.search(rf"<!-- section:{name} -->(.*?)<!-- /section:{name} -->", text, re.S)
    assert match, f"README has no {name} section"
    return match.group(1)


def test_every_subcommand_has_help_and_is_in_the_readme():
    section = _readme_section("magicstomp-cli")
    assert set(main.commands) >= {"types", "decode", "encode", "ports", "send", "dump", "render"}
    for name in main.commands:
        result = run(name, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, name
        assert f"`{name}" in section, f"{name} is not documented in README section magicstomp-cli"
    assert run("--help").exit_code == 0


def test_patch_format_section_documents_the_json_fields():
    section = _readme_section("patch-format")
    for field in ('"format"', '"effect_type"', '"name"', '"knobs"', '"params"', "unmapped_bytes",
                  "init values"):
        assert field in section


def test_types_lists_64_and_one_type_in_detail():
    result = run("types")
    lines = result.stdout.splitlines()      # a header, the 64 types, a legend
    assert result.exit_code == 0 and len(lines) == 66 and lines[0].startswith("id ")
    assert lines[1 + 0x0D].startswith("0x0D  Mono Delay")
    detail = run("types", "0x0D").stdout
    row = next(line for line in detail.splitlines() if line.startswith("delay_time_ms"))
    assert "0x10" in row and "0.0 to 2730.0 ms" in row
    one_line_error(run("types", "Fuzz Factory"), 1, r"unknown effect type 'Fuzz Factory'")


def test_decode_example_and_bank(data_dir):
    result = run("decode", EXAMPLE)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["name"] == "HeavyHiGain" and doc["effect_type"]["id"] == 0x37
    assert Patch.from_dict(doc).to_payload() == read_syx(EXAMPLE)[0].payload
    bank = run("decode", data_dir / "derived_patches/derived_bass_factory_bank_all99.syx")
    docs = json.loads(bank.stdout)
    assert isinstance(docs, list) and len(docs) == 99 and docs[0]["name"] == "Studio"


def test_encode_round_trips_the_example(tmp_path):
    patch_json = tmp_path / "heavy.json"
    patch_json.write_text(run("decode", EXAMPLE).stdout)
    assert run("encode", patch_json, "--out", tmp_path / "edit.syx").exit_code == 0
    assert (tmp_path / "edit.syx").read_bytes() == EXAMPLE.read_bytes()
    assert run("encode", patch_json, "--out", tmp_path / "s6.syx", "--slot", 6).exit_code == 0
    [item] = read_syx(tmp_path / "s6.syx")
    assert (item.target, item.slot) == ("slot", 6)


def test_usage_errors_exit_2_in_one_line(tmp_path):
    patch_json = tmp_path / "p.json"
    patch_json.write_text(Patch.init("Mono Delay").to_json())
    one_line_error(run("encode", patch_json, "--out", tmp_path / "x.syx", "--slot", 3,
                       "--edit-buffer"), 2, r"--slot and --edit-buffer exclude each other")
    one_line_error(run("encode", patch_json), 2, r"Missing option '--out'")
    one_line_error(run("encode", patch_json, "--out", tmp_path / "x.syx", "--slot", 100), 2,
                   r"Invalid value for '--slot'")
    one_line_error(run("dump", "--out", tmp_path / "x.syx"), 2,
                   r"give exactly one of --slot N and --all")
    one_line_error(run("frobnicate"), 2, r"No such command 'frobnicate'")


def test_bad_file_is_one_line_and_traceback_only_with_verbose(tmp_path):
    broken = tmp_path / "broken.syx"
    broken.write_bytes(EXAMPLE.read_bytes()[:100])
    one_line_error(run("decode", broken), 1, r".*broken.syx: the message starting at offset 62 "
                                             r"has no F7 end byte")
    verbose = run("--verbose", "decode", broken)
    assert verbose.exit_code == 1 and "Traceback" in verbose.stderr
    bad_value = tmp_path / "bad.json"
    bad_value.write_text('{"effect_type": "Mono Delay", "params": {"delay_time_ms": 5000}}')
    one_line_error(run("encode", bad_value, "--out", tmp_path / "x.syx"), 1,
                   r".*delay_time_ms=5000 ms is out of range; allowed 0.0 to 2730.0 ms")


def test_send_dry_run_writes_the_edit_buffer_messages(tmp_path):
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=200.0)
    patch_json = tmp_path / "p.json"
    patch_json.write_text(patch.to_json())
    result = run("send", patch_json, "--dry-run", tmp_path / "out.syx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.syx").read_bytes() == b"".join(patch_messages(patch))


@pytest.mark.parametrize("rate_hz", [44100, 48000])
def test_render_places_the_mono_delay_echo(tmp_path, rate_hz):
    delay_ms, click_at = 250.0, 1000
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=delay_ms, feedback_gain_pct=0,
                                                 mix_pct=50, lo_pass_frequency_hz="Thru")
    patch_json = tmp_path / "delay.json"
    patch_json.write_text(patch.to_json())
    dry = np.zeros((rate_hz, 2))
    dry[click_at] = 0.5                      # a stereo input is folded to mono
    sf.write(tmp_path / "in.wav", dry, rate_hz, subtype="PCM_24")
    result = run("render", patch_json, tmp_path / "in.wav", "--out", tmp_path / "out.wav")
    assert result.exit_code == 0, result.output
    info = sf.info(str(tmp_path / "out.wav"))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (rate_hz, 2, "FLOAT",
                                                                          rate_hz)
    wet, _ = sf.read(tmp_path / "out.wav")
    echo_at = click_at + round(delay_ms * rate_hz / 1000)
    tail = np.abs(wet[click_at + 100:, 0])
    assert abs(int(np.argmax(tail)) + click_at + 100 - echo_at) <= 2
    assert tail.max() > 0.05


def test_render_rejects_a_rate_the_emulator_does_not_run(tmp_path):
    sf.write(tmp_path / "low.wav", np.zeros(2205), 22050)
    one_line_error(run("render", EXAMPLE, tmp_path / "low.wav", "--out", tmp_path / "o.wav"), 1,
                   r"sample rate 22050 Hz is not supported")


def test_bank_json_to_ub9_and_back(data_dir, tmp_path):
    bank = data_dir / "derived_patches/derived_bass_factory_bank_all99.syx"
    (tmp_path / "bank.json").write_text(run("decode", bank).stdout)
    assert run("encode", tmp_path / "bank.json", "--out", tmp_path / "lib.ub9").exit_code == 0
    assert (tmp_path / "lib.ub9").stat().st_size == 17408
    assert run("decode", tmp_path / "lib.ub9").stdout == (tmp_path / "bank.json").read_text()
    assert run("encode", tmp_path / "bank.json", "--out", tmp_path / "b.syx").exit_code == 0
    assert (tmp_path / "b.syx").read_bytes() == bank.read_bytes()
