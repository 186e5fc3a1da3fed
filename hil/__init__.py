"""Hardware in the loop: sound-card I/O, calibration, the Rig seam and the JACK virtual unit.

API map (importing ``hil`` or any module here opens no device and loads no
PortAudio, JACK or MIDI library; those are imported inside the functions)::

    hil.rig            Rig (template: render(patch, di) -> take, close, context manager)
                       VirtualRig(sample_rate, *, imperfections=None, seed=0)
                       HardwareRig(*, in_device, out_device, in_ch, out_ch, sample_rate, midi,
                                   calibration, settle_ms, pre_roll_ms, tail_ms, ...)
                       check_di, MAX_SEND_PEAK_DBFS (-1 dBFS)
    hil.imperfections  Imperfections (latency, jitter, noise, gain, wobble, polarity, colouring)
    hil.io             list_devices, resolve_device, check_channels, check_stream, playrec,
                       check_return_alive, list_midi_ports, refresh_devices, DeviceInfo
    hil.calibration    CalibrationStimulus, measure, calibrate, CalibrationRecord (defined in
                       hil.calibration_record)
                       (save/load/matches/with_values), replicate_floor
    hil.unit_state     UnitState: the virtual unit's SysEx, slots and audio path, without JACK
    hil.virtual_unit   run_unit, VirtualUnitProcess; ``python -m hil.virtual_unit --help``
    hil.jack_tools     DummyServer, wait_for_ports, wait_for_ports_gone, freewheel

Conventions: latencies in samples, positive when the return lags the send;
gains in dB; channels counted from 1; a take is mono float64, aligned to the DI
and as long as it, at the level the unit returns it.
"""
