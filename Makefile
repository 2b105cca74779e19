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

.PHONY: run test install lint typecheck test-sqlite test-postgres system-deps browser-deps demo bench clean engine screenshots

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

# The README's screenshots (docs/screenshot-dashboard.png, -customer.png, -invoice.png) from a
# fresh demo: a temporary SQLite database and var directory, an administrator with a generated
# password, `billcore demo`, `billcore serve` on a free port (engine off), docs/screenshots.py
# in Debian's Chromium, then the server is stopped and the temporary directory removed.
screenshots: install system-deps
	@set -euo pipefail; tmp=$$(mktemp -d); \
	export DATABASE_URL="sqlite:///$$tmp/demo.sqlite3" BILLCORE_VAR_DIR="$$tmp" \
	  BILLCORE_ADMIN_PASSWORD="shots-$$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(BIN)/billcore migrate >/dev/null; \
	$(BIN)/billcore createadmin >/dev/null; \
	$(BIN)/billcore demo; \
	$(BIN)/billcore serve --host 127.0.0.1 --port $$port --engine-interval 0 >$$tmp/serve.log 2>&1 & pid=$$!; \
	trap 'kill $$pid; wait $$pid || true; rm -rf "$$tmp"' EXIT; \
	for _ in $$(seq 120); do curl -sf -o /dev/null http://127.0.0.1:$$port/login/ && break; sleep 0.5; done; \
	$(BIN)/python docs/screenshots.py --url http://127.0.0.1:$$port

# Debian's packages: Chromium for the Playwright browser test (never a browser download) and
# Pango for WeasyPrint's PDF invoices, poppler-utils (pdftotext) for the tests that read them.
# Erlang/OTP's diameter application (erlang-diameter, with erlang-dev for its headers) is the
# independent Diameter peer of the Gy tests (tests/e2e/diameter/).
DEB_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils freeradius-utils
DEB_PACKAGES += erlang-base erlang-diameter erlang-dev
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
