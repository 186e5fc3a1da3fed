"""Which cabinet a take needs, predicted from its long-term spectrum difference.

A speaker simulation is a linear filter at the end of the amp, so switching the
cabinet from ``a`` to ``b`` changes the take's long-term spectrum by about
``H_b - H_a`` (dB). Given the target-minus-take spectrum of one take
(:attr:`optimize.loss.LossValue.spectrum`), the cabinet whose change best
explains it is the best guess; the screening then measures only the few best
guesses instead of every cabinet (16 takes -> 5 on the Amp Multis).

The responses come from the emulator's cabinet IRs (``magicstomp/emulator/ir.py``),
stand-ins for the unit's own speaker simulations: on the hardware they rank
the candidates, and the takes decide.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RANK_BAND_HZ = (100.0, 8000.0)   # where cabinets differ and guitars have energy
CAB_CANDIDATES = 5               # best-predicted cabinets the screening measures


@lru_cache(maxsize=64)
def _response_db(label: str, centres: tuple) -> np.ndarray:
    """Third-octave power response (dB) of speaker simulation ``label`` ("Off" = flat)."""
    if label == "Off":
        return np.zeros(len(centres))
    from magicstomp.emulator.ir import IR_RATE_HZ, cabinet_ir

    from .objective import third_octave_masks
    h = cabinet_ir(label, IR_RATE_HZ)
    n = 1 << 14
    power = np.abs(np.fft.rfft(h, n)) ** 2
    masks = third_octave_masks(np.fft.rfftfreq(n, 1.0 / IR_RATE_HZ), centres)  # MatchLoss's bands
    count = masks.sum(axis=1)
    mean = np.where(count > 0, masks @ power / np.maximum(count, 1), 1e-12)
    return 10 * np.log10(np.maximum(mean, 1e-12))


def rank_cabinets(patch, spectrum: dict, *, key: str = "speaker_type") -> list:
    """Raw values of ``key`` other than the patch's, best-predicted first.

    Parameters
    ----------
    patch : Patch
        The patch whose take gave ``spectrum``.
    spectrum : dict
        ``{"hz": third-octave centres, "diff_db": target minus take}`` of that take.

    The score of a cabinet is the spread (mean absolute deviation from its
    mean, so overall level does not count) of the difference left after
    switching to it, over 100 Hz-8 kHz.
    """
    param = patch.effect_type.param(key)
    hz = np.asarray(spectrum["hz"], dtype=float)
    diff = np.asarray(spectrum["diff_db"], dtype=float)
    band = (hz >= RANK_BAND_HZ[0]) & (hz <= RANK_BAND_HZ[1])
    centres = tuple(float(c) for c in hz[band])
    current = _response_db(str(patch.get(key)), centres)
    scores = []
    for raw in range(param.min_raw, param.max_raw + 1):
        if raw == patch.get_raw(key):
            continue
        left = diff[band] - (_response_db(str(param.to_physical(raw)), centres) - current)
        scores.append((float(np.mean(np.abs(left - left.mean()))), raw))
    return [raw for _, raw in sorted(scores)]
