# Every target sets itself up: a fresh clone needs only Python and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# FC runs python3.10: build the venv with pyenv's 3.10 when present, else fall back to python3.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
BASE_PYTHON ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.10*/bin/python3.10))),python3)

# Both VPC SDKs send loopback traffic through a proxy when one is set (docs/platform.md, "SDKs
# and loopback proxies"): the same list as PROXY_VARIABLES in tools/localcloud_process.py.
unexport HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

.PHONY: help venv browser check test lint types layers duplicates format run console localcloud invoke package bench soak fuzz mutate clean send status redrive

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

# The function is checked with --strict; localcloud, tools and bench with mypy's defaults plus
# pyproject.toml's [tool.mypy] (their seams are typed, their insides as far as it pays).
types: venv ## mypy: --strict for the function, the default checks for localcloud, tools, bench
	$(VENV)/bin/mypy --strict functions/create_customer_gateway/cgw_provisioner \
		functions/create_customer_gateway/index.py
	$(VENV)/bin/mypy localcloud tools bench

layers: venv ## The import contracts (tools/layers.py; tests/unit/test_layers.py runs them too)
	$(PY) tools/layers.py

duplicates: venv ## List code written twice (runs of 6+ identical lines; for a reader to judge)
	$(PY) tools/duplicates.py

check: venv lint types ## The quick loop: lint, types, layers and the fast unit tests (seconds)
	$(PY) -m pytest tests/unit -m "not slow" -q -p no:cacheprovider

format: venv ## Apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The console's browser tests drive Debian's chromium (Playwright's own browser download is not
# used): installed with apt-get when missing and we are root.
browser: ## Make sure chromium is installed (apt-get as root) for the console's browser tests
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the console tests need chromium: sudo apt-get install chromium"; exit 2; fi; }

test: venv lint types browser ## Lint and types, then the whole test suite (unit with the layers, localcloud, integration, console)
	$(PY) -m pytest

localcloud: venv ## Run localcloud in the foreground (ARGS="--port 8080 ...")
	$(PY) -m localcloud $(ARGS)

run: venv ## The whole job on localcloud: template.yml deployed, sample requests queued, outcomes table
	$(PY) tools/run.py $(ARGS)

CONSOLE_PORT ?= 8765

console: venv ## make run, then keep localcloud up with its console at :CONSOLE_PORT until Ctrl-C
	$(PY) tools/run.py --console --port $(CONSOLE_PORT) $(ARGS)

invoke: venv ## Invoke the function with fc2: EVENT=events/<file> [ENDPOINT=https://<account>.<region>.fc.aliyuncs.com]
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/direct-request.json [ENDPOINT=...] [ARGS=--log]"; exit 2; }
	$(PY) tools/invoke.py $(EVENT) $(if $(ENDPOINT),--endpoint $(ENDPOINT)) $(ARGS)

# --- the operator's command line (tools/cgw.py; docs/operating.md) -----------------------------
# MNS_ENDPOINT and ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ _SECURITY_TOKEN) come from the environment.
send: venv ## Send requests, follow their outcomes: ARGS="events/cli/branches-100.csv [--results out.jsonl]"
	@test -n "$(ARGS)" || { echo 'usage: make send ARGS="FILE... [--results OUT.jsonl] [--timeout S] [--no-wait]"'; exit 2; }
	$(PY) tools/cgw.py send $(ARGS)

status: venv ## Request queue, dead-letter queue, send tokens and result topic at a glance (ARGS=--json)
	$(PY) tools/cgw.py status $(ARGS)

redrive: venv ## Move dead letters back to the request queue (ARGS="--dry-run" / "--limit N")
	$(PY) tools/cgw.py redrive $(ARGS)

package: venv ## Build build/function.zip for FC python3.10 linux x86_64 (any build Python); prints size and sha256
	$(PY) tools/package.py $(ARGS)

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build dist mutants

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
