"""Where the vendored reference data live (sources and licences: tests/data/SOURCES.md)."""

from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_DIR / "tests" / "data"
FACTORY_PRESETS = REPO_DIR / "magicstomp" / "data" / "factory_presets.json"


def di_excerpts(table: dict, seconds: float, sample_rate: int) -> dict:
    """``{name: mono DI}``: for each ``name: (path under tests/data/audio, start_s)`` of
    ``table``, ``seconds`` of the recording from ``start_s``, at ``sample_rate``."""
    from analyzers.loading import load_audio

    out = {}
    for name, (path, start_s) in table.items():
        x = load_audio(DATA_DIR / "audio" / path, sample_rate=sample_rate, role="DI").samples
        out[name] = x[int(start_s * sample_rate):int((start_s + seconds) * sample_rate)]
    return out
