# The README's commands. `make pipeline` sets up .venv and runs the project's main job;
# `make test` sets up .venv and runs the whole test suite (what CI runs).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data/synth
BUILD ?= build
IMAGES ?= 400
SEED ?= 0

export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS := false

.PHONY: setup pipeline data test test-fast bench clean

setup: $(VENV)/.installed

# pip (not uv/poetry): torch 2.14.1 / torchvision 0.29.1 wheels are on this machine's disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Until the DVC pipeline lands: generate, validate and show the embedded dataset.
pipeline: setup
	$(BIN)/pose data synth $(DATA) --images $(IMAGES) --seed $(SEED)
	$(BIN)/pose data validate $(DATA) --split train --json $(BUILD)/validation/train.json
	$(BIN)/pose data validate $(DATA) --split val --json $(BUILD)/validation/val.json
	$(BIN)/pose data show $(DATA) --split train --num 16 --out $(BUILD)/preview/train.png
	$(BIN)/pose data info $(DATA) --split train
	@echo "preview: $(BUILD)/preview/train.png   validation: $(BUILD)/validation/"

test: setup
	@$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: setup
	$(BIN)/pose bench

clean:
	rm -rf $(BUILD) .pytest_cache
