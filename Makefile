# billcore: `make run` installs and serves the product on SQLite; `make test` installs and runs
# lint, types and every test on SQLite and PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
PYTEST_ARGS ?=

.PHONY: run test install lint typecheck test-sqlite test-postgres browser-deps demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	mkdir -p var
	$(BIN)/billcore migrate
	$(BIN)/billcore createadmin --if-missing
	$(BIN)/billcore serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/billcore migrate
	$(BIN)/billcore demo

# Debian's Chromium for the Playwright browser test (never a browser download).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "WARNING: could not install Debian's chromium; the browser test will not run"; \
	  else \
	    echo "NOTE: run 'sudo apt-get install chromium' to run the browser test"; \
	  fi; \
	fi

lint: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

test-sqlite: install
	DATABASE_URL= $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$(TEST_PG_URL) $(BIN)/python -m pytest tests/integration tests/e2e $(PYTEST_ARGS)

test: install browser-deps lint typecheck test-sqlite test-postgres

bench: install
	$(BIN)/python bench/customers.py

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
