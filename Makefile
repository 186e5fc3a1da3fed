# Two entry points: `make demo` (set up, then run the main job) and `make test`
# (set up, then run the whole test suite). Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

# The full match on the virtual Magicstomp: a new session folder under out/ each run.
demo: setup
	$(VENV)/bin/auto_match_hil examples/target.wav --di-signal examples/di.wav --optimize

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/emulator_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
