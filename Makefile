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
# make ci-perf: a short headless run for CI (the scenario's rate-range target scales with CI_RATE)
CI_SCENARIO ?= week1-baseline
CI_RATE ?= 200
CI_DURATION ?= 20s
CI_RAMP ?= 5s
# make ci-perf BASELINE=dir: also compare the run with that run directory (WORSE fails the job)
BASELINE ?=

RUN_ARGS = $(if $(TARGET),--host $(TARGET)) $(if $(PROMETHEUS),--prometheus $(PROMETHEUS)) \
	$(if $(RATE),--rate $(RATE)) $(if $(DURATION),--duration $(DURATION)) \
	$(if $(WORKERS),--workers $(WORKERS)) --out $(REPORTS_DIR)
SCENARIO_FILE = $(if $(findstring /,$(SCENARIO)),$(SCENARIO),scenarios/$(SCENARIO).yaml)
CI_SCENARIO_FILE = $(if $(findstring /,$(CI_SCENARIO)),$(CI_SCENARIO),scenarios/$(CI_SCENARIO).yaml)

.PHONY: help setup system-deps load analyze test test-fast check format bench clean overhead calibrate overhead-bench capacity-bench serverbench ci-perf report-shot

help:
	@echo "make load      set up, then run SCENARIO (default week1-baseline) on the embedded stack"
	@echo "               variables: SCENARIO TARGET PROMETHEUS RATE DURATION WORKERS REPORTS_DIR"
	@echo "make test      set up, then run the test suite"
	@echo "make check     formatter, linter and type checker"
	@echo "make bench     the harness beside hey on a fast loopback target"
	@echo "make ci-perf   short headless run for CI (CI_RATE=200 CI_DURATION=20s) into REPORTS_DIR"
	@echo "               BASELINE=dir also compares it with that run (edgeperf compare)"
	@echo "make report-shot  PNG screenshots of the latest report (light, dark) and the index"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) system-deps

system-deps:
	@scripts/system-deps.sh prometheus redis-server

load: setup
	@$(BIN)/edgeperf run $(SCENARIO_FILE) $(RUN_ARGS) || { code=$$?; \
		echo "make load: edgeperf exited $$code (0 pass, 1 fail, 2 could not judge, 130 interrupted)"; \
		exit $$code; }

analyze: $(STAMP)
	$(BIN)/edgeperf analyze $(RUN)

# Light live tests (real servers, no load) on two workers; then the end-to-end load tests (marked
# slow) one at a time, so two loads never measure each other (tests/conftest.py), with the pure
# unit tests beside them in one process at nice 10: they only take CPU the loads leave idle, much
# less than the busy core every load test is checked against, and they leave the critical path.
UNIT_LOG := .pytest-unit.log
test: setup
	@scripts/system-deps.sh chromium
	$(BIN)/python -m pytest -q -n 2 -m "live and not slow"
	@nice -n 10 $(BIN)/python -m pytest -q -p no:cacheprovider -m "not live and not slow" \
		> $(UNIT_LOG) 2>&1 & unit=$$!; \
	$(BIN)/python -m pytest -q -m slow; slow=$$?; \
	wait $$unit; code=$$?; \
	echo "unit tests (ran beside the load tests at nice 10):"; cat $(UNIT_LOG); rm -f $(UNIT_LOG); \
	test $$slow -eq 0 -a $$code -eq 0

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

check: $(STAMP)
	$(BIN)/ruff format --check loadtests analysis tests
	$(BIN)/ruff check loadtests analysis tests
	$(BIN)/mypy loadtests analysis

format: $(STAMP)
	$(BIN)/ruff format loadtests analysis tests
	$(BIN)/ruff check --fix loadtests analysis tests

bench: setup
	@scripts/system-deps.sh hey
	$(BIN)/python -m loadtests.experiments.clientbench

# edgeperf's exit code (0 pass, 1 fail, 2 cannot judge, 130 interrupted) is printed; make itself
# reports any non-zero recipe as 2, so CI goes red on all of them alike.
# make overhead: telemetry off/on interleaved pairs judged on the Week 1 overhead budgets
OVERHEAD_SCENARIO ?= telemetry-overhead
PAIRS ?=
overhead: setup
	@$(BIN)/edgeperf overhead scenarios/$(OVERHEAD_SCENARIO).yaml $(if $(PAIRS),--pairs $(PAIRS)) \
		$(if $(TARGET),--host $(TARGET)) $(if $(RATE),--rate $(RATE)) \
		$(if $(DURATION),--duration $(DURATION)) --out $(REPORTS_DIR) || { code=$$?; \
		echo "make overhead: edgeperf exited $$code (0 within, 1 exceeded, 2 inconclusive or no data)"; \
		exit $$code; }

# make calibrate: the same experiment A/A (baseline against itself); can this machine resolve the
# budgets? 0 when the minimum detectable effect is within every budget, 2 when one is too noisy
calibrate: setup
	@$(BIN)/edgeperf overhead scenarios/$(OVERHEAD_SCENARIO).yaml --calibrate \
		$(if $(PAIRS),--pairs $(PAIRS)) \
		$(if $(TARGET),--host $(TARGET)) $(if $(RATE),--rate $(RATE)) \
		$(if $(DURATION),--duration $(DURATION)) --out $(REPORTS_DIR) || { code=$$?; \
		echo "make calibrate: edgeperf exited $$code (0 every budget resolvable, 2 too noisy or no data)"; \
		exit $$code; }

# make serverbench: the stand-in agent on its lean server beside uvicorn (+httptools, uvloop),
# hey at 1000 req/s, medians of 3 (a benchmark, not a test)
serverbench: setup
	@scripts/system-deps.sh hey
	$(BIN)/python -m loadtests.experiments.serverbench

# make overhead-bench: can the default experiment resolve the 5 ms P95 budget on this machine?
# A/A calibration, +2 ms and +8 ms injected, each 3 times (about an hour; a benchmark, not a test)
overhead-bench: setup
	$(BIN)/python -m loadtests.experiments.overheadbench

# make capacity-bench: `edgeperf capacity scenarios/capacity.yaml` 3 times against the stand-in's
# known capacity of 400 req/s; each within 10 % in ≤ 10 minutes (a benchmark, not a test)
capacity-bench: setup
	$(BIN)/python -m loadtests.experiments.capacitybench

ci-perf: setup
	@code=0; $(BIN)/edgeperf run $(CI_SCENARIO_FILE) --rate $(CI_RATE) --duration $(CI_DURATION) \
		--ramp $(CI_RAMP) --out $(REPORTS_DIR) --quiet $(if $(BASELINE),--baseline $(BASELINE)) \
		|| code=$$?; \
	echo "edgeperf: exit code $$code (0 pass, 1 fail, 2 cannot judge, 130 interrupted)"; \
	exit $$code

report-shot: $(STAMP)
	@scripts/system-deps.sh chromium
	$(BIN)/python -m analysis.outputs.browser $(REPORTS_DIR) --out $(REPORTS_DIR)/latest.png
	$(BIN)/python -m analysis.outputs.browser $(REPORTS_DIR) --dark --out $(REPORTS_DIR)/latest-dark.png
	$(BIN)/python -m analysis.outputs.browser $(REPORTS_DIR)/index.html --out $(REPORTS_DIR)/index.png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
