"""auto_match_hil on the virtual rig: every session file, through CliRunner and as a subprocess.

Audio: 3 s of the CC0 jazz DI (../shared/audio/di-cc0-jazz/jazz.wav, freesound user
Sub-d, sound 49658, CC0), and a target rendered from it by the virtual Magicstomp
through a Mono Delay patch with known settings.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from cli.report import fmt_loss, parse_report
from magicstomp.emulator import render, to_mono
from magicstomp.files import read_syx
from magicstomp.patch import Patch

REPO = Path(__file__).resolve().parents[1]
RATE_HZ = 44100
TRUE_VALUES = {"delay_time_ms": 220.0, "feedback_gain_pct": 30, "mix_pct": 40}
SESSION_SUFFIXES = ("_neutral.json", "_initial.json", "_optimized.json", "_initial.syx",
                    "_optimized.syx",
                    "_target.wav", "_di.wav", "_take_initial.wav", "_take_optimized.wav",
                    "_report.txt", "_history.csv", "_loss.png", "_spectra.png", "_mel.png",
                    "_session.json")


def write_pair(folder: Path, data_dir: Path, patch: Patch) -> tuple:
    """A 3 s jazz DI excerpt and its render through ``patch`` as (target.wav, di.wav) in ``folder``."""
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == RATE_HZ
    di = di[int(0.2 * sr):int(3.2 * sr)]
    sf.write(str(folder / "di.wav"), di, sr, subtype="FLOAT")
    sf.write(str(folder / "target.wav"), to_mono(render(patch, di, sr)), sr, subtype="FLOAT")
    return folder / "target.wav", folder / "di.wav"


@pytest.fixture(scope="module")
def audio_pair(data_dir, tmp_path_factory):
    patch = Patch.init("Mono Delay").with_values(**TRUE_VALUES)
    return write_pair(tmp_path_factory.mktemp("pair"), data_dir, patch)


def _args(pair, out, name, *extra):
    return [str(pair[0]), "--di-signal", str(pair[1]), "--out", str(out), "--session-name", name,
            "--effect-type", "Mono Delay", *extra]


def _read_history(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_session(folder: Path, name: str, *, budget: int, improved: bool = True) -> list:
    """Every file exists and holds valid content; returns the history rows."""
    for suffix in SESSION_SUFFIXES:
        assert (folder / f"{name}{suffix}").is_file(), suffix
    initial = Patch.load(folder / f"{name}_initial.json")
    optimized = Patch.load(folder / f"{name}_optimized.json")
    for tag, patch in (("initial", initial), ("optimized", optimized)):
        (assembled,) = read_syx(folder / f"{name}_{tag}.syx")
        assert Patch.from_payload(assembled.payload) == patch
    lengths = set()
    for suffix in ("_target.wav", "_di.wav", "_take_initial.wav", "_take_optimized.wav"):
        data, sr = sf.read(str(folder / f"{name}{suffix}"))
        assert sr == RATE_HZ and data.ndim == 1 and np.all(np.isfinite(data))
        assert np.max(np.abs(data)) > 1e-3
        lengths.add(data.size)
    assert len(lengths) == 1
    rows = _read_history(folder / f"{name}_history.csv")
    assert 1 <= len(rows) <= budget
    assert [int(r["index"]) for r in rows] == list(range(len(rows)))
    losses = [float(r["loss"]) for r in rows]
    report = parse_report((folder / f"{name}_report.txt").read_text())
    assert int(report["Takes"]) == len(rows)
    assert report["Initial loss"] == fmt_loss(losses[0]) == rows[0]["loss"]
    assert report["Final loss"] == fmt_loss(min(losses))
    if improved:
        assert float(report["Final loss"]) < float(report["Initial loss"])
    best_row = rows[int(report["Best take"])]
    for key, value in optimized.values().items():
        assert str(value) == best_row[key], key
    doc = json.loads((folder / f"{name}_session.json").read_text())
    assert doc["takes"] == len(rows) and doc["budget_takes"] == budget
    for png in ("_loss.png", "_spectra.png", "_mel.png"):
        assert (folder / f"{name}{png}").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(folder.parent.glob(f".{name}.partial-*"))
    return rows


def test_full_virtual_run_with_cli_runner(audio_pair, tmp_path):
    result = CliRunner().invoke(main, _args(audio_pair, tmp_path, "run1", "--optimize",
                                            "--optimizer", "coordinate", "--budget", "12",
                                            "--export-capture"))
    assert result.exit_code == 0, result.output + result.stderr
    folder = tmp_path / "run1"
    rows = check_session(folder, "run1", budget=12)
    assert len(rows) == 12
    assert "12 takes" in result.stdout and "initial loss" in result.stdout
    for name in ("input.wav", "output.wav"):
        info = sf.info(str(folder / name))
        assert (info.samplerate, info.channels, info.subtype) == (44100, 1, "FLOAT")
    di, _ = sf.read(str(folder / "input.wav"))
    original, _ = sf.read(str(audio_pair[1]))
    assert np.allclose(di, original[:di.size], atol=1e-6)


@pytest.mark.parametrize("optimizer,type_name,key", [
    ("coordinate", "Mono Delay", "mix_pct"),
    ("ours", "Amp Multi (Chorus)", "delay_level"),     # no screening of amp/speaker types
])
def test_optimize_params_restricts_the_search_to_those_fields(audio_pair, tmp_path, optimizer,
                                                              type_name, key):
    result = CliRunner().invoke(main, _args(audio_pair, tmp_path, "mix", "--optimize",
                                            "--optimizer", optimizer, "--budget", "8",
                                            "--effect-type", type_name, "--optimize-params", key))
    assert result.exit_code == 0, result.output + result.stderr
    rows = check_session(tmp_path / "mix", "mix", budget=8, improved=False)
    start = rows[0]
    params = Patch.init(type_name).effect_type.keys()
    moved = {k for row in rows for k in params if row[k] != start[k]}
    assert moved == {key}
    report = (tmp_path / "mix" / "mix_report.txt").read_text()
    assert f"Searched parameters (start = the analysis' starting patch, take 0):\n  {key}" in report


def test_without_optimize_only_the_starting_patch_is_measured(audio_pair, tmp_path):
    result = CliRunner().invoke(main, _args(audio_pair, tmp_path, "plain"))
    assert result.exit_code == 0, result.output + result.stderr
    rows = _read_history(tmp_path / "plain" / "plain_history.csv")
    assert len(rows) == 1 and rows[0]["label"] == "start"
    assert Patch.load(tmp_path / "plain" / "plain_initial.json") == \
        Patch.load(tmp_path / "plain" / "plain_optimized.json")


def test_max_iterations_sets_the_seeds_budget(audio_pair, tmp_path):
    result = CliRunner().invoke(main, _args(audio_pair, tmp_path, "passes", "--optimize",
                                            "--optimizer", "coordinate", "--max-iterations", "1",
                                            "--optimize-params", "delay_time_ms", "mix_pct"))
    assert result.exit_code == 0, result.stderr
    doc = json.loads((tmp_path / "passes" / "passes_session.json").read_text())
    assert doc["budget_takes"] == 1 + 2 * 2 * 1
    assert 1 <= doc["takes"] <= 5 and doc["parameters"] == ["delay_time_ms", "mix_pct"]


def test_force_replaces_an_existing_session(audio_pair, tmp_path):
    runner = CliRunner()
    marker = tmp_path / "again" / "stale.txt"
    marker.parent.mkdir()
    marker.write_text("old")                 # refusal without --force: see the bad-input tests
    replaced = runner.invoke(main, _args(audio_pair, tmp_path, "again", "--force"))
    assert replaced.exit_code == 0, replaced.stderr
    assert not marker.exists() and (tmp_path / "again" / "again_report.txt").is_file()


def test_session_name_cannot_escape_the_output_folder(audio_pair, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(audio_pair, out, "../../escape"))
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["escape"]
    assert not (tmp_path / "escape").exists()


def _subprocess_env():
    env = dict(os.environ)
    env.pop("JACK_DEFAULT_SERVER", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_full_virtual_run_as_a_script(audio_pair, tmp_path):
    cmd = [sys.executable, "cli/auto_match_hil.py",
           *_args(audio_pair, tmp_path, "script", "--optimize", "--optimizer", "coordinate",
                  "--budget", "10")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=_subprocess_env())
    assert proc.returncode == 0, proc.stderr
    check_session(tmp_path / "script", "script", budget=10)


def test_ctrl_c_leaves_a_valid_session_with_the_best_patch_so_far(audio_pair, tmp_path):
    cmd = [sys.executable, "-m", "cli.auto_match_hil",
           *_args(audio_pair, tmp_path, "cut", "--optimize", "--optimizer", "random",
                  "--budget", "5000", "--verbose")]  # random runs to its budget: no early stop
    def sigint_as_in_a_terminal():           # under nohup the child would inherit SIG_IGN
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_subprocess_env(), preexec_fn=sigint_as_in_a_terminal)
    takes_seen = 0
    deadline = time.monotonic() + 240
    while takes_seen < 4 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if "optimize.search: take " in line:      # one DEBUG line per recorded take
            takes_seen += 1
    assert takes_seen >= 4, "the search never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    rows = check_session(tmp_path / "cut", "cut", budget=5000, improved=False)
    assert 4 <= len(rows) < 5000
    report = (tmp_path / "cut" / "cut_report.txt").read_text()
    assert "Stopped: interrupted" in report


def test_excerpt_is_the_busiest_window_with_a_preroll(rng):
    sr = RATE_HZ
    di = 1e-4 * rng.standard_normal(10 * sr)
    t = np.arange(int(0.25 * sr)) / sr
    for onset_s in np.arange(6.0, 8.0, 0.25):          # notes only between 6 and 8 s
        start = int(onset_s * sr)
        di[start:start + t.size] += 0.3 * np.sin(2 * np.pi * 196 * t) * np.exp(-12 * t)
    from optimize.pairs import choose_excerpt
    excerpt = choose_excerpt(di, sr, seconds=2.0)
    assert excerpt.samples == 2 * sr
    assert 5.7 * sr <= excerpt.start <= 6.1 * sr
    assert excerpt.preroll == sr
    assert choose_excerpt(di, sr, seconds=None).samples == di.size


def test_follow_score_separates_same_and_different_performances(data_dir):
    from analyzers.loading import load_audio
    from optimize.pairs import follow_score

    def load(path):
        return load_audio(path, sample_rate=RATE_HZ).samples

    pairs = data_dir / "audio" / "pair-gulmini-neuralfx" / "audio"
    same_target, same_di = load(pairs / "target" / "002.flac"), load(pairs / "input" / "002.flac")
    n = min(same_target.size, same_di.size)
    other_di = load(pairs / "input" / "001.flac")
    assert follow_score(same_target[:n], same_di[:n], RATE_HZ) > 0.4
    m = min(same_target.size, other_di.size)
    assert follow_score(same_target[:m], other_di[:m], RATE_HZ) < 0.15


@pytest.mark.parametrize("name,expected", [
    ("my tone", "my_tone"), ("../../escape", "escape"), ("a/b\\c", "a_b_c"),
    (".hidden", "hidden"), ("Amp-Multi_1.2", "Amp-Multi_1.2"), ("x" * 100, "x" * 64),
])
def test_session_names_are_sanitised(name, expected):
    from cli.session import sanitize_session_name
    assert sanitize_session_name(name) == expected


def test_a_failed_session_leaves_nothing_behind(tmp_path):
    from cli.session import SessionWriter
    with pytest.raises(RuntimeError):
        with SessionWriter(tmp_path, "broken") as writer:
            writer.write_text("_report.txt", "half\n")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_progress_logs_plain_lines_off_a_terminal(caplog):
    import io
    import logging
    from types import SimpleNamespace

    from cli.progress import Progress
    from optimize.search import Take

    stream = io.StringIO()
    progress = Progress(20, stream=stream, tty=False, log_every=5)
    recorder = SimpleNamespace(best_loss=float("inf"))
    losses = [3.0, 2.0, 2.5, 2.5, 2.6, 2.7]
    with caplog.at_level(logging.INFO, logger="magicstomp.progress"):
        for i, loss in enumerate(losses):
            recorder.best_loss = min(recorder.best_loss, loss)
            progress(Take(i, {}, loss, {}, 0.01, ""), recorder)
    lines = [r.getMessage() for r in caplog.records]
    # take numbers as in the history (take 0 = the starting patch), the count beside them
    assert [line.split(":")[0] for line in lines] == ["take 0 (starting patch)", "take 1",
                                                      "take 4"]
    assert "(1 of 20 takes" in lines[0] and "(5 of 20 takes" in lines[-1]
    assert "best 2" in lines[-1] and stream.getvalue() == ""
    bar = io.StringIO()
    tty = Progress(4, stream=bar, tty=True)
    tty(Take(0, {}, 1.5, {}, 0.01, ""), SimpleNamespace(best_loss=1.5))
    tty.close()
    assert bar.getvalue().startswith("\r[") and "take 0 (1/4 takes)" in bar.getvalue()
    assert bar.getvalue().endswith("\n")
