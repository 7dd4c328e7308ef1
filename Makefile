# carefund: two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: setup run test lint types pytest test-postgres test-browser browser-tools screenshots demo bench clean

# Idempotent: creates .venv, installs the pinned dependencies, installs carefund (leaves .venv/bin/carefund).
setup: $(STAMP)

$(STAMP): requirements/dev.lock requirements/base.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Migrates the SQLite database under var/, loads the demo (idempotent) and serves with gunicorn + whitenoise.
run: setup
	mkdir -p var
	DEBUG=$${DEBUG:-1} $(BIN)/carefund migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/carefund collectstatic --noinput --verbosity 0
	DEBUG=$${DEBUG:-1} $(BIN)/carefund demo
	@echo "carefund is serving on http://$(HOST):$(PORT)/ (background: carefund db_worker, carefund webhooks confirm --watch)"
	DEBUG=$${DEBUG:-1} $(BIN)/carefund db_worker --no-startup-delay & worker=$$!; \
	DEBUG=$${DEBUG:-1} $(BIN)/carefund webhooks confirm --watch 0.1 & confirmer=$$!; \
	trap 'kill $$worker $$confirmer 2>/dev/null' EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} $(BIN)/gunicorn -c config/gunicorn.conf.py config.wsgi:application --access-logfile -

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy carefund config benchmarks

pytest: setup
	$(BIN)/pytest -q -n 2

test: lint types pytest

# The same suite on PostgreSQL (used by .ci/run).
test-postgres: setup
	DATABASE_URL=$${PG_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/carefund} $(BIN)/pytest -q -n 2

# Browser tests (Playwright with Debian's chromium, axe-core from npm): installs what they need, then runs them
# against a demo site served by gunicorn (carefund/web/tests/browser, docs/adr/0041-browser-tests.md).
browser-tools: setup
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)
	test -f node_modules/axe-core/axe.min.js || npm ci --no-audit --no-fund

test-browser: browser-tools
	$(BIN)/pytest -q -p no:xdist -m browser carefund/web/tests/browser

# Screenshots of the main pages at 360 and 1280 px into docs/screenshots/ (commit them).
screenshots: browser-tools
	$(BIN)/python -m carefund.web.tests.browser.screenshots docs/screenshots

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var staticfiles
