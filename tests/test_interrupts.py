"""Interrupts, concurrency and full disks: the best patch found is never lost.

* the session name is locked while a run lives; a stale lock, partial folder or replaced
  folder of a run that died is removed by the next run;
* SIGINT once or twice, or SIGTERM, at random moments of a real ``auto_match_hil`` run on
  the virtual rig (a subprocess), the session writing included: whenever the search had
  measured a take, a session folder holds a valid best patch and a session.json;
* a full disk names the file and says so, and keeps the essentials already written.

Audio: 2.5 s of the CC0 jazz DI (tests/data/audio/di-cc0-jazz, freesound user Sub-d,
sound 49658, CC0) and its render through the virtual Magicstomp's Mono Delay.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import soundfile as sf
from click.testing import CliRunner

from cli.auto_match_hil import main
from cli.session import SessionWriter
from magicstomp.emulator import render, to_mono
from magicstomp.files import read_syx
from magicstomp.patch import Patch

REPO = Path(__file__).resolve().parents[1]
RATE_HZ = 44100


@pytest.fixture(scope="module")
def pair(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    di, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    di = di[int(0.2 * sr):int(2.7 * sr)]
    patch = Patch.init("Mono Delay").with_values(delay_time_ms=220.0, mix_pct=40)
    sf.write(folder / "di.wav", di, sr, subtype="FLOAT")
    sf.write(folder / "target.wav", to_mono(render(patch, di, sr)), sr, subtype="FLOAT")
    return folder / "target.wav", folder / "di.wav"


def _args(pair, out, name, *extra):
    return [str(pair[0]), "--di-signal", str(pair[1]), "--out", str(out), "--session-name", name,
            "--effect-type", "Mono Delay", *extra]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


# -- the session lock and the leftovers of dead runs --------------------------------------------
def _holder(out, name):
    """A process that claims ``name`` in ``out`` and sleeps (a run in progress)."""
    code = ("import sys, time; from cli.session import SessionWriter; "
            f"w = SessionWriter({str(out)!r}, {name!r}); print('held', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_run_keeps_its_session_name_even_against_force(pair, tmp_path):
    out = tmp_path / "out"
    holder = _holder(out, "s")
    try:
        before = sorted(p.name for p in out.iterdir())
        result = CliRunner().invoke(main, _args(pair, out, "s", "--force"))
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "in use by another run" in errors[0]
        assert f"pid {holder.pid}" in errors[0]
        assert sorted(p.name for p in out.iterdir()) == before
        assert (out / ".s.lock").read_text() == f"{holder.pid}\n"
    finally:
        holder.kill()
        holder.wait()
    with SessionWriter(out, "s"):            # the holder died: its name is free again
        assert (out / ".s.lock").read_text() == f"{os.getpid()}\n"
    assert not (out / ".s.lock").exists()


def test_a_second_process_is_refused_while_the_first_holds_the_name(tmp_path):
    with SessionWriter(tmp_path, "s") as writer:
        assert (tmp_path / ".s.lock").read_text().strip() == str(os.getpid())
        code = f"from cli.session import SessionWriter; SessionWriter({str(tmp_path)!r}, 's')"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        other = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=120)
        assert other.returncode != 0 and "in use by another run" in other.stderr
        writer.write_text("_report.txt", "x\n")
        writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_stale_lock_and_leftovers_of_dead_runs_are_removed(tmp_path, live_pid):
    gone = dead_pid()
    (tmp_path / ".s.lock").write_text(f"{gone}\n")
    leftovers = [f".s.partial-{gone}-abc", f".s.replaced-{gone}", ".s.partial-old1x",
                 f".other.partial-{gone}-k2", f".other.replaced-{gone}", ".other.lock"]
    keep = [f".busy.partial-{live_pid}-zz", f".busy.replaced-{live_pid}", "other", "s2",
            ".busy.lock"]
    for name in leftovers + keep:
        if name.endswith(".lock"):
            (tmp_path / name).write_text(f"{gone if 'other' in name else live_pid}\n")
            continue
        (tmp_path / name).mkdir()
        (tmp_path / name / "file.txt").write_text("x")
    with SessionWriter(tmp_path, "s") as writer:
        assert (tmp_path / ".s.lock").read_text().strip() == str(os.getpid())
        names = {p.name for p in tmp_path.iterdir()}
        assert not names & set(leftovers)
        assert set(keep) <= names
        assert writer.dir.name.startswith(f".s.partial-{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_a_killed_run_leaves_leftovers_that_the_next_run_removes(pair, tmp_path):
    out = tmp_path / "out"
    proc = _start(pair, out, "k", budget=200)
    _wait_for(proc, "optimize.search: take 2 ", timeout_s=240)
    proc.kill()
    proc.communicate(timeout=60)
    names = sorted(p.name for p in out.iterdir())
    assert ".k.lock" in names and any(n.startswith(".k.partial-") for n in names), names
    partial = next(p for p in out.iterdir() if p.name.startswith(".k.partial-"))
    best = Patch.load(partial / "k_optimized.json")     # written the moment it was found
    assert best.effect_type.name == "Mono Delay"
    with SessionWriter(out, "k") as writer:
        assert not partial.exists()
        assert sorted(p.name for p in out.iterdir()) == [".k.lock", writer.dir.name]
    assert list(out.iterdir()) == []


# -- signals at random moments of a real run ------------------------------------------------
def _start(pair, out, name, *, budget: int, optimizer: str = "coordinate"):
    cmd = [sys.executable, "-m", "cli.auto_match_hil",
           *_args(pair, out, name, "--optimize", "--optimizer", optimizer, "--budget",
                  str(budget), "--verbose")]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JACK_DEFAULT_SERVER", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(proc, marker: str, *, timeout_s: float) -> list:
    """Read stderr until a line holds ``marker``; the lines read go on being collected."""
    lines: list = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"never saw {marker!r}: {''.join(lines)[-2000:]}")


def _drain(proc, lines: list) -> threading.Thread:
    def run():
        for line in proc.stderr:
            lines.append(line)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def check_saved(out: Path, name: str, lines: list) -> None:
    """A session folder with a valid best patch, whenever a take had been measured."""
    measured = any("optimize.search: take " in line for line in lines)
    folder = out / name
    if not measured:
        assert not folder.exists() or (folder / f"{name}_optimized.json").is_file()
        return
    assert folder.is_dir(), "".join(lines)[-3000:]
    best = Patch.load(folder / f"{name}_optimized.json")
    (assembled,) = read_syx(folder / f"{name}_optimized.syx")
    assert Patch.from_payload(assembled.payload) == best
    doc = json.loads((folder / f"{name}_session.json").read_text())
    assert doc["session"] == name and doc["takes"] >= 1
    assert doc["effect_type"]["name"] == "Mono Delay"
    assert not any(p.name.startswith(f".{name}.") for p in out.iterdir()), list(out.iterdir())


# (moment, signals): "search" = a random delay after the 2nd take; "writing" = a random delay
# after the last take, while the session is written (full-length renders, plots)
DRILLS = [("search", [signal.SIGINT], 1), ("search", [signal.SIGTERM], 2),
          ("writing", [signal.SIGINT, signal.SIGINT], 3), ("writing", [signal.SIGTERM], 4),
          ("search", [signal.SIGINT, signal.SIGINT], 5)]


@pytest.mark.parametrize("moment,signals,seed", DRILLS,
                         ids=[f"{m}-{'+'.join(s.name for s in sig)}" for m, sig, _ in DRILLS])
def test_signals_at_random_moments_keep_the_best_patch(pair, tmp_path, moment, signals, seed):
    rnd = random.Random(seed)
    out = tmp_path / "out"
    # a search of seconds (random search runs to its budget; coordinate search can converge
    # before a late signal on a loaded machine), or one that is over
    budget = 5000 if moment == "search" else 6
    proc = _start(pair, out, "run", budget=budget,
                  optimizer="random" if moment == "search" else "coordinate")
    marker = "optimize.search: take 2 " if moment == "search" else \
        f"optimize.search: take {budget - 1} "
    lines = _wait_for(proc, marker, timeout_s=300)
    drain = _drain(proc, lines)
    time.sleep(rnd.uniform(0.0, 1.5))
    for sig in signals:
        if proc.poll() is None:
            proc.send_signal(sig)
        time.sleep(rnd.uniform(0.05, 0.6))
    proc.wait(timeout=240)
    drain.join(timeout=10)
    text = "".join(lines)
    assert "Traceback" not in text, text[-3000:]
    # 0: done before the signal; 130: interrupted; killed by the signal itself: it came
    # after the session was published, while the interpreter was exiting
    assert proc.returncode in (0, 130, -signal.SIGINT, -signal.SIGTERM), text[-3000:]
    if (out / "run").exists():
        assert "no session was written" not in text
    check_saved(out, "run", lines)
    doc = json.loads((out / "run" / "run_session.json").read_text())
    if moment == "search":      # stopped mid-search: 130, and the search's takes are recorded
        assert proc.returncode == 130 and doc["stopped"] == "interrupted", text[-2000:]
        assert 3 <= doc["takes"] < budget
        if len(signals) == 1:   # one signal: the whole session is written
            assert "complete" not in doc and (out / "run" / "run_report.txt").is_file()
    with SessionWriter(out, "next"):     # the next run finds nothing to clean up
        pass
    assert sorted(p.name for p in out.iterdir()) == ["run"]


# -- a full disk ------------------------------------------------------------------------------
def test_a_full_disk_names_the_file_and_keeps_the_essentials(pair, tmp_path, monkeypatch):
    import cli.session as session

    real = session.atomic_write_bytes

    def full_for_wavs(path, data):
        if str(path).endswith(".wav"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(session, "atomic_write_bytes", full_for_wavs)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(pair, out, "full", "--optimize", "--budget", "4"))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "the disk is full" in errors[0]
    assert f"could not write {out / 'full' / 'full_target.wav'}:" in errors[0]
    folder = out / "full"
    Patch.load(folder / "full_optimized.json")
    doc = json.loads((folder / "full_session.json").read_text())
    assert doc["complete"] is False and "could not be written" in doc["incomplete_reason"]
    assert sorted(p.name for p in out.iterdir()) == ["full"]


def test_a_full_disk_when_encoding_leaves_the_old_file(tmp_path, monkeypatch):
    from cli.magicstomp_cli import main as magicstomp

    patch_json = tmp_path / "p.json"
    patch_json.write_text(Patch.init("Mono Delay").to_json())
    old = tmp_path / "old.syx"
    old.write_bytes(b"old bytes")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    result = CliRunner().invoke(magicstomp, ["encode", str(patch_json), "--out", str(old)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: could not write {old}: the disk is full; free some "
                                     "space or write elsewhere (--out)")
    assert old.read_bytes() == b"old bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.syx", "p.json"]


def test_magicstomp_analyzer_is_read_and_the_option_wins(pair, tmp_path, monkeypatch):
    monkeypatch.setenv("MAGICSTOMP_ANALYZER", "madmom")
    result = CliRunner().invoke(main, _args(pair, tmp_path / "o", "a"))
    assert result.exit_code == 2 and "madmom" in result.stderr
    args = _args(pair, tmp_path / "o", "a", "--analyzer", "librosa")
    args[0] = str(tmp_path / "missing.wav")         # fails after the options were accepted
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "does not exist" in result.stderr


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 64 kB tmpfs (needs the right to mount: skipped elsewhere)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_really_full_disk(pair, tiny_disk):
    from cli.magicstomp_cli import main as magicstomp

    patch_json = tiny_disk.parent / "p.json"
    patch_json.write_text(Patch.init("Mono Delay").to_json())
    wav = tiny_disk / "wet.wav"
    result = CliRunner().invoke(magicstomp, ["render", str(patch_json), str(pair[1]), "--out",
                                             str(wav)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: could not write {wav}: the disk is full; free some "
                                     "space or write elsewhere (--out)")
    assert list(tiny_disk.iterdir()) == []           # no temporary file left behind
    out = tiny_disk / "out"
    result = CliRunner().invoke(main, _args(pair, out, "full", "--optimize", "--budget", "4"))
    assert result.exit_code == 1 and "the disk is full" in result.stderr
    Patch.load(out / "full" / "full_optimized.json")
    assert json.loads((out / "full" / "full_session.json").read_text())["complete"] is False


def test_a_disk_full_from_the_start_names_the_sessions_file_and_leaves_nothing(
        pair, tmp_path, monkeypatch):
    import cli.session as session

    def full(path, data, **_):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(session, "atomic_write_bytes", full)
    monkeypatch.setattr(session, "atomic_write_text", full)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, _args(pair, out, "s", "--optimize", "--budget", "3"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: could not write {out / 's' / 's_neutral.json'}: the disk is full; free some "
        "space or write elsewhere (--out)")
    assert list(out.iterdir()) == []


def test_a_signal_inside_a_critical_section_is_delivered_after_it():
    from cli.interrupts import deferred_interrupts, sigterm_as_interrupt

    done = []
    before = signal.getsignal(signal.SIGINT)   # SIG_IGN when run in the background (nohup, &)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            with deferred_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                with deferred_interrupts():          # nested: one section
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)
                done.append("finished")
    assert done == ["finished"]
    assert signal.getsignal(signal.SIGINT) is before              # restored as it was
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
