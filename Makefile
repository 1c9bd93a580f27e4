# Every target sets itself up: a fresh clone needs only Python and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# FC runs python3.10: build the venv with pyenv's 3.10 when present, else fall back to python3.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
BASE_PYTHON ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.10*/bin/python3.10))),python3)

# Both VPC SDKs send loopback traffic through a proxy when one is set (see wire.md 1.4).
unexport HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

.PHONY: help venv test lint format run localcloud invoke package bench soak fuzz mutate clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || { echo "creating $(VENV) with $(BASE_PYTHON)"; $(BASE_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed ## Create .venv (python3.10 when available) with run-time and dev requirements

lint: venv ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv lint ## Lint, then run the whole test suite (unit, localcloud, integration)
	$(PY) -m pytest

localcloud: venv ## Run localcloud in the foreground (ARGS="--port 8080 ...")
	$(PY) -m localcloud $(ARGS)

run: venv ## The whole job on localcloud: template.yml deployed, sample requests queued, outcomes table
	$(PY) tools/run.py $(ARGS)

invoke: venv ## Invoke the function with fc2: EVENT=events/<file> [ENDPOINT=https://<account>.<region>.fc.aliyuncs.com]
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/direct-request.json [ENDPOINT=...] [ARGS=--log]"; exit 2; }
	$(PY) tools/invoke.py $(EVENT) $(if $(ENDPOINT),--endpoint $(ENDPOINT)) $(ARGS)

package: venv ## Build build/function.zip, the code zip template.yml deploys (upload it to OSS)
	$(PY) tools/package.py $(ARGS)

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist mutants

# --- benchmarks and the reliability suite (bench/, tools/soak.py, tests/fuzz/) -----------------
FUZZ_EXAMPLES ?= 5000

fuzz: venv ## Long hypothesis run over decode, validation and outcomes (FUZZ_EXAMPLES=5000)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -p no:cacheprovider \
		tests/fuzz tests/unit/test_bad_input.py -q

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	@touch $@

bench: $(VENV)/.bench-installed ## Benchmarks: writes bench/results.json and bench/throughput.png (ARGS="--only core,cold")
	$(PY) -m bench.run $(ARGS)

N ?= 1000

soak: venv ## Reliability suite: the whole path with every fault at once (N=1000; N=100 small)
	$(PY) tools/soak.py -n $(N) $(ARGS)

# --- mutation testing (docs/testing.md) -------------------------------------------------------
MUTATE_CHILDREN ?= 2
MUTATE_DIR := build/mutate

mutate: venv ## Mutation testing (mutmut) of events, validation, outcomes, retry vs the fast unit tests
	rm -rf $(MUTATE_DIR) && mkdir -p $(MUTATE_DIR)
	cp -r functions/create_customer_gateway/cgw_provisioner schemas events localcloud tests \
		pyproject.toml $(MUTATE_DIR)/
	cd $(MUTATE_DIR) && HYPOTHESIS_PROFILE=mutate $(CURDIR)/$(VENV)/bin/mutmut run \
		--max-children $(MUTATE_CHILDREN) && $(CURDIR)/$(VENV)/bin/mutmut results
