# semcache — every target sets itself up: a fresh machine needs only python3 (>= 3.10).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help demo test lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

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

test: $(STAMP)  ## run the whole test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/ruff format --check semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix semcache_core semcache_integrations tests benchmarks examples
	$(BIN)/ruff format semcache_core semcache_integrations tests benchmarks examples

bench: $(STAMP)  ## run the benchmarks (core, persistence, LangChain, LlamaIndex, namespaces, seed, Redis) beside their baselines
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_persist.py
	$(BIN)/python benchmarks/bench_langchain.py
	$(BIN)/python benchmarks/bench_llamaindex.py
	$(BIN)/python benchmarks/bench_namespaces.py
	$(BIN)/python benchmarks/bench_seed.py
	$(BIN)/python benchmarks/bench_redis.py

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
