"""What both starting-patch builders share (``heuristics`` with a DI, ``seed_rules`` without):
the delay search range and the copy of the measured effects into a NeutralPatch."""

from __future__ import annotations

import numpy as np

DELAY_RANGE_S = (0.025, 2.0)


def fill_effects(neutral, delay, reverb, modulation) -> None:
    """Copy the measured delay/reverb/modulation into ``neutral``; add the dotted-8th tag."""
    if delay is not None:
        neutral.delay_time_ms = round(delay["time_ms"], 2)
        neutral.delay_feedback = round(delay["feedback"] or 0.0, 3)
        neutral.delay_mix = round(float(np.clip(delay["mix"], 0, 1)), 3)
    if reverb is not None:
        neutral.reverb_decay_s = round(reverb["decay_s"], 3)
        neutral.reverb_mix = round(float(np.clip(reverb["mix"], 0, 1)), 3)
        if reverb.get("predelay_ms") is not None:
            neutral.reverb_predelay_ms = round(float(reverb["predelay_ms"]), 1)
    if modulation is not None:
        neutral.mod_kind = modulation["kind"]
        neutral.mod_rate_hz = round(modulation["rate_hz"], 3)
        neutral.mod_depth = round(modulation["depth"], 3)
        neutral.mod_mix = 1.0 if modulation["kind"] == "tremolo" else 0.5
    if neutral.tempo_bpm and neutral.delay_time_ms:
        beat_ms = 60000.0 / neutral.tempo_bpm
        if abs(neutral.delay_time_ms / beat_ms - 0.75) <= 0.05 * 0.75:
            neutral.tags.append("dotted_8th")
