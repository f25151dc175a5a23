# Two entry points a fresh machine can run: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export WANDB_MODE ?= offline

.PHONY: venv run test bench clean

venv: $(STAMP)

# torch is pinned to the CPU build on local disk before anything else can ask for a CUDA one.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: venv
	$(BIN)/snakemake --profile profiles/default

test: venv
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf results/* .snakemake
