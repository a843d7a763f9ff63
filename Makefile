# 科技大市场: `make run` serves a demo on http://127.0.0.1:5000; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 4
# each test run's own temporary folder (emptied when it starts)
TEST_TMP ?= /tmp/market-tests

.PHONY: run test test-sqlite test-postgres serve worker browser clean-venv lint-security audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# the site and, beside it, a job consumer (suggestion refresh and other background work); both stop together
run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) jobs worker --workers 1 & consumer=$$!; trap 'kill $$consumer 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(FLASK) db upgrade
	$(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --access-logfile - 'app:app'

# the job consumer of a node, run as a service of its own beside `make serve` (see the README's deployment guide)
JOB_WORKERS ?= 2
worker: $(VENV)/.installed
	$(FLASK) jobs worker --workers $(JOB_WORKERS)

# Debian's chromium for the browser journeys (Playwright's own browser download does not work here),
# and a CJK font: without one every Chinese character renders as a box in screenshots.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; } || { \
	  echo "installing Debian chromium and fonts-noto-cjk for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null || \
	  (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null; }

# The SQLite and PostgreSQL runs go side by side (each on databases, folders and ports of its own; each run's
# output is printed whole when it ends): on two cores the whole suite takes about the time of the longer run.
test: $(VENV)/.installed-dev browser lint-security
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# bandit: no medium or high finding in market/ (a justified exception carries `# nosec Bxxx - reason`)
lint-security: $(VENV)/.installed-dev
	$(BIN)/bandit -q -r market -ll

# pip-audit of the pinned requirements when its vulnerability database can be reached; reports, never fails
audit: $(VENV)/.installed-dev
	-bench/audit.sh

test-sqlite: $(VENV)/.installed-dev
	mkdir -p $(TEST_TMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 --basetemp=$(TEST_TMP)/sqlite

# The same suite on PostgreSQL (127.0.0.1:5432, user postgres), the browser journeys included (each on a
# database of its own); skipped when it is not reachable unless MARKET_REQUIRE_PG=1 (as in CI).
test-postgres: $(VENV)/.installed-dev
	mkdir -p $(TEST_TMP)
	MARKET_TEST_DB=postgres $(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 --basetemp=$(TEST_TMP)/postgres

clean-venv:
	rm -rf $(VENV)
