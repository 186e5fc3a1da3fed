"""Bad input to auto_match_hil: exit 1 or 2, one line naming the problem, no session left.

Audio: the CC0 jazz DI (../shared/audio/di-cc0-jazz/jazz.wav, freesound user Sub-d, sound
49658, CC0) and a single guitar note from rerdavies/ToobAmp
(../shared/audio/di-toobamp-notes/Guitar-E2.flac, MIT) as an unrelated target.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch

RATE_HZ = 44100


@pytest.fixture(scope="module")
def files(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(2.7 * sr)]
    target = to_mono(render(Patch.init("Mono Delay"), di, sr))
    sf.write(str(folder / "di.wav"), di, sr)
    sf.write(str(folder / "target.wav"), target, sr)
    sf.write(str(folder / "silent.wav"), np.zeros(2 * sr), sr)
    sf.write(str(folder / "loud_di.wav"), di * (0.99 / np.max(np.abs(di))), sr, subtype="FLOAT")
    sf.write(str(folder / "short.wav"), di[:sr // 2], sr)
    nan = di.astype(np.float32).copy()
    nan[1000:1010] = np.nan
    sf.write(str(folder / "nan.wav"), nan, sr, subtype="FLOAT")
    (folder / "text.wav").write_text("this is not audio\n")
    (folder / "a_file").write_text("a file where a folder is expected\n")
    return {"dir": folder, "di": folder / "di.wav", "target": folder / "target.wav",
            "unrelated": data_dir / "audio" / "di-toobamp-notes" / "Guitar-E2.flac"}


def _base(files, out, **swap):
    target = str(swap.pop("target", files["target"]))
    di = str(swap.pop("di", files["di"]))
    return [target, "--di-signal", di, "--out", str(out), "--session-name", "s",
            "--effect-type", "Mono Delay"]


# (case id, extra arguments or replacements, expected exit code, words the message must name)
CASES = [
    ("missing target", {"target": "nope.wav"}, [], 1, ["target", "does not exist"]),
    ("missing DI", {"di": "nope.wav"}, [], 1, ["di", "does not exist"]),
    ("unreadable audio", {"target": "text.wav"}, [], 1, ["cannot be read"]),
    ("silent audio", {"di": "silent.wav"}, [], 1, ["silent"]),
    ("too short", {"target": "short.wav"}, [], 1, ["at least"]),
    ("NaN samples", {"di": "nan.wav"}, [], 1, ["NaN"]),
    ("unrelated target", {"target": "UNRELATED"}, [], 1, ["does not follow the DI"]),
    ("unknown effect type", {}, ["--effect-type", "Warp Drive"], 1, ["Warp Drive"]),
    ("type not emulated", {}, ["--effect-type", "Gate Reverb"], 1, ["does not emulate"]),
    ("unknown parameter", {}, ["--optimize-params", "warp_ms"], 2,
     ["warp_ms", "magicstomp types 0x0D"]),
    ("unknown optimizer", {}, ["--optimize", "--optimizer", "annealing"], 1,
     ["annealing", "coordinate"]),
    ("unknown loss", {}, ["--loss", "vibes"], 1, ["vibes", "seed"]),
    ("budget zero", {}, ["--budget", "0"], 2, ["--budget"]),
    ("budget not a number", {}, ["--budget", "many"], 2, ["--budget"]),
    ("slot without send", {}, ["--patch-number", "5"], 2, ["--send-patch"]),
    ("slot out of range", {}, ["--send-patch", "--patch-number", "100"], 2, ["--patch-number"]),
    ("excerpt too short", {}, ["--excerpt", "0.2"], 2, ["--excerpt"]),
    ("hardware without output", {}, ["--rig", "hardware", "--in-device", "x"], 2,
     ["--out-device"]),
    ("unknown audio device", {}, ["--in-device", "NoSuchCard", "--out-device", "NoSuchCard"],
     1, ["NoSuchCard"]),
    ("DI too loud for the sound card", {"di": "loud_di.wav", "target": "target.wav"},
     ["--in-device", "x", "--out-device", "y"], 1, ["-1.0 dBFS"]),
    ("unknown MIDI port", {}, ["--send-patch", "--midi-port", "NoSuchPort"], 1, ["MIDI"]),
    ("output folder is a file", {}, ["OUT_IS_FILE"], 1, ["a_file"]),
]


@pytest.mark.parametrize("case,swap,extra,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_no_session(files, tmp_path, monkeypatch, case, swap,
                                                     extra, code, words):
    monkeypatch.delenv("JACK_DEFAULT_SERVER", raising=False)
    swap = {k: (files["unrelated"] if v == "UNRELATED" else files["dir"] / v)
            for k, v in swap.items()}
    out = tmp_path / "out"
    args = _base(files, out, **swap)
    if extra == ["OUT_IS_FILE"]:
        out = files["dir"] / "a_file" / "out"
        args = _base(files, out, **swap)
        extra = []
    result = CliRunner().invoke(main, args + extra)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word.lower() in errors[0].lower(), (word, errors[0])
    if out.parent.is_dir():
        leftovers = list(out.iterdir()) if out.is_dir() else []
        assert leftovers == [], leftovers


def test_existing_session_is_not_overwritten(files, tmp_path):
    out = tmp_path / "out"
    (out / "s").mkdir(parents=True)
    keep = out / "s" / "keep.txt"
    keep.write_text("mine")
    result = CliRunner().invoke(main, _base(files, out))
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert keep.read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["s"]


def test_session_name_without_letters_is_refused(files, tmp_path):
    args = _base(files, tmp_path / "out")
    args[args.index("--session-name") + 1] = "../.."
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "--session-name" in result.stderr
