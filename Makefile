# obgw: `make run` starts the gateway and the sandbox bank; `make test` runs every suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench contract migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/obgw up

migrate: $(STAMP)
	$(BIN)/obgw migrate

# Two workers (the reference machine has two cores); one test file stays on one worker.
test: $(DEVSTAMP)
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(DEVSTAMP)
	$(BIN)/ruff check gateway consent sandbox tests
	$(BIN)/lint-imports

contract: $(DEVSTAMP)
	OBGW_CONTRACT_DEPTH=deep $(BIN)/pytest tests/contract $(PYTEST_ARGS)

# wrk against nginx, a Python floor and the gateway (docs/performance.md); needs wrk, nginx and taskset.
bench: $(STAMP)
	$(BIN)/obgw bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
