"""Rebuild examples/di.wav and examples/target.wav (reproducible, no network).

    .venv/bin/python examples/make_example.py [--preset NAME]

di.wav      6 s of the CC0 jazz-guitar DI (tests/data/audio/di-cc0-jazz/jazz.flac,
            0.2-6.2 s), 44.1 kHz mono 16-bit.
target.wav  that DI rendered by the virtual Magicstomp through a factory preset
            (default "AllPurpose", guitar bank 7, Amp Multi (Chorus)), mono fold,
            lowered by a fixed gain when it would peak above -1 dBFS, 16-bit.

Sources and licences: examples/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from magicstomp.emulator import render, to_mono  # noqa: E402
from magicstomp.errors import PatchFormatError  # noqa: E402
from magicstomp.patch import Patch  # noqa: E402
from magicstomp.presets import find_preset  # noqa: E402

DI_SOURCE = ROOT / "tests" / "data" / "audio" / "di-cc0-jazz" / "jazz.flac"
EXCERPT_S = (0.2, 6.2)
DEFAULT_PRESET = "AllPurpose"
PEAK_LIMIT = 10 ** (-1.0 / 20)


def factory_patch(name: str) -> Patch:
    """The guitar-bank factory preset called ``name`` (magicstomp/data/factory_presets.json)."""
    try:
        return find_preset(f"guitar:{name}").patch()
    except PatchFormatError as exc:
        raise SystemExit(str(exc)) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    args = parser.parse_args()
    di, sr = sf.read(str(DI_SOURCE), dtype="float64", always_2d=True)
    di = di.mean(axis=1)[int(EXCERPT_S[0] * sr):int(EXCERPT_S[1] * sr)]
    patch = factory_patch(args.preset)
    target = to_mono(render(patch, di, sr))
    peak = float(np.max(np.abs(target)))
    if peak > PEAK_LIMIT:
        target = target * (PEAK_LIMIT / peak)
    sf.write(str(args.out / "di.wav"), di, sr, subtype="PCM_16")
    sf.write(str(args.out / "target.wav"), target, sr, subtype="PCM_16")
    print(f"target.wav: {patch.name!r}, {patch.effect_type.name} (0x{patch.effect_type.id:02X}), "
          f"{di.size / sr:.1f} s at {sr} Hz")
    for key, value in patch.values().items():
        print(f"  {key} = {value}")


if __name__ == "__main__":
    main()
