"""Analysis: load and check audio, align the target to the DI, compute features,
and build the initial device-neutral patch.

API map (import from the submodules; nothing heavy is imported here):

=====================================  ==================================================
``loading.load_audio(path, ...)``       WAV/FLAC/AIFF -> :class:`loading.Audio` (mono, resampled, checked)
``loading.match_lengths(a, b)``         trim/pad two signals, with a report
``alignment.align(target, di, sr)``     -> :class:`alignment.Alignment` (offset, polarity, level, ...)
``alignment.apply_alignment(...)``      the target placed on the DI
``factory.get_analyzer(name)``          "librosa" / "essentia" backend ($MAGICSTOMP_ANALYZER)
``base.Analyzer``                       the backend interface (mel, frame features, onsets, tempo)
``features``                            cached mel front end, BS.1770 loudness, tilt, crest
``heuristics.initial_patch(...)``       -> :class:`magicstomp.neutral.NeutralPatch`
``seed_rules``                          the seed's rules for a target without its DI
=====================================  ==================================================

Command line: ``python -m analyzers align TARGET --di DI`` and
``python -m analyzers analyze TARGET [--di DI] [--backend librosa|essentia]``.
"""
