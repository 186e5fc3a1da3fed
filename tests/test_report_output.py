"""What a guitarist meets in the output of auto_match_hil: report, console, session.json, plots.

Audio: 3 s of the CC0 jazz DI (tests/data/audio/di-cc0-jazz, freesound user Sub-d,
sound 49658, CC0); the target is rendered from it by the virtual Magicstomp through a
Distortion Multi (Chorus) patch whose post-EQ (not in the type's default search
space) differs from the starting patch, so the residual-EQ fit has work to do.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from cli.report import METRIC_HELP, bypass_reading, format_report, parse_report
from magicstomp.files import read_syx
from magicstomp.patch import DISPLAY_CHARS, NAME_CHARS, Patch, patch_name_from
from optimize.objective import MatchLoss
from optimize.reference import bypass_loss, compare_to_bypass
from tests.test_auto_match_cli import RATE_HZ, _read_history, write_pair

TYPE_NAME = "Distortion Multi (Chorus)"
QUIET = {"chorus_level": 0.0, "delay_level": 0.0, "reverb_level": 0.0}
SESSION = "my_tone"
BUDGET = 5


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    """One small run on the virtual rig (coordinate search, 5 takes, residual EQ on).

    The seed's space, so the EQ controls the residual EQ fits are not searched and the
    report lists them under their own heading (the wide space searches them too)."""
    hidden = Patch.init(TYPE_NAME).with_values(preamp_gain=3.0, post_gain_1_db=-6.0,
                                               post_gain_3_db=8.0, **QUIET)
    pair = write_pair(tmp_path_factory.mktemp("pair"), data_dir, hidden)
    out = tmp_path_factory.mktemp("out")
    args = [str(pair[0]), "--di-signal", str(pair[1]), "--out", str(out), "--session-name",
            SESSION, "--effect-type", TYPE_NAME, "--optimize", "--optimizer", "coordinate",
            "--budget", str(BUDGET), "--excerpt", "2.5", "--analyzer", "librosa",
            "--search-space", "seed"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    folder = out / SESSION
    return {"result": result, "folder": folder, "pair": pair,
            "report": (folder / f"{SESSION}_report.txt").read_text(),
            "doc": json.loads((folder / f"{SESSION}_session.json").read_text()),
            "rows": _read_history(folder / f"{SESSION}_history.csv")}


# -- 1. next step ------------------------------------------------------------------------------
def _command_after(text: str, marker: str) -> list:
    line = next(ln for ln in text.splitlines() if marker in ln)
    return shlex.split(line.split(marker, 1)[1].split("   (")[0])


def test_console_and_report_give_the_exact_command_to_send_the_patch(run, tmp_path):
    from cli.magicstomp_cli import main as magicstomp
    from cli.magicstomp_device import send_cmd

    syx = run["folder"] / f"{SESSION}_optimized.syx"
    words = _command_after(run["result"].stdout, "Next step: magicstomp send ")
    assert Path(words[0]) == syx and syx.is_file()
    assert "--slot N --yes" in run["result"].stdout and "--send-patch" in run["result"].stdout
    report_cmd = _command_after(run["report"], "edit buffer (plays now, not stored): ")
    assert report_cmd == ["magicstomp", "send", str(syx)]
    store = _command_after(run["report"], "(all 99 user patches are backed up first): ")
    assert store == ["magicstomp", "send", str(syx), "--slot", "N", "--yes"]
    assert "--send-patch --patch-number N" in run["report"]
    # the commands are real: the edit-buffer one writes the patch of the session ...
    dry = tmp_path / "sent.syx"
    sent = CliRunner().invoke(magicstomp, report_cmd[1:] + ["--dry-run", str(dry)])
    assert sent.exit_code == 0, sent.output + sent.stderr
    (message,) = read_syx(dry)
    assert Patch.from_payload(message.payload) == Patch.load(run["folder"] / f"{SESSION}"
                                                                            f"_optimized.json")
    # ... and the store form parses as send's own options with N = 5
    ctx = send_cmd.make_context("send", [a.replace("N", "5") if a == "N" else a
                                         for a in store[2:]])
    assert ctx.params["slot"] == 5 and ctx.params["yes"] is True
    assert run["doc"]["next_step"]["edit_buffer"] == " ".join(report_cmd)


# -- 2. bypass reference ---------------------------------------------------------------------
def test_bypass_loss_is_the_dry_di_scored_like_a_take(run):
    target, sr = sf.read(str(run["folder"] / f"{SESSION}_target.wav"))
    di, _ = sf.read(str(run["folder"] / f"{SESSION}_di.wav"))
    excerpt = next(n for n in run["doc"]["notes"] if n.startswith("matched on"))
    start_s, stop_s = (float(v) for v in re.findall(r"([\d.]+)-([\d.]+) s", excerpt)[0])
    a, b = int(round(start_s * sr)), int(round(stop_s * sr))
    want = bypass_loss(MatchLoss(target[a:b], sr, di=di[a:b]), di[a:b])
    doc = run["doc"]
    assert doc["bypass_loss"] == pytest.approx(want, rel=0.02)
    assert doc["final_to_bypass"] == pytest.approx(doc["final_loss"] / doc["bypass_loss"])
    header = parse_report(run["report"])
    assert float(header["Bypass loss"].split()[0]) == pytest.approx(doc["bypass_loss"], rel=1e-5)
    # the hidden patch distorts: the dry DI is far from the target, the match is much closer
    assert doc["bypass_verdict"] == "much closer" and doc["final_to_bypass"] < 0.5
    pct = round(100 * doc["final_to_bypass"])
    assert header["Reading"].startswith(f"final loss {doc['final_loss']:.3g} = {pct} % of the "
                                        f"dry DI's {doc['bypass_loss']:.3g}: much closer")
    assert header["Reading"] in run["result"].stdout
    assert f"bypass (dry DI) {header['Bypass loss'].split()[0]}" in run["result"].stdout


def test_bypass_loss_known_answers():
    rng = np.random.default_rng(7)
    di = rng.standard_normal(2 * RATE_HZ) * 0.1
    assert bypass_loss(MatchLoss(di, RATE_HZ), di) == pytest.approx(0.0, abs=1e-9)
    assert bypass_loss(lambda x: float("nan"), di) == float("inf")
    assert compare_to_bypass(0.61, 2.17).verdict == "much closer"
    assert compare_to_bypass(0.61, 2.17).percent == pytest.approx(28.11, abs=0.01)
    assert compare_to_bypass(1.5, 2.0).verdict == "closer"
    assert compare_to_bypass(1.9, 2.0).verdict == "barely closer"
    assert compare_to_bypass(2.0, 2.0).verdict == "not better"
    assert compare_to_bypass(1.0, 0.0).verdict == "unknown"
    assert bypass_reading(0.61, 2.17) == ("final loss 0.61 = 28 % of the dry DI's 2.17: much "
                                          "closer to the target than doing nothing")
    worse = bypass_reading(2.5, 2.17)
    assert worse.startswith("WARNING: final loss 2.5 = 115 % of the dry DI's 2.17") \
        and "NOT closer" in worse


# -- 3. patch name ----------------------------------------------------------------------------
def test_patch_is_named_after_the_session(run):
    for tag in ("initial", "optimized"):
        assert Patch.load(run["folder"] / f"{SESSION}_{tag}.json").name == "my tone"
        (message,) = read_syx(run["folder"] / f"{SESSION}_{tag}.syx")
        assert Patch.from_payload(message.payload).name == "my tone"
    assert parse_report(run["report"])["Patch name"] == "my tone"
    assert run["doc"]["patch_name"] == "my tone"


@pytest.mark.parametrize("text,want", [
    ("my_tone", "my tone"), ("Überdrive_2024!", "Uberdrive 20"), ("a/b\\c", "a-b-c"),
    ("  lead   solo ", "lead solo"), ("session-20260101-120000", "session-2026"),
    ("___", "KEEP"), ("", "KEEP"), ("日本", "KEEP"),
])
def test_patch_name_from_keeps_to_the_units_characters(text, want):
    name = patch_name_from(text, default="KEEP")
    assert name == want
    assert len(name) <= NAME_CHARS and set(name) <= DISPLAY_CHARS


# -- 4. take numbers --------------------------------------------------------------------------
def test_take_numbers_agree_everywhere(run):
    rows, doc = run["rows"], run["doc"]
    assert [int(r["index"]) for r in rows] == list(range(len(rows)))
    best = min(range(len(rows)), key=lambda i: float(rows[i]["loss"]))
    assert int(parse_report(run["report"])["Best take"]) == best == doc["best_take"]
    assert f"best take {best} (take 0 = the starting patch)" in run["result"].stdout
    assert rows[0]["label"] == "start" and rows[-1]["label"] == "residual-eq"
    assert f"(take {len(rows) - 1}, kept)" in run["report"]
    # the console's progress lines carry the history's numbers: "take N: loss L ..."
    took = [ln for ln in run["result"].stderr.splitlines() if ln.startswith("take ")]
    assert took[0].startswith(f"take 0 (starting patch): loss {float(rows[0]['loss']):.5g}")
    for line in took[1:]:
        index, loss = re.match(r"take (\d+): loss ([\d.e+-]+)", line).groups()
        assert float(loss) == pytest.approx(float(rows[int(index)]["loss"]), rel=1e-4)


# -- 5. headings name the step ----------------------------------------------------------------
def test_report_headings_say_which_step_changed_each_value(run):
    report = run["report"]
    eq = run["doc"]["residual_eq"]
    assert eq["kept"] is True and "post_gain_3_db" in eq["changes"]
    section = report.split("Other parameters changed by the residual-EQ fit")[1].split(":\n", 1)[1]
    section = section.split("\n\n")[0].split("Other parameters")[0]
    changed = {ln.split()[0] for ln in section.splitlines()}
    assert changed == set(eq["changes"])
    old, new = eq["changes"]["post_gain_3_db"]
    line = next(ln for ln in section.splitlines() if ln.split()[0] == "post_gain_3_db")
    assert f"(start {old} dB -> residual-EQ fit {new} dB)" in line
    assert "screening" not in section
    unchanged = report.split("Other parameters (not searched, unchanged from the starting "
                             "patch):")[1].split("\n\n")[0]
    assert "post_gain_3_db" not in unchanged and "->" not in unchanged


def test_headings_separate_search_screening_and_residual_eq():
    from optimize.constraints import ParameterSpace
    from optimize.search import SearchResult, Take

    start = Patch.init("Amp Multi (Chorus)").with_values(treble=8.0, presence=5.0)
    searched = start.with_values(treble=6.0, amplifier_type="Lead 1")
    final = searched.with_values(treble=7.0, bass=2.0)
    history = [Take(0, start.values(), 2.0, {}, 0.1, "start"),
               Take(1, searched.values(), 1.0, {}, 0.1, "treble-"),
               Take(2, final.values(), 0.9, {}, 0.1, "residual-eq")]
    result = SearchResult(final, 0.9, 2.0, history, "budget", 2)
    text = format_report(session="s", result=result,
                         space=ParameterSpace("Amp Multi (Chorus)", ["treble", "presence"]),
                         rig={"rig": "VirtualRig", "sample_rate": RATE_HZ}, optimizer="ours",
                         budget_takes=3, seconds=1.0, bypass_loss=2.4,
                         eq_changes={"treble": (6.0, 7.0), "bass": (5.0, 2.0)})
    lines = text.splitlines()

    def after(heading):
        i = next(i for i, ln in enumerate(lines) if ln.startswith(heading))
        block = []
        for ln in lines[i + 1:]:
            if not ln.startswith("  "):
                break
            block.append(ln)
        return {ln.split()[0]: ln for ln in block}

    searched_block = after("Searched parameters")
    assert searched_block["treble"].endswith("(start 8.0 -> search 6.0 -> residual-EQ fit 7.0)")
    assert "(" not in searched_block["presence"]
    screening = after("Other parameters changed by the search")
    assert set(screening) == {"amplifier_type"}
    assert screening["amplifier_type"].endswith(
        f"(start {start.get('amplifier_type')} -> search Lead 1)")
    assert set(after("Other parameters changed by the residual-EQ fit")) == {"bass"}
    assert "bass" not in after("Other parameters (not searched, unchanged")
    assert parse_report(text)["Reading"].startswith("final loss 0.9 = 38 % of the dry DI's 2.4")


# -- 6. metric panel explained ----------------------------------------------------------------
def test_every_metric_is_explained_and_the_dry_di_shown(run):
    panel = run["doc"]["metric_panel"]
    assert set(panel) <= set(METRIC_HELP) and len(panel) >= 9
    lines = run["report"].splitlines()
    for name in panel:
        i = lines.index(next(ln for ln in lines if ln.startswith(f"  {name}: ")))
        assert "(dry DI: " in lines[i]
        assert lines[i + 1].strip() == METRIC_HELP[name]
        assert set(panel[name]) == {"initial", "optimized", "bypass"}
    assert "better" in METRIC_HELP["mrstft"] and "rise while the sound gets closer" in \
        METRIC_HELP["esr"]


# -- 7. plots ---------------------------------------------------------------------------------
def _signals(seconds=2.0):
    import scipy.signal as ss

    rng = np.random.default_rng(3)
    noise = rng.standard_normal(int(seconds * RATE_HZ)) * 0.1
    dark = ss.sosfilt(ss.butter(4, 1000, fs=RATE_HZ, output="sos"), noise)
    return {"target": noise, "initial take": dark * 3.0, "optimized take": dark}


def test_spectra_axes_show_the_top_70_db_and_a_difference_panel():
    from cli.plots import SPECTRA_HEADROOM_DB, SPECTRA_RANGE_DB, spectra_figure

    freqs = np.geomspace(40, 16000, 20)
    correction = (freqs, np.where(freqs > 2000, 6.0, 0.0))
    signals = _signals()
    fig = spectra_figure(signals, RATE_HZ, correction=correction)
    spectra_ax, diff_ax = fig.axes
    peak = max(np.nanmax(line.get_ydata()) for line in spectra_ax.get_lines())
    bottom, top = spectra_ax.get_ylim()
    assert top == pytest.approx(peak + SPECTRA_HEADROOM_DB)
    assert bottom == pytest.approx(peak - SPECTRA_RANGE_DB) and bottom > -150
    labels = [ln.get_label() for ln in diff_ax.get_lines()]
    assert "target - optimized take" in labels and "residual-EQ correction (CSV/IR)" in labels
    diff = diff_ax.get_lines()[labels.index("target - optimized take")]
    x, y = diff.get_xdata(), diff.get_ydata()
    # the take is level-matched by RMS: under the 1 kHz low-pass it sits higher by the gain
    gain_db = 20 * np.log10(np.std(signals["target"]) / np.std(signals["optimized take"]))
    low = np.nanmedian(y[(x > 200) & (x < 500)])
    assert low == pytest.approx(-gain_db, abs=1.5)
    assert np.nanmedian(y[(x > 4000) & (x < 8000)]) - low > 20      # the take lacks the highs
    lo, hi = diff_ax.get_ylim()
    assert lo == -hi and 6 <= hi <= 24
    assert diff_ax.get_xlabel() == "frequency (Hz)" and "dB" in diff_ax.get_ylabel()


def test_loss_plot_counts_takes_from_0_and_shows_the_bypass_line():
    from cli.plots import loss_figure
    from optimize.search import Take

    history = [Take(i, {}, loss, {}, 0.1, "") for i, loss in enumerate([2.0, 1.5, 1.8, 1.2])]
    ax = loss_figure(history, bypass_loss=2.3).axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_array_equal(lines["take"].get_xdata(), [0, 1, 2, 3])
    np.testing.assert_array_equal(lines["best so far"].get_ydata(), [2.0, 1.5, 1.5, 1.2])
    assert list(lines["bypass (dry DI)"].get_ydata()) == [2.3, 2.3]
    assert ax.get_xlabel() == "take (0 = the starting patch)"


def test_mel_axis_is_labelled_in_hz():
    import librosa

    from cli.plots import mel_figure, mel_ticks

    fig = mel_figure(_signals(1.0), RATE_HZ)
    first = fig.axes[0]
    assert "Hz" in first.get_ylabel()
    labels = [t.get_text() for t in first.get_yticklabels()]
    assert labels == ["100", "250", "500", "1k", "2k", "4k", "8k"]
    positions, _ = mel_ticks(64, 8000.0)
    centres = librosa.mel_frequencies(66, fmin=0.0, fmax=8000.0)[1:-1]
    band = int(np.floor(positions[3] - 0.5))      # band i is drawn over [i, i + 1]: 1 kHz tick
    assert centres[band] <= 1000.0 <= centres[band + 1]
    np.testing.assert_allclose(first.get_yticks(), positions)


# -- 8. progress ------------------------------------------------------------------------------
def test_the_console_talks_before_and_after_the_search(run):
    err = run["result"].stderr.splitlines()
    matching = next(i for i, ln in enumerate(err) if ln.startswith("matching "))
    before = err[:matching]
    for start in ("starting: the virtual Magicstomp", "loading the target", "aligned: target "
                  "offset", "analysing the target (librosa)", "starting patch: " + TYPE_NAME):
        assert any(ln.startswith(start) for ln in before), start
    after = err[matching:]
    for start in ("fitting the residual spectrum", "writing the session my_tone",
                  "scoring the metric panel", "drawing the plots"):
        assert any(ln.startswith(start) for ln in after), start
    assert all(not ln.startswith("Session ") for ln in err)      # the summary is on stdout


# -- 9. README truths -------------------------------------------------------------------------
def test_verbose_logs_the_backend_choice(run, caplog):
    pair = run["pair"]
    with caplog.at_level(logging.DEBUG, logger="magicstomp.auto_match"):
        result = CliRunner().invoke(main, [str(pair[0]), "--di-signal", str(pair[1]), "--out",
                                           str(run["folder"].parent), "--session-name", "verb",
                                           "--effect-type", TYPE_NAME, "--verbose"])
    assert result.exit_code == 0, result.output + result.stderr
    text = result.stderr + "\n".join(r.getMessage() for r in caplog.records)
    assert "rig: VirtualRig (rig=VirtualRig, sample_rate=44100" in text
    assert "analyzer backend: librosa (analyzers.librosa_backend." in text
    assert "loss: match (MatchLoss); optimizer: none (no --optimize" in text


def test_session_json_records_every_option(run):
    options = run["doc"]["options"]
    from cli.auto_match_hil import main as command

    names = {p.name for p in command.params}
    assert names <= set(options)
    assert options["excerpt"] == 2.5 and options["analyzer"] == "librosa"
    assert options["no_residual_eq"] is False and options["optimizer"] == "coordinate"
    assert options["budget"] == BUDGET and options["sample_rate"] == RATE_HZ
    assert options["effect_type"] == TYPE_NAME and options["session_name"] == SESSION


def test_residual_eq_csv_is_0_db_at_and_beyond_the_fade_limits(run):
    with open(run["folder"] / f"{SESSION}_residual_eq.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    freqs = np.array([float(r["frequency_hz"]) for r in rows])
    gains = np.array([float(r["gain_db"]) for r in rows])
    outside = (freqs <= 60.0) | (freqs >= 12000.0)
    assert outside.sum() >= 3 and np.all(gains[outside] == 0.0)
    assert np.max(np.abs(gains[(freqs > 200) & (freqs < 5000)])) > 0.0


def test_fade_and_ir_are_0_db_outside_60_hz_12_khz():
    from optimize.residual_eq import correction_ir, fade_weight, smooth_curve

    freqs = np.array([20.0, 39.4, 60.0, 62.5, 84.9, 1000.0, 8485.0, 12000.0, 12699.2, 16000.0])
    flat = np.full(freqs.size, 10.0)
    curve = smooth_curve(freqs, flat)
    np.testing.assert_array_equal(curve[[0, 1, 2, 7, 8, 9]], 0.0)
    assert curve[5] == 10.0 and curve[4] == pytest.approx(10.0, abs=0.01)   # half an octave in
    assert 0.0 < curve[3] < 0.5 and np.all(np.diff(fade_weight(freqs[:6])) >= 0)
    grid = np.geomspace(25, 20000, 31)
    ir = correction_ir(grid, np.full(grid.size, 10.0), RATE_HZ)
    n_fft = 1 << 16
    response_db = 20 * np.log10(np.abs(np.fft.rfft(ir, n_fft)) + 1e-12)
    at = np.fft.rfftfreq(n_fft, 1.0 / RATE_HZ)
    for f_hz, want_db in ((30.0, 0.0), (50.0, 0.0), (1000.0, 10.0), (14000.0, 0.0),
                          (18000.0, 0.0)):
        got = float(np.interp(f_hz, at, response_db))
        assert got == pytest.approx(want_db, abs=0.6), f_hz


def test_metric_panel_reuses_one_seed_loss_with_the_same_answer():
    import scipy.signal as ss

    from optimize.loss import SeedLoss, metric_panel

    signals = _signals(1.5)
    target = signals["target"]
    take = ss.sosfilt(ss.butter(2, 3000, fs=RATE_HZ, output="sos"), target)
    seed = SeedLoss(target, RATE_HZ)
    fresh = metric_panel(take, target, RATE_HZ)
    reused = metric_panel(take, target, RATE_HZ, seed_loss=seed)
    assert reused["seed_loss"] == pytest.approx(fresh["seed_loss"], rel=1e-9)
    assert reused["seed_loss"] > 0.1
    shorter = metric_panel(take[:RATE_HZ], target, RATE_HZ, seed_loss=seed)   # not the same target
    assert shorter["seed_loss"] == pytest.approx(metric_panel(take[:RATE_HZ], target,
                                                              RATE_HZ)["seed_loss"], rel=1e-9)


def test_console_summary_quotes_the_path_and_says_when_the_patch_was_sent(tmp_path):
    from cli.pipeline import summary_lines
    from cli.report import next_step_lines
    from optimize.search import SearchResult, Take

    patch = Patch.init("Mono Delay")
    history = [Take(0, patch.values(), 2.0, {}, 0.1, "start"),
               Take(1, patch.values(), 2.5, {}, 0.1, "x")]
    result = SearchResult(patch, 2.0, 2.0, history, "budget", 0)
    folder = tmp_path / "my out" / "s"
    lines = summary_lines(folder, result, 1.8, 3.0, send_patch=False)
    assert lines[0].startswith(f"Session {folder}: 2 takes (budget), best take 0 (take 0 = the "
                               "starting patch), initial loss 2, final loss 2 (0.0 % lower), "
                               "bypass (dry DI) 1.8")
    assert lines[1].startswith("WARNING: final loss 2 = 111 % of the dry DI's 1.8")
    words = shlex.split(lines[2].split("Next step: ", 1)[1].split("   (")[0])
    assert words == ["magicstomp", "send", str(folder / "s_optimized.syx")]
    sent = summary_lines(folder, result, 1.8, 3.0, send_patch=True, slot=7)
    assert sent[2] == "Sent to user slot 7 of the unit." and "Next step" not in "".join(sent)
    steps = next_step_lines(folder / "s_optimized.syx", send_patch=True, slot=7)
    assert "the patch goes to user slot 7 once the session is written" in steps[0]
