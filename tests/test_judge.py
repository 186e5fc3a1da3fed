"""The independent judge of analyzers/judge.py: known answers on a real DI."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from analyzers.judge import judge, mel_filterbank, mrstft_distance
from magicstomp.emulator import render, to_mono
from magicstomp.patch import Patch

SR = 44100


@pytest.fixture(scope="module")
def di(data_dir):
    x, sr = sf.read(str(data_dir / "audio" / "di-cc0-jazz" / "jazz.flac"), dtype="float64")
    assert sr == SR
    x = x[2 * SR:5 * SR]
    return 0.5 * x / np.max(np.abs(x))


def test_an_identical_pair_scores_zero(di):
    score = judge(di, di.copy(), SR)
    assert score.mrstft == pytest.approx(0.0, abs=1e-9)
    assert score.logmel_db == pytest.approx(0.0, abs=1e-9)
    assert score.lag_samples == 0 and score.polarity == 1


def test_a_6_db_gain_change_scores_zero_after_gain_matching(di):
    score = judge(di * 10 ** (-6 / 20), di, SR)
    assert score.gain_db == pytest.approx(6.0, abs=1e-6)
    assert score.mrstft == pytest.approx(0.0, abs=1e-6)
    assert score.logmel_db == pytest.approx(0.0, abs=1e-6)
    # without the judge's own gain matching the same take is far off
    assert mrstft_distance(di * 10 ** (-6 / 20), di) > 0.3


def test_a_10_ms_shift_and_inverted_polarity_score_zero_after_alignment(di):
    shift = int(0.010 * SR)
    late = np.concatenate([np.zeros(shift), di[:-shift]])
    for take, target, lag, polarity in ((di, late, shift, 1), (late, di, -shift, 1),
                                        (-di, late, shift, -1)):
        score = judge(take, target, SR)
        assert score.lag_samples == lag and score.polarity == polarity
        assert score.mrstft == pytest.approx(0.0, abs=1e-6)
        assert score.logmel_db == pytest.approx(0.0, abs=1e-6)


def test_a_different_effect_scores_above_bypass(di):
    echo = Patch.init("Mono Delay")
    target = to_mono(render(echo, di, SR))                 # the tone to match: an echo
    fuzz = Patch.init("Distortion")
    fuzz.set("preamp_gain", 10.0)
    wrong = to_mono(render(fuzz, di, SR))                  # a take with another effect
    bypass, other = judge(di, target, SR), judge(wrong, target, SR)
    assert bypass.mrstft > 0.05 and bypass.logmel_db > 0.5   # the echo is heard
    assert other.mrstft > bypass.mrstft and other.logmel_db > bypass.logmel_db
    assert not other.beats(bypass) and judge(target, target, SR).beats(bypass)


def test_mel_filterbank_covers_the_spectrum_once():
    bank = mel_filterbank(SR)
    assert bank.shape == (128, 1025)
    peaks = bank.argmax(axis=1)                   # each band's centre bin, rising
    assert np.all(np.diff(peaks) >= 0)
    inner = bank[:, peaks[0] + 1:peaks[-1]].sum(axis=0)   # triangles sum to 1 between centres
    assert np.allclose(inner, 1.0, atol=1e-6)
