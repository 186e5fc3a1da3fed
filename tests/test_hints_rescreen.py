"""Echo-time hints (analysis -> search) and the late re-screening of discrete choices.

Known answers: a synthesized DI driven through a tanh stage, an echo at a set
time and a noise-like reverb tail, whose echo the strict detector gives up on
but the candidate list holds; and objectives whose optimum is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from analyzers.heuristics import echo_candidates, find_delay, impulse_response
from magicstomp.patch import Patch
from optimize.constraints import ParameterSpace
from optimize.hints import analysis_hints, echo_time_hints
from optimize.screening import screen_discrete
from optimize.search import run_search

SR = 44100
AMP_MULTI = 0x37


def _plucks(rng, seconds=4.0):
    """Decaying noise bursts at irregular onsets: a stand-in for a picked DI."""
    x = np.zeros(int(seconds * SR))
    t = 0.05
    while t < seconds - 0.4:
        n = int(0.35 * SR)
        i = int(t * SR)
        x[i:i + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / (0.06 * SR)) * rng.uniform(0.4, 1)
        t += rng.uniform(0.12, 0.45)
    return 0.3 * x / np.max(np.abs(x))


def _driven_echo_reverb(di, rng, echo_ms, drive=8.0):
    wet = np.tanh(drive * di) / np.tanh(drive)                  # a driven amp
    lag = int(round(echo_ms * 1e-3 * SR))
    out = wet.copy()
    out[lag:] += 0.35 * wet[:-lag]                              # the echo
    out[2 * lag:] += 0.12 * wet[:-2 * lag]                      # its repeat
    tail = rng.standard_normal(int(1.5 * SR)) * np.exp(-np.arange(int(1.5 * SR)) / (0.25 * SR))
    return out + np.convolve(out, 0.02 * tail)[:out.size]      # a reverb tail


@pytest.mark.parametrize("echo_ms", [143.0, 388.5, 701.2])
def test_echo_candidates_hold_an_echo_through_drive_and_reverb(echo_ms):
    rng = np.random.default_rng(int(echo_ms))
    di = _plucks(rng)
    target = _driven_echo_reverb(di, rng, echo_ms)
    h = impulse_response(target, di, SR)
    found = echo_candidates(h, SR)
    assert 1 <= len(found) <= 4
    times = [c["time_ms"] for c in found]
    assert min(abs(t - echo_ms) for t in times) <= 1.0, times
    proms = [c["prominence"] for c in found]
    assert proms == sorted(proms, reverse=True)
    assert all(abs(a - b) > 20.0 for i, a in enumerate(times) for b in times[i + 1:])
    strict = find_delay(h, SR)
    assert strict is None or abs(strict["time_ms"] - echo_ms) <= 1.0


def test_echo_candidates_of_a_dry_signal_are_few_and_weak():
    rng = np.random.default_rng(7)
    di = _plucks(rng)
    found = echo_candidates(impulse_response(0.8 * di, di, SR), SR)
    assert all(c["prominence"] < 10.0 for c in found)


def test_echo_time_hints_map_milliseconds_to_the_knob_and_drop_out_of_range():
    space = ParameterSpace(AMP_MULTI)                    # feedback_delay_time_ms: 30-1000 ms
    hints = echo_time_hints(space, [{"time_ms": 247.2}, {"time_ms": 1997.0}, 612.0, 247.25])
    assert list(hints) == ["feedback_delay_time_ms"]
    values = hints["feedback_delay_time_ms"]
    assert len(values) == 2                              # 1997 ms dropped, 247.25 merged
    back = [space.from_unit(Patch.init(AMP_MULTI), _only(space, "feedback_delay_time_ms", u))
            .get("feedback_delay_time_ms") for u in values]
    assert back[0] == pytest.approx(247.2, abs=0.6) and back[1] == pytest.approx(612.0, abs=0.6)
    assert echo_time_hints(ParameterSpace(0x09), [300.0]) == {}     # a reverb has no delay knob
    assert analysis_hints(space, None) == {} and analysis_hints(space, {"echo_candidates": []}) == {}


def _only(space, key, value):
    u = space.to_unit(Patch.init(space.effect_type.id))
    u[space.keys.index(key)] = value
    return u


class NarrowValley:
    """A loss with a 0.005-wide valley at the true echo time, and a bowl elsewhere."""

    def __init__(self, space, optimum):
        self.space, self.optimum = space, np.asarray(optimum)
        self.i = space.keys.index("feedback_delay_time_ms")

    def __call__(self, patch):
        u = self.space.to_unit(patch)
        rest = np.delete((u - self.optimum) ** 2, self.i).sum()
        miss = abs(u[self.i] - self.optimum[self.i])
        return float(rest + (0.0 if miss < 0.005 else 1.0) + 1e-4)


def test_ours_tries_the_hint_first_and_lands_in_a_valley_the_even_scan_misses():
    space = ParameterSpace(AMP_MULTI)
    rng = np.random.default_rng(11)
    optimum = rng.uniform(0.2, 0.8, len(space.keys))
    optimum[space.keys.index("feedback_delay_time_ms")] = 0.2533
    start = space.from_unit(Patch.init(AMP_MULTI), rng.uniform(0.2, 0.8, len(space.keys)))
    key = "feedback_delay_time_ms"
    runs = {}
    for name, hints in (("hinted", {key: [0.71, 0.2533], "no_such_knob": [0.5]}), ("plain", None)):
        result = run_search("ours", space=space, start=start, evaluate=NarrowValley(space, optimum),
                            budget_takes=80, seed=0, screen=False, hints=hints)
        runs[name] = result
    hinted = [t for t in runs["hinted"].history if t.label == f"{key} hint"]
    assert [round(space.to_unit(start.with_values(**{key: t.params[key]}))[space.keys.index(key)], 3)
            for t in hinted] == [0.71, 0.253]
    assert not any(t.label == f"{key} scan" for t in runs["hinted"].history)   # the hint won
    u = space.to_unit(runs["hinted"].best_patch)[space.keys.index(key)]
    assert abs(u - 0.2533) < 0.005
    assert runs["hinted"].best_loss < 0.5 < runs["plain"].best_loss


def test_screening_shortlist_ranks_each_fields_options():
    start = Patch.init(AMP_MULTI)
    want = {"amplifier_type": 3, "speaker_type": 5}

    def evaluate(patch):
        return sum(abs(patch.get_raw(k) - v) for k, v in want.items())
    found = screen_discrete(start, evaluate, start_loss=evaluate(start))
    short = found.shortlist(top=3)
    assert set(short) == set(want)
    for key, raws in short.items():
        assert raws[0] == want[key] and len(raws) == 3
        assert set(raws[1:]) == {want[key] - 1, want[key] + 1}


def test_ours_rescreens_the_shortlist_after_two_passes():
    space = ParameterSpace(AMP_MULTI)
    start = Patch.init(AMP_MULTI).with_values(preamp_gain=2.0)
    # the right amp (raw 4) only wins once the gain is near 8: screening at gain 2 ranks it second
    gain_u = space.keys.index("preamp_gain")

    def evaluate(patch):
        g = space.to_unit(patch)[gain_u]
        amp = patch.get_raw("amplifier_type")
        return (g - 0.8) ** 2 + {4: 0.5 * (0.8 - g), 2: 0.1}.get(amp, 0.5) + 1e-3
    result = run_search("ours", space=space, start=start, evaluate=evaluate, budget_takes=120,
                        seed=0, rescreen_top=2)
    assert any(t.label == "rescreen" for t in result.history)
    assert result.best_patch.get_raw("amplifier_type") == 4
    off = run_search("ours", space=space, start=start, evaluate=evaluate, budget_takes=120,
                     seed=0, rescreen_top=0)
    assert not any(t.label == "rescreen" for t in off.history)
    assert off.best_patch.get_raw("amplifier_type") == 2


@pytest.mark.parametrize("penalty, kept", [(1.01, True), (1.05, False)])
def test_a_hint_within_two_percent_of_the_incumbent_is_kept(penalty, kept):
    space = ParameterSpace(AMP_MULTI)
    key = "feedback_delay_time_ms"
    i = space.keys.index(key)
    start = space.from_unit(Patch.init(AMP_MULTI), np.full(len(space.keys), 0.5))

    def evaluate(patch):                 # flat, except the hinted echo time scores a bit worse
        return penalty if abs(space.to_unit(patch)[i] - 0.2533) < 0.002 else 1.0
    result = run_search("ours", space=space, start=start, evaluate=evaluate, budget_takes=60,
                        seed=0, screen=False, hints={key: [0.2533]})
    labels = [t.label for t in result.history]
    assert f"{key} hint" in labels
    assert (f"{key} scan" not in labels) == kept


# -- cabinet prediction ----------------------------------------------------------
def test_rank_cabinets_puts_the_cabinet_that_explains_the_difference_first():
    from optimize.cabinets import _response_db, rank_cabinets
    patch = Patch.init(AMP_MULTI).with_values(speaker_type="Off")
    hz = 1000.0 * 2.0 ** (np.arange(-15, 14) / 3.0)
    for label in ("British 4x12", "YAMAHA 1x12", "2x10"):
        diff = _response_db(label, tuple(hz)) + 3.0          # + a level offset, which must not count
        ranked = rank_cabinets(patch, {"hz": hz, "diff_db": diff})
        assert patch.effect_type.param("speaker_type").to_physical(ranked[0]) == label
        assert patch.get_raw("speaker_type") not in ranked and len(ranked) == 16


def test_the_cabinet_of_a_render_is_among_the_predicted_few():
    from magicstomp.emulator import render, to_mono
    from optimize.cabinets import CAB_CANDIDATES, rank_cabinets
    from optimize.objective import MatchLoss
    rng = np.random.default_rng(5)
    di = _plucks(rng, seconds=3.0)
    base = Patch.init(AMP_MULTI).with_values(preamp_gain=5.0, amplifier_type="Crunch 1",
                                             chorus_level=0.0, delay_level=0.0, reverb_level=0.0)
    param = base.effect_type.param("speaker_type")
    hits = 0
    labels = ("American 4x12", "British 2x12", "Modern 1x12", "4x10", "YAMAHA 4x12", "Hybrid 2x12")
    for label in labels:
        target = to_mono(render(base.with_values(speaker_type=label), di, SR))
        take_patch = base.with_values(speaker_type="Off")
        value = MatchLoss(target, SR, di=di)(to_mono(render(take_patch, di, SR)))
        assert value.spectrum is not None and len(value.spectrum["hz"]) == len(value.spectrum["diff_db"])
        ranked = rank_cabinets(take_patch, value.spectrum)[:CAB_CANDIDATES]
        hits += param.to_raw(label) in ranked
    assert hits == len(labels)


def test_screening_measures_only_the_ranked_options_and_the_recorder_keeps_spectra():
    from optimize.loss import LossValue
    from optimize.search import Recorder
    space = ParameterSpace(AMP_MULTI)
    start = Patch.init(AMP_MULTI)
    tried = []

    def evaluate(patch):
        tried.append(patch.get_raw("speaker_type"))
        return LossValue(1.0 - 0.01 * patch.get_raw("speaker_type"), spectrum={"hz": [1.0],
                                                                                 "diff_db": [0.0]})
    recorder = Recorder(space, evaluate, budget_takes=50)
    recorder.evaluate(start, "start")
    assert recorder.spectrum_of(start) == {"hz": [1.0], "diff_db": [0.0]}
    assert recorder.spectrum_of(start.with_values(treble=9.0)) is None
    found = screen_discrete(start, lambda p: recorder.evaluate(p, "screen"), start_loss=1.0,
                            keys=["speaker_type"], rank=lambda key, patch: [7, 3])
    assert tried[1:] == [7, 3] and found.patch.get_raw("speaker_type") == 7


def test_a_rescreened_amp_is_judged_at_its_own_gain():
    space = ParameterSpace(AMP_MULTI)
    g = space.keys.index("preamp_gain")
    start = space.from_unit(Patch.init(AMP_MULTI), np.full(len(space.keys), 0.5))
    start = start.with_values(amplifier_type=start.effect_type.param("amplifier_type").to_physical(2))
    start = space.from_unit(start, np.where(np.arange(len(space.keys)) == g, 0.8, 0.5))

    def evaluate(patch):            # amp 4 is right, but at a lower gain than amp 2 wants
        u, amp = space.to_unit(patch)[g], patch.get_raw("amplifier_type")
        bias = 0.1 * abs(patch.get_raw("speaker_type") - start.get_raw("speaker_type"))
        return bias + {4: (u - 0.6) ** 2, 2: (u - 0.8) ** 2 + 0.02}.get(amp, (u - 0.5) ** 2 + 0.5)
    result = run_search("ours", space=space, start=start, evaluate=evaluate, budget_takes=150,
                        seed=0, predict_cabinet=False)
    assert any(t.label == "rescreen" for t in result.history)
    assert result.best_patch.get_raw("amplifier_type") == 4
    assert abs(space.to_unit(result.best_patch)[g] - 0.6) < 0.05


def test_the_measured_lfo_rate_and_echo_time_of_the_start_come_first():
    space = ParameterSpace(0x13)                                   # Flange
    start = Patch.init(0x13).with_values(mod_frequency_hz=4.4)
    i = space.keys.index("mod_frequency_hz")
    features = {"modulation": {"rate_hz": 4.4, "kind": "chorus"}, "delay": None,
                "echo_candidates": [{"time_ms": 300.0}]}
    hints = analysis_hints(space, features, start=start)
    assert hints == {"mod_frequency_hz": [pytest.approx(space.to_unit(start)[i])]}
    assert analysis_hints(space, {**features, "modulation": None}, start=start) == {}
    multi = ParameterSpace(AMP_MULTI)
    begin = Patch.init(AMP_MULTI).with_values(feedback_delay_time_ms=412.0)
    found = analysis_hints(multi, {"delay": {"time_ms": 412.0}, "modulation": None,
                                   "echo_candidates": [{"time_ms": 250.0}, {"time_ms": 412.0}]},
                           start=begin)
    j = multi.keys.index("feedback_delay_time_ms")
    assert found["feedback_delay_time_ms"][0] == pytest.approx(multi.to_unit(begin)[j])
    assert len(found["feedback_delay_time_ms"]) == 2               # 412 ms once, first
