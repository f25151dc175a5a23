# Two entry points a fresh machine can run: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Slurm executor plugin lives outside the venv (see pyproject.toml, extra `slurm`): only Slurm runs
# put it on PYTHONPATH, so local snakemake calls never pay its import-time probes.
SLURM_EXECUTOR := .slurm-executor
SLURM_STAMP := $(SLURM_EXECUTOR)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export WANDB_MODE ?= offline

.PHONY: venv slurm-executor run run-slurm test clean

venv: $(STAMP)

# torch is pinned to the CPU build on local disk before anything else can ask for a CUDA one.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

slurm-executor: $(SLURM_STAMP)

$(SLURM_STAMP): $(STAMP)
	$(BIN)/pip install -q --no-deps --target $(SLURM_EXECUTOR) \
	  snakemake-executor-plugin-slurm==2.8.0 snakemake-executor-plugin-slurm-jobstep==0.6.1
	touch $(SLURM_STAMP)

run: venv
	$(BIN)/snakemake --profile profiles/default

run-slurm: slurm-executor
	PYTHONPATH=$(CURDIR)/$(SLURM_EXECUTOR) $(BIN)/snakemake --profile profiles/slurm

test: venv slurm-executor
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf results/* .snakemake
