# Edge-Agent performance harness. Newcomers: `make load`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

SCENARIO ?= week1-baseline
TARGET ?=
PROMETHEUS ?=
RATE ?=
DURATION ?=
WORKERS ?=
REPORTS_DIR ?= reports

RUN_ARGS = $(if $(TARGET),--host $(TARGET)) $(if $(PROMETHEUS),--prometheus $(PROMETHEUS)) \
	$(if $(RATE),--rate $(RATE)) $(if $(DURATION),--duration $(DURATION)) \
	$(if $(WORKERS),--workers $(WORKERS)) --out $(REPORTS_DIR)
SCENARIO_FILE = $(if $(findstring /,$(SCENARIO)),$(SCENARIO),scenarios/$(SCENARIO).yaml)

.PHONY: help setup system-deps load analyze test test-fast check format bench clean

help:
	@echo "make load      set up, then run SCENARIO (default week1-baseline) on the embedded stack"
	@echo "               variables: SCENARIO TARGET PROMETHEUS RATE DURATION WORKERS REPORTS_DIR"
	@echo "make test      set up, then run the test suite"
	@echo "make check     formatter, linter and type checker"
	@echo "make bench     the harness beside hey on a fast loopback target"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) system-deps

system-deps:
	@scripts/system-deps.sh prometheus redis-server

load: setup
	$(BIN)/edgeperf run $(SCENARIO_FILE) $(RUN_ARGS)

analyze: $(STAMP)
	$(BIN)/edgeperf analyze $(RUN)

test: setup
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

check: $(STAMP)
	$(BIN)/ruff format --check loadtests analysis tests
	$(BIN)/ruff check loadtests analysis tests
	$(BIN)/mypy loadtests analysis

format: $(STAMP)
	$(BIN)/ruff format loadtests analysis tests
	$(BIN)/ruff check --fix loadtests analysis tests

bench: setup
	@scripts/system-deps.sh hey
	$(BIN)/python -m loadtests.bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
