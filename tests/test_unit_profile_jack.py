"""The hardware path with a unit that is not the model: the JACK virtual unit plays a drawn
variant; `magicstomp profile` measures it through the sound card and MIDI, then a
virtual-first match runs on the profiled model and confirms on the unit."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from cli.magicstomp_cli import main
from magicstomp.emulator import UnitVariant

pytestmark = pytest.mark.jack

VARIANT = 3


def test_profile_then_virtual_first_match_on_the_jack_unit(start_virtual_unit, freewheel,
                                                           tmp_path):
    from hil.calibration import CalibrationRecord
    from hil.rig import HardwareRig
    from magicstomp.patch import Patch
    from optimize.constraints import ParameterSpace
    from optimize.objective import MatchLoss
    from optimize.unit_probes import make_stimulus
    from optimize.unit_profile import load_unit_profile
    from optimize.virtual_first import model_evaluator, virtual_first

    unit = start_virtual_unit(variant=VARIANT)
    out = tmp_path / "unit_profile.json"
    args = ["profile", "--port", unit.name, "--in-device", unit.name, "--out-device", unit.name,
            "--in-ch", "1,2", "--calibrate", "--types", "0x35", "--sample-rate", "48000",
            "--on-dropout", "warn", "--pacing-ms", "5", "--out", str(out)]
    with freewheel():
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    profile = load_unit_profile(out)
    assert profile.measurement["rig"] == "HardwareRig" and profile.measurement["takes"] == 3
    truth = UnitVariant.draw(VARIANT).value("tape_time")
    assert abs(profile.variant.value("tape_time") - truth) <= 0.01
    assert profile.sections["delay"].after_db <= 0.5 * profile.sections["delay"].before_db

    record = CalibrationRecord.load(tmp_path / "calibration.json")
    di = make_stimulus("plucks", 1.0, 48000, -12.0)
    hidden = Patch.init(0x35).with_values(delay_time=6.0, mix=4.0, feedback_level=3.0)
    with HardwareRig(in_device=unit.name, out_device=unit.name, in_ch=(1, 2), sample_rate=48000,
                     midi=unit.name, calibration=record, on_dropout="warn",
                     pacing_ms=5.0) as rig, freewheel():
        target = rig.render(hidden, di)
        loss = MatchLoss(target, 48000, di=di)
        found = virtual_first(ParameterSpace(0x35), Patch.init(0x35),
                              evaluate=lambda p: loss(rig.render(p, di)),
                              model_evaluate=model_evaluator(loss, di, 48000,
                                                             variant=profile.variant),
                              budget_takes=4, budget_model=30)
        assert rig.takes == 1 + found.takes <= 5
    assert found.model_evaluations <= 30
    assert found.best_loss < found.initial_loss
    assert np.isfinite(found.best_loss)
