# Fieldapp: `make run` installs what is needed and serves the app; `make test` installs the test tools and runs every test.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 0.0.0.0
DEMO ?= 1
TLS ?= 0
WORKERS ?= 2
export FLASK_APP := wsgi.py
export PYTHONDONTWRITEBYTECODE := 1

APT_RUN := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-noto-core
APT_TEST := chromium poppler-utils postgresql gettext
APT_BENCH := wrk util-linux
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast deps deps-test apt-run apt-test apt-bench migrate demo translations serve bench bench-quick clean-instance

# ---------------------------------------------------------------- install (idempotent, quick on re-runs)
$(BIN)/python:
	@command -v $(PY) >/dev/null || PY=python3; $${PY:-$(PY)} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.deps-test: pyproject.toml $(VENV)/.deps
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

deps: $(VENV)/.deps
deps-test: $(VENV)/.deps-test node_modules/axe-core/axe.min.js

# Debian packages: installed only when missing, so a second run makes no network call.
apt-run:
	@missing=$$(for p in $(APT_RUN); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

apt-test: apt-run
	@missing=$$(for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

node_modules/axe-core/axe.min.js:
	npm install --no-save --no-audit --no-fund --silent axe-core@4.10.3

translations: $(VENV)/.deps
	@$(BIN)/pybabel compile -q -d fieldapp/translations -f 2>/dev/null || $(BIN)/pybabel compile -d fieldapp/translations -f

apt-bench: apt-test
	@missing=$$(for p in $(APT_BENCH); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi

# ---------------------------------------------------------------- run
migrate: deps translations
	$(BIN)/flask db upgrade

demo: migrate
	@if [ "$(DEMO)" != "0" ]; then $(BIN)/flask demo load; fi

run: apt-run deps translations migrate demo
	@$(BIN)/python -m fieldapp.serve --host $(HOST) --port $(PORT) --workers $(WORKERS) $(if $(filter 1,$(TLS)),--tls,) $(if $(filter 0,$(DEMO)),--no-demo,)

# ---------------------------------------------------------------- test
test: apt-test deps-test translations
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

test-fast: deps-test translations
	$(BIN)/python -m pytest -n 2 -q -m "not browser" $(PYTEST_ARGS)

# ---------------------------------------------------------------- bench
# bench-quick: the small version of every row on SQLite (or DATABASE_URL), under 3 minutes.
# bench: the full run on each engine in ENGINES (SQLite, then a throwaway PostgreSQL cluster started by
# pg_virtualenv as in .ci/run), each capped at BENCH_MINUTES so both fit in an hour; `make bench ENGINES=sqlite`
# for one. Each writes bench/results/<date>-<engine>.json.
ENGINES ?= sqlite postgresql
BENCH_MINUTES ?= $(if $(filter 1,$(words $(ENGINES))),57,29)
PG_URL := postgresql+psycopg://$${PGUSER}:$${PGPASSWORD}@$${PGHOST}:$${PGPORT}/$${PGDATABASE}

bench-quick: apt-bench deps-test translations
	$(BIN)/python -m bench.quick

bench: apt-bench deps-test translations
	@for engine in $(ENGINES); do \
	  case $$engine in \
	    sqlite) env -u DATABASE_URL BENCH_MINUTES=$(BENCH_MINUTES) $(BIN)/python -m bench.full || exit 1;; \
	    postgresql) pg_virtualenv -- bash -c 'export DATABASE_URL="$(PG_URL)"; BENCH_MINUTES=$(BENCH_MINUTES) $(BIN)/python -m bench.full' || exit 1;; \
	    *) echo "unknown engine $$engine (sqlite or postgresql)"; exit 2;; \
	  esac; \
	done

clean-instance:
	rm -rf instance/

# Re-extract UI strings and merge them into the catalogues (then translate the new msgids in the .po files).
i18n: $(VENV)/.deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location --sort-output --omit-header -o fieldapp/translations/messages.pot fieldapp
	$(BIN)/pybabel update -i fieldapp/translations/messages.pot -d fieldapp/translations -l zh --no-fuzzy-matching --omit-header
