# Two commands do all the set-up: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export IDP_DATA_DIR ?= $(CURDIR)/instance

.PHONY: run test install install-test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: migrate, register the demo portals, serve the provider on :5000 and the
## two demo portals on :5001 and :5002 (Ctrl-C stops all three).
run: install
	$(BIN)/idp db upgrade
	$(BIN)/idp demo
	@echo "provider: http://127.0.0.1:5000  portals: http://127.0.0.1:5001  http://127.0.0.1:5002"
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/python -m clients.portal land & \
	  $(BIN)/python -m clients.portal business & \
	  $(BIN)/idp serve --host 127.0.0.1 --port 5000

## make test: lint, then the whole suite (both backends; the server leg skips with a
## reason when PostgreSQL/Redis are absent, unless IDP_TEST_REQUIRE_SERVER=1).
test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache
