# Two entry points: `make demo` (set up, then run the main job) and `make test`
# (set up, then run the whole test suite). Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m cli.magicstomp_cli decode examples/HeavyHiGain.syx

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/emulator_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
