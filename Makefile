# Entry points a fresh machine can run: `make run`, `make test` (and `make lint`, which CI runs first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
LINT_STAMP := $(VENV)/.lint-installed
# The Slurm executor plugin lives outside the venv (see pyproject.toml, extra `slurm`): only Slurm runs
# put it on PYTHONPATH, so local snakemake calls never pay its import-time probes.
SLURM_EXECUTOR := .slurm-executor
SLURM_STAMP := $(SLURM_EXECUTOR)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export WANDB_MODE ?= offline

.PHONY: venv test-deps lint-deps slurm-executor run run-slurm test lint format clean

venv: $(STAMP)

# Runtime only (and the model the default set explains): what `make run` needs.
# torch is pinned to the CPU build on local disk before anything else can ask for a CUDA one.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[models]'
	touch $(STAMP)

# Test and benchmark tools (shap, shapiq, playwright, pytest) on top of the runtime.
test-deps: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(BIN)/pip install -q -e '.[test]'
	touch $(TEST_STAMP)

lint-deps: $(LINT_STAMP)

$(LINT_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[lint]'
	touch $(LINT_STAMP)

slurm-executor: $(SLURM_STAMP)

$(SLURM_STAMP): $(STAMP)
	$(BIN)/pip install -q --no-deps --target $(SLURM_EXECUTOR) \
	  snakemake-executor-plugin-slurm==2.8.0 snakemake-executor-plugin-slurm-jobstep==0.6.1
	touch $(SLURM_STAMP)

run: venv
	$(BIN)/snakemake --profile profiles/default

run-slurm: slurm-executor
	PYTHONPATH=$(CURDIR)/$(SLURM_EXECUTOR) $(BIN)/snakemake --profile profiles/slurm

# Two workers: the suite's Snakemake jobs and Slurm waits leave a 2-core machine half idle when run one by one.
TEST_WORKERS ?= 2

test: test-deps slurm-executor
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=40 tests

# Lint and format checks; `make format` rewrites instead of checking.
lint: lint-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint

format: lint-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules/

clean:
	rm -rf results/* .snakemake
