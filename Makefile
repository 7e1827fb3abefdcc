# The two commands of the README: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rewardrnn train rdm-fixed --seed 1 --out runs/demo --overwrite
	$(BIN)/rewardrnn evaluate runs/demo
	$(BIN)/rewardrnn plot runs/demo
	$(BIN)/rewardrnn analyze runs/demo --behaviour-trials 1000
	$(BIN)/rewardrnn report runs/demo
	@echo "Run folder: runs/demo (config.json, metrics.csv, checkpoint.npz, evaluation/, figures/, records/, analysis/)"
	@echo "Open runs/demo/report.html in a browser."

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/rdm_fixed.py

clean:
	rm -rf runs .pytest_cache
