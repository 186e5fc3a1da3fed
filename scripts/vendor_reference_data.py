"""Rebuild tests/data/ and magicstomp/data/factory_presets.json from the reference folder.

Maintainers only: the repository runs from the files this writes, never from the
reference folder itself. Run from the repository root with the folder beside it:

    .venv/bin/python scripts/vendor_reference_data.py ../shared

Audio is written as 16-bit FLAC (excerpts where a file is longer than the tests
and benchmarks need); provenance and licences are in tests/data/SOURCES.md.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"

#: (source under audio/, excerpt (start_s, stop_s) or None for the whole file, fold to mono)
AUDIO = (
    ("di-cc0-jazz/jazz.wav", None, False),
    ("pair-gulmini-neuralfx/audio/input/001.wav", None, False),
    ("pair-gulmini-neuralfx/audio/target/001.wav", None, False),   # kept stereo: the loader test
    ("pair-gulmini-neuralfx/audio/input/002.wav", None, False),
    ("pair-gulmini-neuralfx/audio/target/002.wav", None, True),
    ("pair-gulmini-neuralfx/audio/input/008.wav", None, False),
    ("pair-gulmini-neuralfx/audio/target/008.wav", None, True),
    ("pair-gulmini-neuralfx/audio/input/009.wav", None, False),
    ("pair-gulmini-neuralfx/audio/target/009.wav", None, True),
    ("pair-gulmini-neuralfx/a_crazy_one/clean.wav", None, False),
    ("pair-gulmini-neuralfx/a_crazy_one/effect.wav", None, True),
    ("pair-gulmini-neuralfx/harmonic/clean.wav", None, False),
    ("pair-gulmini-neuralfx/harmonic/effect.wav", None, True),
    ("pair-gulmini-neuralfx/loop.wav", None, False),
    ("pair-gulmini-neuralfx/harmonics/clean.wav", (6.0, 14.0), False),
    ("pair-steinmetz-reverb/input.wav", None, False),
    ("pair-steinmetz-reverb/target.wav", None, False),
    ("di-toobamp-notes/Guitar-E2.flac", None, False),
    ("di-toobamp-notes/Guitar-E2-2.flac", None, False),
    ("di-toobamp-notes/Guitar-B4.flac", None, False),
    ("egfxset-notes/Clean/Middle/6-22.wav", None, False),
    ("egfxset-notes/TapeEcho/Bridge/2-0.wav", None, False),
    ("egfxset-notes/TapeEcho/Bridge-Middle/1-0.wav", None, False),
)


def vendor_audio(shared: Path) -> None:
    for name, excerpt_s, fold in AUDIO:
        x, rate = sf.read(str(shared / "audio" / name), dtype="float64", always_2d=True)
        if excerpt_s is not None:
            x = x[int(excerpt_s[0] * rate):int(excerpt_s[1] * rate)]
        if fold:
            x = x.mean(axis=1, keepdims=True)
        out = (DATA / "audio" / name).with_suffix(".flac")
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(out), np.clip(x, -1.0, 1.0 - 2 ** -15), rate, subtype="PCM_16", format="FLAC")


def vendor_patches(shared: Path) -> None:
    src = shared / "magicstomp" / "derived_patches"
    dst = DATA / "derived_patches"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    shutil.copy2(shared / "magicstomp/reference_data/factory_presets.json",
                 ROOT / "magicstomp" / "data" / "factory_presets.json")


def main(shared_dir: str) -> None:
    shared = Path(shared_dir)
    vendor_audio(shared)
    vendor_patches(shared)
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    print(f"wrote {DATA} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared")
