# Two commands matter: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
THREADS ?= 1
JOBS ?= 2

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(shell command -v $(PYTHON) >/dev/null 2>&1 && echo $(PYTHON) || echo python3) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml setup.py constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.dev: pyproject.toml setup.py constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $(VENV)/.core $@

demo: $(VENV)/.core
	$(BIN)/mesalab run red-door --quick

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks setup.py
	$(BIN)/ruff format --check src tests benchmarks setup.py

typecheck: $(VENV)/.dev
	$(BIN)/mypy src

unit: $(VENV)/.dev
	OMP_NUM_THREADS=$(THREADS) MESALAB_THREADS=$(THREADS) $(BIN)/python -m pytest -q -n $(JOBS) --durations=25

test: lint typecheck unit

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/red_door_budget.py
	$(BIN)/python benchmarks/icl_gd.py
	$(BIN)/python benchmarks/zoo_budget.py
	$(BIN)/python benchmarks/sweep_overhead.py
	$(BIN)/python benchmarks/emergence_red_door_budget.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
