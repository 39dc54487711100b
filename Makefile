# Lucid developer entry points. `make setup` is idempotent and quick when done.
SHELL := /bin/bash
.DEFAULT_GOAL := test

VENV  := .venv
BIN   := $(VENV)/bin
STATE ?= .state/run
# The RDP host needs root (xrdp's sesman); without root `make run` runs without it (0 = none).
RDP_PORT ?= $(if $(filter 0,$(shell id -u)),3389,0)

.PHONY: setup run test lint typecheck contracts unit bench format clean distclean

setup:
	@bash scripts/setup.sh

run: setup
	$(BIN)/lucid up --state $(STATE) --desktop --rdp-port $(RDP_PORT)

lint: setup
	@scripts/timed.sh lint $(BIN)/ruff check daemons tests bench

typecheck: setup
	@scripts/timed.sh typecheck $(BIN)/mypy

# The Solidity contracts: npm ci (Foundry, solc, OpenZeppelin), forge build + test + lint,
# exported artifacts checked against the build, gas per anchored session. It also installs
# the anvil binary the chain-client tests run, so it comes before `unit`.
contracts:
	@scripts/timed.sh contracts bash contracts/test.sh

# pytest exits 5 when it collected no test: that is a failure here too.
unit: setup
	@rc=0; scripts/timed.sh unit $(BIN)/pytest --durations=15 || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests" >&2; fi; \
	exit $$rc

test: lint typecheck contracts unit

bench: setup
	$(BIN)/python bench/run.py

format: setup
	$(BIN)/ruff format daemons tests bench
	$(BIN)/ruff check --fix daemons tests bench

# Tool caches, build leftovers, bench data (.bench/) and dev state (.state/); keeps .venv.
clean:
	rm -rf .mypy_cache .pytest_cache .ruff_cache .bench .state build dist
	find daemons tests bench -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) daemons/*.egg-info
