"""The bad- and edge-input table: both commands, every option, generated files of every odd kind.

Each row runs one command in-process (click's CliRunner, stdin at its end) and checks:

* the exit code: 2 for a usage error, 1 for bad input, 0 where the input is odd but fine;
* the one-line rule: no traceback, and a failure prints exactly one ``Error:`` line;
* nothing already saved changed: the existing session folder ``saved/out/keep/`` and the
  existing output files ``saved/existing.*`` are byte-identical afterwards, and a failed
  row leaves no new file at all (no session, no lock, no partial folder).

Audio: 1.5 s of the CC0 jazz DI (tests/data/audio/di-cc0-jazz, freesound user Sub-d,
sound 49658, CC0) and its render through the virtual Magicstomp's Mono Delay.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main as auto_match
from cli.magicstomp_cli import main as magicstomp
from magicstomp.emulator import render, to_mono
from magicstomp.files import write_bank_syx, write_syx
from magicstomp.patch import Patch

RATE_HZ = 44100
HUGE = "1" + "0" * 30
NUMBERS = {"nan": "nan", "inf": "inf", "-inf": "-inf", "negative": "-1", "huge": HUGE,
           "empty": "", "word": "abc"}


# -- generated files -------------------------------------------------------------------------
def _wavs(folder: Path, di: np.ndarray, target: np.ndarray) -> None:
    sr = RATE_HZ
    n = di.size
    sf.write(folder / "di.wav", di, sr, subtype="FLOAT")
    sf.write(folder / "target.wav", target, sr, subtype="FLOAT")
    sf.write(folder / "di_copy.wav", di, sr, subtype="FLOAT")
    sf.write(folder / "silent.wav", np.zeros(n), sr)
    for name, value in (("nan", np.nan), ("inf", np.inf), ("neginf", -np.inf)):
        x = di.astype(np.float32).copy()
        x[500:510] = value
        sf.write(folder / f"{name}.wav", x, sr, subtype="FLOAT")
    sf.write(folder / "short.wav", di[:int(0.3 * sr)], sr)
    sf.write(folder / "empty.wav", np.zeros(0), sr)
    sf.write(folder / "tiny.wav", di * 1e-6 / np.max(np.abs(di)), sr, subtype="FLOAT")
    sf.write(folder / "dc.wav", np.full(n, 0.5), sr)
    click = np.zeros(n)
    click[n // 2] = 0.9
    sf.write(folder / "click.wav", click, sr)
    sf.write(folder / "huge_values.wav", (di * 1e30).astype(np.float32), sr, subtype="FLOAT")
    sf.write(folder / "noise.wav", 0.3 * np.random.default_rng(1).standard_normal(n), sr)
    sf.write(folder / "square.wav", np.sign(np.sin(2 * np.pi * 110 * np.arange(n) / sr)), sr)
    sf.write(folder / "eight_channels.wav", np.tile(di[:, None], (1, 8)), sr, subtype="FLOAT")
    sf.write(folder / "inverted_stereo.wav", np.stack([di, -di], axis=1), sr, subtype="FLOAT")
    sf.write(folder / "u8.wav", di, sr, subtype="PCM_U8")
    sf.write(folder / "pcm24.wav", di, sr, subtype="PCM_24")
    sf.write(folder / "rate_8k.wav", di[::5], 8000)
    sf.write(folder / "rate_22k.wav", di[::2], 22050)
    sf.write(folder / "rate_1hz.wav", np.array([0.1, -0.1, 0.2]), 1)
    sf.write(folder / "flac_named.wav", di, sr, format="FLAC")
    (folder / "text.wav").write_text("this is not audio\n")
    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "truncated.wav").write_bytes((folder / "di.wav").read_bytes()[:30])
    (folder / "random.wav").write_bytes(np.random.default_rng(2).bytes(4000))
    (folder / "a_folder.wav").mkdir()


def _patch_docs() -> dict:
    good = Patch.init("Mono Delay").to_dict()

    def with_(**changes):
        doc = json.loads(json.dumps(good))
        for key, value in changes.items():
            if key == "params":
                doc["params"].update(value)
            else:
                doc[key] = value
        return json.dumps(doc)

    text = json.dumps(good)
    return {
        "big_int.json": text.replace('"delay_time_ms": 250.0', '"delay_time_ms": 1' + "0" * 400),
        "big_float.json": text.replace('"delay_time_ms": 250.0', '"delay_time_ms": 1e400'),
        "nan.json": text.replace('"delay_time_ms": 250.0', '"delay_time_ms": NaN'),
        "infinity.json": text.replace('"delay_time_ms": 250.0', '"delay_time_ms": -Infinity'),
        "deep.json": "[" * 100000 + "]" * 100000,
        "deep_params.json": text.replace('"mix_pct": 50', '"mix_pct": ' + "[" * 40 + "]" * 40),
        "empty.json": "",
        "whitespace.json": "   \n\t ",
        "null.json": "null",
        "empty_list.json": "[]",
        "empty_object.json": "{}",
        "string.json": '"a patch"',
        "number.json": "42",
        "truncated.json": text[: len(text) // 2],
        "unknown_type.json": with_(effect_type="Warp Drive"),
        "huge_type_id.json": with_(effect_type={"id": 10 ** 18}),
        "type_list.json": with_(effect_type=[13]),
        "unknown_param.json": with_(params={"warp_ms": 3}),
        "out_of_range.json": with_(params={"delay_time_ms": 99999}),
        "negative_param.json": with_(params={"delay_time_ms": -5}),
        "param_word.json": with_(params={"delay_time_ms": "long"}),
        "param_list.json": with_(params={"delay_time_ms": [1, 2]}),
        "param_null.json": with_(params={"delay_time_ms": None}),
        "bad_enum.json": with_(params={"hi_pass_frequency_hz": "Loud"}),
        "name_long.json": with_(name="A name far too long"),
        "name_unicode.json": with_(name="Ünïcödé"),
        "name_object.json": with_(name={"a": 1}),
        "knobs_two.json": with_(knobs=["mix_pct", None]),
        "knobs_unknown.json": with_(knobs=["warp", None, None]),
        "knobs_float.json": with_(knobs=[1.5, None, None]),
        "unmapped_bad.json": with_(unmapped_bytes={"500": 3}),
        "unmapped_byte.json": with_(unmapped_bytes={"20": 300}),
        "version_2.json": with_(version=2),
        "format_other.json": with_(format="someone-else"),
        "params_list.json": json.dumps({**good, "params": []}),
        "two_patches_bad.json": "[" + text + ", 5]",
        "syx_bytes.json": "\xf0\x43\x7d",
    }


def _patch_files(folder: Path) -> None:
    for name, text in _patch_docs().items():
        (folder / name).write_text(text, encoding="utf-8")
    good = Patch.init("Mono Delay")
    (folder / "good.json").write_text(good.to_json())
    (folder / "bom.json").write_bytes(b"\xef\xbb\xbf" + good.to_json().encode())
    (folder / "latin1.json").write_bytes(good.to_json().replace("MonoDelay", "Mon\u00e9")
                                         .encode("latin-1"))
    (folder / "binary.json").write_bytes(np.random.default_rng(3).bytes(3000))
    (folder / "huge.json").write_bytes(b" " * 5_000_000 + good.to_json().encode())
    write_syx(folder / "good.syx", good)
    syx = (folder / "good.syx").read_bytes()
    (folder / "truncated.syx").write_bytes(syx[:100])
    bad = bytearray(syx)
    bad[-2] ^= 0x01                                   # the checksum before F7
    (folder / "bad_checksum.syx").write_bytes(bytes(bad))
    (folder / "random.syx").write_bytes(np.random.default_rng(4).bytes(2000))
    (folder / "empty.syx").write_bytes(b"")
    (folder / "f0_only.syx").write_bytes(b"\xf0")
    (folder / "other_vendor.syx").write_bytes(bytes([0xF0, 0x41, 0x10, 0x42, 0x12, 0x00, 0xF7]))
    (folder / "trailing_junk.syx").write_bytes(syx + b"junk")
    (folder / "text.syx").write_text("F0 43 7D F7\n")
    (folder / "huge.syx").write_bytes(syx * 30000)
    (folder / "ub9_junk.ub9").write_bytes(b"UB99 V1.00" + bytes(100))
    write_bank_syx(folder / "bank.syx", [good] * 99)
    (folder / "bank_truncated.syx").write_bytes((folder / "bank.syx").read_bytes()[:15000])


@pytest.fixture(scope="module")
def files(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == RATE_HZ
    di = di[int(0.2 * sr):int(1.7 * sr)]
    target = to_mono(render(Patch.init("Mono Delay"), di, sr))
    _wavs(folder, di, target)
    _patch_files(folder)
    return folder


@pytest.fixture
def saved(files, tmp_path):
    """An existing session and existing output files that no failed command may touch."""
    root = tmp_path / "saved"
    keep = root / "out" / "keep"
    keep.mkdir(parents=True)
    (keep / "keep_optimized.json").write_text(Patch.init("Mono Delay").to_json())
    (keep / "keep_report.txt").write_text("an earlier session\n")
    shutil.copy(files / "good.syx", root / "existing.syx")
    shutil.copy(files / "di.wav", root / "existing.wav")
    (root / "existing.json").write_text("{}\n")
    return root


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                       if p.is_file() else "dir")
            for p in sorted(root.rglob("*"))}


# -- the rows --------------------------------------------------------------------------------
BAD_WAVS_EXIT_1 = ["silent", "nan", "inf", "neginf", "short", "empty", "tiny", "text",
                   "zero_bytes", "truncated", "random", "rate_1hz"]
ODD_WAVS_AS_TARGET_EXIT_1 = ["dc", "click", "noise", "square", "di_copy"]


def _match(target="target.wav", di="di.wav", *extra, name="new"):
    return ["AUTO", target, "--di-signal", di, "--out", "OUT", "--session-name", name,
            "--effect-type", "Mono Delay", *extra]


def _rows() -> list:
    rows = []
    # auto_match_hil: bad audio files as the target and as the DI
    for wav in BAD_WAVS_EXIT_1:
        rows.append((f"match target {wav}", _match(f"{wav}.wav"), 1))
        rows.append((f"match DI {wav}", _match("target.wav", f"{wav}.wav"), 1))
    for wav in ODD_WAVS_AS_TARGET_EXIT_1:
        rows.append((f"match target {wav}", _match(f"{wav}.wav"), 1))
    rows.append(("match DI huge values", _match("target.wav", "huge_values.wav"), 1))
    rows.append(("match target is the DI file", _match("di.wav", "di.wav"), 1))
    rows.append(("match target folder", _match("a_folder.wav"), 2))
    rows.append(("match DI folder", _match("target.wav", "a_folder.wav"), 2))
    rows.append(("match missing target", _match("missing.wav"), 1))
    rows.append(("match missing DI", _match("target.wav", "missing.wav"), 1))
    rows.append(("match no DI", ["AUTO", "target.wav", "--out", "OUT"], 2))
    rows.append(("match no target", ["AUTO", "--di-signal", "di.wav", "--out", "OUT"], 2))
    # auto_match_hil: every numeric option with NaN, inf, negative, huge, empty and a word
    numeric = ["--budget", "--max-iterations", "--excerpt", "--min-follow-score", "--pacing-ms",
               "--seed", "--out-ch", "--patch-number", "--sample-rate"]
    for option in numeric:
        for label, value in NUMBERS.items():
            extra = [option, value] + (["--send-patch"] if option == "--patch-number" else [])
            rows.append((f"match {option} {label}", _match("target.wav", "di.wav", *extra), 2))
    for label, value in [("budget too large", ["--budget", "1000000000"]),
                         ("budget zero", ["--budget", "0"]),
                         ("passes too many", ["--max-iterations", "101"]),
                         ("excerpt too long", ["--excerpt", "100000"]),
                         ("excerpt too short", ["--excerpt", "0.2"]),
                         ("follow score above 1", ["--min-follow-score", "1.5"]),
                         ("pacing too slow", ["--pacing-ms", "1e9"]),
                         ("seed above 2^32", ["--seed", str(2 ** 32)]),
                         ("out channel 0", ["--out-ch", "0"]),
                         ("sample rate 22050", ["--sample-rate", "22050"]),
                         ("in-ch zero", ["--in-ch", "0"]), ("in-ch nan", ["--in-ch", "nan"]),
                         ("in-ch huge", ["--in-ch", HUGE]), ("in-ch empty", ["--in-ch", ""]),
                         ("in-ch negative", ["--in-ch", "-1"]),
                         ("in-ch words", ["--in-ch", "left,right"]),
                         ("rig unknown", ["--rig", "cloud"]), ("rig empty", ["--rig", ""]),
                         ("on-dropout unknown", ["--on-dropout", "ignore"]),
                         ("analyzer unknown", ["--analyzer", "madmom"]),
                         ("analyzer empty", ["--analyzer", ""]),
                         ("unknown option", ["--turbo"]),
                         ("flag with a value", ["--optimize=yes"]),
                         ("patch number without send", ["--patch-number", "5"]),
                         ("hardware without devices", ["--rig", "hardware"]),
                         ("out is a file", ["--out", "EXISTING_SYX"]),
                         ("parameter unknown", ["--optimize-params", "warp_ms"]),
                         ("parameter of another type", ["--optimize-params", "drive"])]:
        rows.append((f"match {label}", _match("target.wav", "di.wav", *value), 2))
    for label, value in [("optimizer unknown", ["--optimize", "--optimizer", "annealing"]),
                         ("optimizer empty", ["--optimize", "--optimizer", ""]),
                         ("loss unknown", ["--loss", "vibes"]), ("loss empty", ["--loss", ""]),
                         ("effect type unknown", ["--effect-type", "Warp Drive"]),
                         ("effect type huge id", ["--effect-type", HUGE]),
                         ("effect type negative", ["--effect-type", "-1"]),
                         ("effect type not emulated", ["--effect-type", "Gate Reverb"]),
                         ("session name dots", ["--session-name", "../.."]),
                         ("session name symbols", ["--session-name", "***"]),
                         ("session exists", ["--session-name", "keep"]),
                         ("unknown audio device", ["--in-device", "NoSuchCard",
                                                   "--out-device", "NoSuchCard"]),
                         ("unknown MIDI port", ["--send-patch", "--midi-port", "NoSuchPort"]),
                         ("out under a device file", ["--out", "/dev/null/out"])]:
        rows.append((f"match {label}", _match("target.wav", "di.wav", *value), 1))
    rows.append(("match MAGICSTOMP_ANALYZER unknown",
                 ["ENV", "MAGICSTOMP_ANALYZER=madmom", *_match()], 2))
    # magicstomp encode / render / send / decode: every broken patch file
    broken = sorted(_patch_docs()) + ["latin1.json", "binary.json", "huge.json", "truncated.syx",
                                      "bad_checksum.syx", "random.syx", "empty.syx",
                                      "f0_only.syx", "other_vendor.syx", "trailing_junk.syx",
                                      "text.syx", "huge.syx", "ub9_junk.ub9"]
    for name in broken:
        code = 1
        rows.append((f"encode {name}", ["MS", "encode", name, "--out", "EXISTING_SYX"], code))
        rows.append((f"render {name}", ["MS", "render", name, "di.wav", "--out", "EXISTING_WAV"],
                     code))
        rows.append((f"send {name}", ["MS", "send", name, "--dry-run", "EXISTING_SYX"], code))
        if name.endswith(".json") and name in ("deep.json", "big_int.json", "latin1.json",
                                               "huge.json", "nan.json"):
            rows.append((f"decode {name}", ["MS", "decode", name], code))
    # magicstomp render: every odd WAV
    for wav in ["nan", "inf", "neginf", "empty", "text", "zero_bytes", "truncated", "random",
                "rate_1hz", "rate_8k", "rate_22k", "huge_values"]:
        rows.append((f"render input {wav}", ["MS", "render", "good.json", f"{wav}.wav", "--out",
                                             "EXISTING_WAV"], 1))
    rows.append(("render input folder", ["MS", "render", "good.json", "a_folder.wav", "--out",
                                         "EXISTING_WAV"], 2))
    rows.append(("render out is a folder", ["MS", "render", "good.json", "di.wav", "--out",
                                            "OUT"], 2))
    # magicstomp options: NaN, inf, negative, huge, empty, words
    for label, value in NUMBERS.items():
        rows.append((f"send --pacing-ms {label}", ["MS", "send", "good.json", "--dry-run",
                                                   "EXISTING_SYX", "--pacing-ms", value], 2))
        rows.append((f"send --timeout-s {label}", ["MS", "send", "good.json", "--dry-run",
                                                   "EXISTING_SYX", "--timeout-s", value], 2))
        rows.append((f"send --slot {label}", ["MS", "send", "good.json", "--slot", value], 2))
        rows.append((f"encode --slot {label}", ["MS", "encode", "good.json", "--out",
                                                "EXISTING_SYX", "--slot", value], 2))
        rows.append((f"dump --slot {label}", ["MS", "dump", "--slot", value, "--out",
                                              "EXISTING_SYX"], 2))
        rows.append((f"dump --timeout-s {label}", ["MS", "dump", "--slot", "1", "--out",
                                                   "EXISTING_SYX", "--timeout-s", value], 2))
        rows.append((f"restore --pacing-ms {label}", ["MS", "restore", "bank.syx", "--yes",
                                                      "--pacing-ms", value], 2))
    rows += [
        ("send --slot without --yes at EOF", ["MS", "send", "good.json", "--slot", "5"], 1),
        ("restore without --yes at EOF", ["MS", "restore", "bank.syx"], 1),
        ("restore a single patch", ["MS", "restore", "good.syx", "--yes"], 1),
        ("restore a truncated bank", ["MS", "restore", "bank_truncated.syx", "--yes"], 1),
        ("dump without slot or all", ["MS", "dump", "--out", "EXISTING_SYX"], 2),
        ("encode slot and edit buffer", ["MS", "encode", "good.json", "--out", "EXISTING_SYX",
                                         "--slot", "3", "--edit-buffer"], 2),
        ("types unknown", ["MS", "types", "Warp Drive"], 1),
        ("decode missing", ["MS", "decode", "missing.syx"], 2),
        ("encode out under a device file", ["MS", "encode", "good.json", "--out",
                                            "/dev/null/x.syx"], 1),
        ("render out under a device file", ["MS", "render", "good.json", "di.wav", "--out",
                                            "/dev/null/x.wav"], 1),
        ("unknown subcommand", ["MS", "explode"], 2),
    ]
    # odd but fine: these must work (exit 0)
    rows += [
        ("match DI 8 channels", _match("target.wav", "eight_channels.wav"), 0),
        ("match DI 24-bit", _match("target.wav", "pcm24.wav", "--seed", "4294967295"), 0),
        ("match MAGICSTOMP_ANALYZER librosa", ["ENV", "MAGICSTOMP_ANALYZER=librosa",
                                               *_match()], 0),
        ("encode BOM json", ["MS", "encode", "bom.json", "--out", "NEW_SYX"], 0),
        ("decode good syx", ["MS", "decode", "good.syx"], 0),
        ("render 8 channels", ["MS", "render", "good.json", "eight_channels.wav", "--out",
                               "NEW_WAV"], 0),
        ("render 8-bit", ["MS", "render", "good.json", "u8.wav", "--out", "NEW_WAV"], 0),
        ("render 24-bit", ["MS", "render", "good.syx", "pcm24.wav", "--out", "NEW_WAV"], 0),
        ("render FLAC named .wav", ["MS", "render", "bom.json", "flac_named.wav", "--out",
                                    "NEW_WAV"], 0),
        ("send dry run to a new file", ["MS", "send", "good.json", "--dry-run", "NEW_SYX"], 0),
    ]
    return rows


ROWS = _rows()


def _resolve(args: list, files: Path, saved: Path) -> tuple:
    env = {}
    if args[0] == "ENV":
        key, value = args[1].split("=", 1)
        env[key] = value
        args = args[2:]
    command = auto_match if args[0] == "AUTO" else magicstomp
    swap = {"OUT": str(saved / "out"), "EXISTING_SYX": str(saved / "existing.syx"),
            "EXISTING_WAV": str(saved / "existing.wav"), "NEW_SYX": str(saved / "new.syx"),
            "NEW_WAV": str(saved / "new.wav")}
    resolved = []
    for arg in args[1:]:
        if arg in swap:
            resolved.append(swap[arg])
        elif "/" not in arg and arg.strip(".") and ((files / arg).exists()
                                                    or arg.startswith("missing")):
            resolved.append(str(files / arg))
        else:
            resolved.append(arg)
    return command, resolved, env


def test_the_table_has_at_least_200_rows():
    assert len(ROWS) >= 200
    assert len({row[0] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("case,args,code", ROWS, ids=[row[0] for row in ROWS])
def test_bad_and_edge_input(files, saved, monkeypatch, case, args, code):
    monkeypatch.delenv("JACK_DEFAULT_SERVER", raising=False)
    monkeypatch.delenv("MAGICSTOMP_ANALYZER", raising=False)
    command, argv, env = _resolve(args, files, saved)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = snapshot(saved)
    result = CliRunner().invoke(command, argv)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == code, (result.exit_code, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    after = snapshot(saved)
    if code == 0:
        assert errors == [], result.stderr
        assert {k: v for k, v in after.items() if k in before} == before
    else:
        assert len(errors) == 1, result.stderr
        assert after == before, sorted(set(after.items()) ^ set(before.items()))
