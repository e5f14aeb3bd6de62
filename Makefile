# Two commands do all the set-up: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export IDP_DATA_DIR ?= $(CURDIR)/instance

.PHONY: run test mutants install install-test lint format clean

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
	@$(BIN)/python -m clients.run 5000

## make test: lint, then the whole suite (both backends; the server leg skips with a
## reason when PostgreSQL/Redis are absent, unless IDP_TEST_REQUIRE_SERVER=1).
test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

## make mutants: mutation testing of the service code with mutmut (the modules and the
## pytest options: [tool.mutmut] in pyproject.toml), embedded backend only, at low priority.
## By default the authorization and consent policy, the interaction state machine, token
## validation and revocation (about half an hour on two cores, figures in docs/testing.md);
## MUTANTS='idp.oauth.grants.*' for other globs of mutant names, MUTANTS= for every mutant
## of the modules (many hours). Then: $(BIN)/mutmut results, $(BIN)/mutmut show NAME;
## `rm -rf mutants` starts afresh (see docs/testing.md).
MUTANTS ?= 'idp.oauth.policy.*' 'idp.consent.policy.*' 'idp.interaction.*' \
	'idp.oauth.validation.*' 'idp.tokens.service.*'
mutants: install-test
	IDP_TEST_BACKENDS=embedded nice -n 10 $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut export-cicd-stats
	@$(BIN)/mutmut results --all true | sed 's/.*: //' | sort | uniq -c

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache mutants
