"""Where the vendored reference data live (sources and licences: tests/data/SOURCES.md)."""

from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_DIR / "tests" / "data"
FACTORY_PRESETS = REPO_DIR / "magicstomp" / "data" / "factory_presets.json"
