# The two commands of the README:
#   make run    set up (venv, database) and serve on http://127.0.0.1:5000
#   make test   set up (with test tools) and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup setup-dev setup-gevent vendor run serve serve-gevent test test-js lint-js bench lint clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.req-stamp: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.req-stamp $@

# The locked client and the page's dev tools (eslint, axe-core): --include=dev even under NODE_ENV=production.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --include=dev --no-audit --no-fund --loglevel=error

# The browser's Socket.IO client is committed in static/vendor (a Python-only deploy serves it as
# is); after changing package.json: `npm install`, `make vendor`, commit. tests/test_deploy.py
# checks that the committed copy is the locked package's.
vendor: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js node_modules/socket.io-client/dist/socket.io.min.js.map static/vendor/

tests/seed_client/node_modules/.package-lock.json: tests/seed_client/package.json tests/seed_client/package-lock.json
	npm ci --prefix tests/seed_client --no-audit --no-fund --loglevel=error

# No npm here: `make run` and `make serve` need Python only.
setup: $(VENV)/.req-stamp

# The test tools: npm brings the locked client (to check static/vendor against), eslint and axe-core
# for the page, and the seed's client.
setup-dev: $(VENV)/.dev-stamp node_modules/.package-lock.json tests/seed_client/node_modules/.package-lock.json

# Development server (threading mode, websocket included).
run: setup
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

# Production-style server: the Procfile's command.
serve: setup
	PORT=$(PORT) $(BIN)/gunicorn -k eventlet -w 1 -c gunicorn.conf.py wsgi:app

# The same app on gunicorn 26+ with the gevent worker, in a venv of its own (README: eventlet or gevent).
GEVENT_VENV := .venv-gevent

$(GEVENT_VENV)/.req-stamp: requirements-gevent.txt
	$(PYTHON) -m venv $(GEVENT_VENV)
	$(GEVENT_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-gevent.txt
	touch $@

setup-gevent: $(GEVENT_VENV)/.req-stamp

serve-gevent: setup-gevent
	PORT=$(PORT) $(GEVENT_VENV)/bin/gunicorn -k gevent -w 1 -c gunicorn.conf.py wsgi:app

# The formatter and the linter first, then the whole suite twice: on SQLite (the default), then on
# PostgreSQL (127.0.0.1:5432, database `test`, or CHAT_TEST_PG_URL). Without a reachable PostgreSQL
# the second run skips, with the reason printed, except in CI (CI=true), where it fails.
#
# Each pass runs on PYTEST_WORKERS processes (pytest-xdist; a test file stays on one worker, so its
# servers and clusters are started once), then the tests marked `serial` (they stop Redis, which
# every other test shares) alone. Most tests wait on sockets and servers, not on the CPU: three
# workers on two cores take the SQLite pass from about 30 minutes to about 8. PYTEST_WORKERS=0
# runs everything in one process. A pass with nothing left to run (exit code 5) is not a failure.
PYTEST_WORKERS ?= 3
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
PYTEST = $(BIN)/python -m pytest
test: setup-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory lint-js test-js
	$(PYTEST) $(PYTEST_PARALLEL) -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PYTEST) -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]
	CHAT_TEST_DB=postgresql $(PYTEST) $(PYTEST_PARALLEL) -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	CHAT_TEST_DB=postgresql $(PYTEST) -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The load comparison of BENCHMARKS.md (issue 8): the project as users run it (eventlet, SQLite),
# the same on gevent and on PostgreSQL, against the bare Flask-SocketIO app, Node's socket.io and
# the seed's FastAPI server; 3 interleaved runs per scenario (about 90 minutes for all five).
# Needs a quiet 2-core machine. SCENARIOS="s1 s3" for some; BENCH_ARGS="--loadgen node" etc.
SCENARIOS ?= s1 s2 s3 sat-s1 sat-s2
BENCH_PG_URL ?= postgresql://postgres@127.0.0.1:5432/chat_bench
bench: setup
	bash bench/compare.sh --quiet --rev HEAD=project \
	  --variant "project-gevent GUNICORN_WORKER_CLASS=gevent" \
	  --variant "project-pg DATABASE_URL=$(BENCH_PG_URL)" \
	  --extra node-socketio,seed-fastapi \
	  $(BENCH_ARGS) $(SCENARIOS)

lint: setup-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory lint-js

# The page's ES modules and their unit tests (eslint.config.js; node:test, no browser).
lint-js: node_modules/.package-lock.json
	node_modules/.bin/eslint eslint.config.js static/js static/sw.js tests/js

test-js:
	node --test tests/js/*.test.js

# The README's screenshots (docs/screenshots/*.png), taken by the browser suite against a real server.
screenshots: setup-dev
	CHAT_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_screenshots.py -q

clean:
	rm -rf $(VENV) $(GEVENT_VENV) node_modules .pytest_cache
