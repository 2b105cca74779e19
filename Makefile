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

.PHONY: run test install lint typecheck test-sqlite test-postgres system-deps browser-deps demo bench clean engine

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install system-deps
	mkdir -p var
	$(BIN)/billcore migrate
	$(BIN)/billcore createadmin --if-missing
	$(BIN)/billcore serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/billcore migrate
	$(BIN)/billcore demo

# Debian's packages: Chromium for the Playwright browser test (never a browser download) and
# Pango for WeasyPrint's PDF invoices, poppler-utils (pdftotext) for the tests that read them.
DEB_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "WARNING: could not install Debian's$$missing"; \
	  else \
	    echo "NOTE: run 'sudo apt-get install$$missing' (browser test, PDF invoices)"; \
	  fi; \
	fi

browser-deps: system-deps

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

test: install system-deps lint typecheck test-sqlite test-postgres

bench: install
	$(BIN)/python bench/customers.py
	$(BIN)/python bench/rating.py

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
