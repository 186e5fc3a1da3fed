"""``python -m analyzers align|analyze``: JSON on stdout, one-line errors, exit codes."""

import json

import numpy as np
import soundfile as sf
from click.testing import CliRunner

from analyzers.__main__ import main

SR = 44100


def _write_pair(tmp_path, offset_samples=2205):
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    di = np.zeros(t.size)
    for start_s in (0.2, 0.9, 1.5, 2.2):
        k = int(start_s * SR)
        n = t.size - k
        di[k:] += np.sin(2 * np.pi * rng.uniform(100, 400) * t[:n]) * np.exp(-t[:n] / 0.15)
    di *= 0.3
    target = -0.5 * np.r_[np.zeros(offset_samples), di]
    sf.write(tmp_path / "di.wav", di, SR, subtype="PCM_24")
    sf.write(tmp_path / "target.wav", np.column_stack([target, target]), SR, subtype="PCM_24")
    return tmp_path / "target.wav", tmp_path / "di.wav"


def test_align_prints_the_record(tmp_path):
    target, di = _write_pair(tmp_path)
    result = CliRunner().invoke(main, ["align", str(target), "--di", str(di)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert abs(doc["offset_samples"] - 2205) <= 1 and doc["polarity"] == -1
    assert doc["level_db"] == np.round(doc["level_db"], 3)
    assert abs(doc["level_db"] + 6.02) < 0.1 and doc["method"] == "waveform"


def test_analyze_prints_the_neutral_patch(tmp_path):
    target, di = _write_pair(tmp_path)
    result = CliRunner().invoke(main, ["analyze", str(target), "--di", str(di), "--rate", "44100"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["format"] == "magicstomp-neutral-patch"
    assert doc["features"]["alignment"]["offset_samples"] in range(2204, 2207)
    assert doc["suggested_effect_type"]["name"]


def test_errors_are_one_line_exit_1(tmp_path):
    result = CliRunner().invoke(main, ["align", str(tmp_path / "missing.wav"), "--di",
                                       str(tmp_path / "missing2.wav")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: the DI file")
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["analyze", "x.wav", "--backend", "madmom"])
    assert result.exit_code == 2          # a usage error from click
