# One entry point for installing, running, testing and linting quire. `.ci/run` calls `make ci`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve test lint format ci bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.server-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[server]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[dev]"
	touch $@ $(VENV)/.server-installed

## Install the server and run it on http://127.0.0.1:6900 (embedded SQLite under ~/.quire)
serve: $(VENV)/.server-installed
	$(BIN)/quire server

## Install everything and run the test suite (PostgreSQL half needs QUIRE_TEST_POSTGRES_URL)
test: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

ci: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
