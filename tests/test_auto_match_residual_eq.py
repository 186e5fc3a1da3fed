"""Residual EQ in auto_match_hil: the fit after the search, its take, and the DAW exports.

Audio: 3 s of the CC0 jazz DI (../shared/audio/di-cc0-jazz/jazz.wav, freesound user
Sub-d, sound 49658, CC0); the target is rendered from it by the virtual Magicstomp
through a Distortion Multi (Chorus) patch whose post-EQ differs from the start.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from cli.report import parse_report
from cli.residual import export_residual
from cli.session import SessionWriter
from magicstomp.patch import Patch
from tests.test_auto_match_cli import RATE_HZ, _read_history, write_pair

TYPE_NAME = "Distortion Multi (Chorus)"
POST_EQ = ("post_gain_1_db", "post_gain_2_db", "post_gain_3_db", "post_gain_4_db")
QUIET = {"chorus_level": 0.0, "delay_level": 0.0, "reverb_level": 0.0}


@pytest.fixture(scope="module")
def eq_pair(data_dir, tmp_path_factory):
    hidden = Patch.init(TYPE_NAME).with_values(preamp_gain=3.0, post_gain_1_db=-6.0,
                                               post_gain_3_db=8.0, **QUIET)
    return write_pair(tmp_path_factory.mktemp("eqpair"), data_dir, hidden)


def _run(pair, out, name, *extra, params=("preamp_gain", *POST_EQ)):
    args = [str(pair[0]), "--di-signal", str(pair[1]), "--out", str(out), "--session-name", name,
            "--effect-type", TYPE_NAME, "--optimize", "--optimizer", "coordinate",
            "--optimize-params", *params, "--budget", "4", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    return out / name


def _read_curve(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["frequency_hz", "gain_db"]
    freqs = np.array([float(r[0]) for r in rows[1:]])
    gains = np.array([float(r[1]) for r in rows[1:]])
    return freqs, gains


def _band_rms_db(freqs, gains):
    band = (freqs >= 60) & (freqs <= 12000)
    return float(np.sqrt(np.mean(gains[band] ** 2)))


def _ir_response_db(ir, freqs_hz):
    n_fft = 1 << 16
    spectrum = 20 * np.log10(np.abs(np.fft.rfft(ir, n_fft)) + 1e-12)
    grid = np.fft.rfftfreq(n_fft, 1.0 / RATE_HZ)
    return np.interp(freqs_hz, grid, spectrum)


def test_run_fits_the_post_eq_keeps_a_better_take_and_exports(eq_pair, tmp_path):
    folder = _run(eq_pair, tmp_path, "eq")
    rows = _read_history(folder / "eq_history.csv")
    assert len(rows) <= 4                                   # the budget holds, take included
    labels = [r["label"] for r in rows]
    assert labels.count("residual-eq") == 1 and labels[-1] == "residual-eq"
    eq_row = rows[-1]
    assert float(eq_row["post_gain_3_db"]) > float(rows[0]["post_gain_3_db"]) + 2.0
    report_text = (folder / "eq_report.txt").read_text()
    report = parse_report(report_text)
    losses = [float(r["loss"]) for r in rows]
    assert float(eq_row["loss"]) < min(losses[:-1])         # the fitted EQ wins here
    assert int(report["Best take"]) == len(rows) - 1
    assert Patch.load(folder / "eq_optimized.json").get("post_gain_3_db") == pytest.approx(
        float(eq_row["post_gain_3_db"]))
    assert "Residual EQ" in report_text and "post_gain_3_db" in report_text
    assert "kept" in report_text and "eq_residual_eq.csv" in report_text

    freqs, gains = _read_curve(folder / "eq_residual_eq.csv")
    assert freqs.size >= 20 and np.all(np.diff(freqs) > 0)
    assert np.all(np.abs(gains) <= 12.0) and np.all(np.isfinite(gains))
    assert _band_rms_db(freqs, gains) < 1.0      # the fitted post-EQ leaves little behind
    ir, sr = sf.read(str(folder / "eq_correction_ir.wav"))
    assert sr == RATE_HZ and ir.ndim == 1 and np.all(np.isfinite(ir))
    probe = np.array([200.0, 500.0, 1000.0, 2500.0, 5000.0])
    want = np.interp(np.log(probe), np.log(freqs), gains)
    got = _ir_response_db(ir, probe)
    np.testing.assert_allclose(got - got.mean(), want - want.mean(), atol=1.5)
    doc = json.loads((folder / "eq_session.json").read_text())
    assert doc["residual_eq"]["kept"] is True
    assert {"eq_residual_eq.csv", "eq_correction_ir.wav"} <= set(doc["files"])


@pytest.mark.parametrize("extra,params,reason", [
    (("--no-residual-eq",), ("preamp_gain", *POST_EQ), "not fitted: --no-residual-eq"),
    ((), ("preamp_gain",), "not fitted: --optimize-params names none of the EQ controls"),
])
def test_no_residual_eq_skips_the_fit_but_still_exports(eq_pair, tmp_path, extra, params,
                                                        reason):
    folder = _run(eq_pair, tmp_path, "plain", *extra, params=params)
    rows = _read_history(folder / "plain_history.csv")
    assert "residual-eq" not in [r["label"] for r in rows]
    assert {r["post_gain_3_db"] for r in rows} == {rows[0]["post_gain_3_db"]}
    assert reason in (folder / "plain_report.txt").read_text()
    assert len(rows) == 4                                   # every take goes to the search
    freqs, gains = _read_curve(folder / "plain_residual_eq.csv")
    assert _band_rms_db(freqs, gains) > 2.0  # the post-EQ difference the search did not touch
    assert gains[(freqs >= 600) & (freqs <= 2000)].max() > 1.0      # the +8 dB mid band
    assert gains[(freqs >= 60) & (freqs <= 125)].min() < -3.0        # the -6 dB low band
    assert (folder / "plain_correction_ir.wav").is_file()


def test_curve_of_a_known_tilt(tmp_path, rng):
    """Target = take through a +1.5 dB/octave tilt: the exported curve is that tilt.

    (Level matching shifts the curve; 1.5 dB/octave keeps it inside the +/-12 dB clip.)
    """
    n = 4 * RATE_HZ
    take = rng.standard_normal(n) * 0.1
    freqs = np.fft.rfftfreq(n, 1.0 / RATE_HZ)
    tilt_db = 1.5 * np.log2(np.maximum(freqs, 20.0) / 1000.0)
    target = np.fft.irfft(np.fft.rfft(take) * 10 ** (tilt_db / 20), n)
    with SessionWriter(tmp_path, "tilt") as writer:
        exported = export_residual(writer, target, take, RATE_HZ)
        folder = writer.commit()
    assert exported["files"] == ["tilt_residual_eq.csv", "tilt_correction_ir.wav"]
    curve_f, curve_db = _read_curve(folder / "tilt_residual_eq.csv")
    band = (curve_f >= 125) & (curve_f <= 8000)
    slope, offset = np.polyfit(np.log2(curve_f[band]), curve_db[band], 1)
    assert slope == pytest.approx(1.5, abs=0.15)
    residual = curve_db[band] - (slope * np.log2(curve_f[band]) + offset)
    assert np.max(np.abs(residual)) < 1.0
    ir, _ = sf.read(str(folder / "tilt_correction_ir.wav"))
    got = _ir_response_db(ir, np.array([250.0, 4000.0]))
    assert got[1] - got[0] == pytest.approx(1.5 * 4, abs=1.0)      # 4 octaves at 1.5 dB


@pytest.fixture(scope="module")
def eq_search(eq_pair):
    """A Pair, its whole-DI Excerpt and a one-take search result at the flat post-EQ patch."""
    from optimize.pairs import Excerpt, Pair
    from optimize.search import SearchResult, Take

    target, _ = sf.read(str(eq_pair[0]))
    di, _ = sf.read(str(eq_pair[1]))
    pair = Pair(target=target, di=di, sample_rate=RATE_HZ)
    start = Patch.init(TYPE_NAME).with_values(preamp_gain=3.0, **QUIET)
    result = SearchResult(best_patch=start, best_loss=1.0, initial_loss=1.0, best_index=0,
                          history=[Take(0, start.values(), 1.0, {}, 0.1, "start")])
    return pair, Excerpt(0, di.size, 0), result


@pytest.mark.parametrize("take_loss,kept", [(0.4, True), (3.0, False)])
def test_the_residual_eq_take_is_kept_only_if_lower(eq_search, take_loss, kept):
    from optimize.match_residual import residual_eq_step

    pair, excerpt, result = eq_search
    measured = []

    def evaluate(patch):
        measured.append(patch)
        return take_loss

    new, info = residual_eq_step(result, pair=pair, excerpt=excerpt, evaluate=evaluate,
                                 budget_takes=2)
    assert len(measured) == 1 and len(result.history) == 1       # one take; input untouched
    assert [t.label for t in new.history] == ["start", "residual-eq"]
    assert new.history[1].loss == take_loss and info["kept"] is kept
    assert measured[0].get("post_gain_3_db") > 3.0 and measured[0].get("post_gain_1_db") < -1.0
    assert new.best_loss == min(1.0, take_loss)
    assert (new.best_patch == measured[0]) is kept and new.best_index == (1 if kept else 0)


def test_no_take_is_made_past_the_budget(eq_search):
    from cli.residual import report_lines
    from optimize.match_residual import residual_eq_step

    pair, excerpt, result = eq_search
    new, info = residual_eq_step(result, pair=pair, excerpt=excerpt,
                                 evaluate=lambda p: pytest.fail("a take past the budget"),
                                 budget_takes=1)
    assert new is result and "budget" in info["skipped"]
    assert any("not fitted" in line for line in report_lines(info))


@pytest.mark.parametrize("prefer", ["half", "full"])
def test_the_model_chooses_the_strength_of_the_fit(eq_search, prefer):
    """The fit minimizes the spectral residual; the model scores it, and the fit at half
    strength, with the match's loss and the lower one gets the one take."""
    from optimize.match_residual import residual_eq_step

    pair, excerpt, result = eq_search
    start = result.best_patch
    scored, measured = [], []

    def model_evaluate(patch):
        scored.append(patch)
        moved = abs(patch.get("post_gain_3_db") - start.get("post_gain_3_db"))
        return 1.0 - 0.01 * moved if prefer == "full" else 0.9 + 0.01 * (moved - 3.0) ** 2

    new, info = residual_eq_step(result, pair=pair, excerpt=excerpt,
                                 evaluate=lambda p: measured.append(p) or 0.5, budget_takes=2,
                                 model_evaluate=model_evaluate)
    assert len(scored) == 3 and scored[0] == start              # the search's best, fit, half
    assert info["strength"] == prefer and len(measured) == 1
    full_gain = scored[1].get("post_gain_3_db")
    gain = measured[0].get("post_gain_3_db")
    if prefer == "full":
        assert gain == full_gain
    else:
        assert abs(gain - 0.5 * (full_gain + start.get("post_gain_3_db"))) <= 0.6
    assert new.best_patch == measured[0] and info["kept"]
