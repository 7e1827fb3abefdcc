# The two commands of the README: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := $(VENV)/.installed-extras

.PHONY: demo test test-under-load install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The tests also cover the optional extras (Gymnasium, NeuroGym, Stable-Baselines3, NWB, Ray, PyDMD). Both
# NeuroGym and SB3 import PyTorch: the CPU build 2.13.0 where this machine has its wheel,
# otherwise whatever torch the index offers.
$(EXTRAS): $(STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0" || $(BIN)/python -m pip install --quiet torch
	$(BIN)/python -m pip install --quiet -e ".[test,gym,neurogym,sb3,nwb,sweep,dynamics]"
	touch $(EXTRAS)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rewardrnn train rdm-fixed --seed 1 --out runs/demo --overwrite
	$(BIN)/rewardrnn evaluate runs/demo
	$(BIN)/rewardrnn plot runs/demo
	$(BIN)/rewardrnn analyze runs/demo --behaviour-trials 1000
	$(BIN)/rewardrnn report runs/demo
	@echo "Run folder: runs/demo (config.json, metrics.csv, checkpoint.npz, evaluation/, figures/, records/, analysis/)"
	@echo "Open runs/demo/report.html in a browser."

# --durations: the 25 slowest tests at the end of every run, to keep the suite's time in view.
test: $(EXTRAS)
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=25

# The suite beside two CPU-bound processes (a 2-core machine busy with other work, as CI's or a
# user's often is): the tests wait for events, never for the clock, so it must pass here too.
test-under-load: $(EXTRAS)
	@$(BIN)/python -c "while True: pass" & a=$$!; $(BIN)/python -c "while True: pass" & b=$$!; \
	trap 'kill $$a $$b 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/rdm_fixed.py

clean:
	rm -rf runs .pytest_cache
