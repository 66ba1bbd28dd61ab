# Two commands: `make run` serves the shop with demo data; `make test` runs every test.
PYTHON ?= python3
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv, pinned: the same resolver and installer on every machine (the version `make lock` was run with).
UV_VERSION := 0.13.9
UV := $(BIN)/uv
# The locks: every package pinned with its hashes, compiled from pyproject.toml by `make lock`.
LOCK_FLAGS := --quiet --universal --python-version 3.11 --generate-hashes --no-emit-index-url \
	--no-emit-find-links --custom-compile-command 'make lock'
FLASK := $(BIN)/flask --app shop
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test setup lock prod prod-stop prod-status bytecode translations extract compile db bench clean

run: setup db
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# Tests run in parallel, one worker per core (pytest-xdist); a test file stays on one worker, so
# its module fixtures (live servers, seeded scenes) are built once. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= auto
test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# A production-like stack on this machine (PostgreSQL, Redis, gunicorn x4, dispatcher, cron) in
# instance/prod: see scripts/prod.sh and docs/DEPLOY.md section 9.
prod: setup
	scripts/prod.sh start

prod-stop:
	scripts/prod.sh stop

prod-status:
	scripts/prod.sh status

setup: $(STAMP) $(COMPILED) bytecode

# This machine (and many containers) set PYTHONDONTWRITEBYTECODE: compile the project's own modules
# once, so every `flask` command and test run starts from bytecode (a second `make run` is fast).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 shop migrations >/dev/null

# Installs exactly the dev lock (hashes checked; anything else in .venv is removed), then the
# shop itself without dependencies. Production installs requirements/prod.txt (docs/DEPLOY.md).
$(STAMP): pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test "$$($(UV) --version 2>/dev/null)" = "uv $(UV_VERSION)" || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(UV) pip sync --quiet --require-hashes --compile-bytecode --python $(BIN)/python requirements/dev.txt
	$(UV) pip install --quiet --no-deps --python $(BIN)/python -e .
	touch $(STAMP)

# Re-resolve both locks from pyproject.toml (after adding or changing a dependency): one command.
# Keeps the current pins where pyproject.toml still allows them; `make lock LOCK_ARGS=--upgrade`
# moves everything to the newest allowed release.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test "$$($(UV) --version 2>/dev/null)" = "uv $(UV_VERSION)" || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_ARGS) --extra dev -o requirements/dev.txt pyproject.toml
	$(UV) pip compile $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements/prod.txt pyproject.toml

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -d translations -l $* >/dev/null

compile: $(STAMP)
	$(BIN)/pybabel compile -d translations

# Re-extract every string and merge it into each catalog (then translate the new entries).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --ignore-dirs='.* __pycache__' --no-location --sort-output -o messages.pot shop templates
	$(BIN)/pybabel update -i messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	rm -f messages.pot

# Upgrade the database to the newest migration and load demo data (seed-demo is idempotent). The
# default SQLite file is done once per change of the migrations or the demo data (a second
# `make run` starts the shop at once); a DATABASE_URL of your own is upgraded every time.
DB_READY := instance/.db-ready
db: setup
	@if [ -n "$$DATABASE_URL" ] || [ ! -f instance/shop.sqlite3 ] || [ ! -f $(DB_READY) ] || \
	    [ -n "$$(find migrations/versions shop/demo.py -newer $(DB_READY) -print -quit)" ]; then \
		echo "$(FLASK) db upgrade && $(FLASK) seed-demo"; \
		$(FLASK) db upgrade && $(FLASK) seed-demo && { [ -n "$$DATABASE_URL" ] || touch $(DB_READY); }; \
	fi

# BENCH_DATABASE_URL=postgresql://… adds the reservation journey over HTTP (with the service bench).
bench: setup
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get install -y -q wrk >/dev/null; } \
		|| { echo "make bench needs wrk, the HTTP load generator (Debian: apt-get install wrk)"; exit 1; }
	$(BIN)/python bench/catalog_rps.py
	$(BIN)/python bench/catalog_growth.py
	@if [ -n "$$BENCH_DATABASE_URL" ]; then $(BIN)/python bench/journey_http.py --url "$$BENCH_DATABASE_URL"; \
	else echo "journey_http.py skipped: set BENCH_DATABASE_URL=postgresql://… (it needs PostgreSQL)"; fi

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
