# The README's commands. `make pipeline` sets up .venv and runs the project's main job;
# `make test` sets up .venv and runs the whole test suite (what CI runs).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
BUILD ?= build
UI_PORT ?= 5000
# Servers listen on loopback only; another address (e.g. UI_HOST=0.0.0.0) is explicit and warned about.
UI_HOST ?= 127.0.0.1
SERVE_HOST ?= 127.0.0.1
LOOPBACK := 127.0.0.1 localhost ::1
# The local Prefect server's API URL, written by `make server` / `make serve` while it runs.
API_URL_FILE := .prefect/api_url
NEED_SERVER = @test -s $(API_URL_FILE) || { echo "error: $(API_URL_FILE): no local Prefect server running; start one with make server (or make serve)" >&2; exit 2; }
# dvc.yaml's commands call `pose`: the project's venv goes first on PATH for every DVC call.
export PATH := $(abspath $(BIN)):$(PATH)
export PREFECT_HOME := $(CURDIR)/.prefect

export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS := false

.PHONY: setup pipeline data test test-fast bench clean serve server deploy worker trigger ui dvc-status plots

setup: $(VENV)/.installed

# pip (not uv/poetry): torch 2.14.1 / torchvision 0.29.1 wheels are on this machine's disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[pipeline,test]"
	touch $@

# The DVC pipeline (dvc.yaml): make data/ present (regenerate the embedded set, or `dvc pull`
# when a remote is configured), then `dvc repro` under one MLflow parent run. A no-op when
# nothing changed.
pipeline: setup
	$(BIN)/pose pipeline run

# One process: a local Prefect server on 127.0.0.1 (free port; state in .prefect/) and the flow
# serving deployment train-pose/train-pose with the cron of params/schedule.yaml. Stop with Ctrl-C.
serve: setup
	$(BIN)/python flows/train_pose.py serve --host $(SERVE_HOST)

# Work pool: the local Prefect server alone (127.0.0.1, free port, .prefect/api_url), until Ctrl-C;
# then, in other shells, `make deploy` (once, and after changing params/schedule.yaml), `make worker`.
server: setup
	$(BIN)/pose pipeline server --host $(SERVE_HOST)

# prefect.yaml's deployment train-pose/train-pose (schedule from params/schedule.yaml) on the process
# work pool posepipe-process, created when missing (prefect work-pool create ... --type process).
deploy: setup
	$(BIN)/pose pipeline deploy

# A process worker: runs the pool's flow runs (scheduled or triggered) in this folder, one at a time.
worker: setup
	$(NEED_SERVER)
	PREFECT_API_URL="$$(cat $(API_URL_FILE))" $(BIN)/prefect worker start --pool posepipe-process --type process

# Trigger the deployment once (served by `make serve` or run by `make worker`) and wait for its final state.
trigger:
	$(NEED_SERVER)
	PREFECT_API_URL="$$(cat $(API_URL_FILE))" $(BIN)/prefect deployment run train-pose/train-pose --watch

# The MLflow UI on the project store (mlruns/mlflow.db): http://127.0.0.1:$(UI_PORT)
ui: setup
	$(if $(filter-out $(LOOPBACK),$(UI_HOST)),@echo "warning: the MLflow UI will listen on $(UI_HOST): anyone who can reach this machine can read and change runs and the registry (no authentication)" >&2)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri "sqlite:///$(CURDIR)/mlruns/mlflow.db" \
		--host $(UI_HOST) --port $(UI_PORT) --workers 1

dvc-status:
	$(BIN)/dvc status

# dvc.yaml's plots (training curves, PCK curve, the evaluate stage's PNGs) as $(BUILD)/plots/index.html,
# rendered offline: docs/vega/plots.html loads the vendored vega scripts copied beside the page.
# REVS="main my-exp" overlays revisions or experiments (dvc plots diff) instead of the workspace.
plots: setup
	$(BIN)/dvc plots $(if $(REVS),diff $(REVS),show) --html-template docs/vega/plots.html -o $(BUILD)/plots
	mkdir -p $(BUILD)/plots/vega && cp docs/vega/*.min.js $(BUILD)/plots/vega/

# Two xdist workers (TEST_WORKERS=0: one process), work stolen so the long e2e tests spread;
# the slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: setup
	@$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=25; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The unit tests without the ones marked slow (e2e, fault injection, torchrun, training).
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/pose bench

clean:
	rm -rf $(BUILD) .pytest_cache
