# Two commands: `make run` serves the shop with demo data; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app shop
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test setup bytecode translations extract compile db bench clean

run: setup db
	$(FLASK) run --host 127.0.0.1 --port 5000

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) $(COMPILED) bytecode

# This machine (and many containers) set PYTHONDONTWRITEBYTECODE: compile the project's own modules
# once, so every `flask` command and test run starts from bytecode (a second `make run` is fast).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 shop migrations >/dev/null

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -d translations -l $* >/dev/null

compile: $(STAMP)
	$(BIN)/pybabel compile -d translations

# Re-extract every string and merge it into each catalog (then translate the new entries).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --ignore-dirs='.* __pycache__' --no-location --sort-output -o messages.pot shop templates
	$(BIN)/pybabel update -i messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
	rm -f messages.pot

# Upgrade the database to the newest migration and load demo data (once: seed-demo is idempotent).
db: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo

# BENCH_DATABASE_URL=postgresql://… adds the reservation journey over HTTP (with the service bench).
bench: setup
	$(BIN)/python bench/catalog_rps.py
	$(BIN)/python bench/catalog_growth.py
	@if [ -n "$$BENCH_DATABASE_URL" ]; then $(BIN)/python bench/journey_http.py --url "$$BENCH_DATABASE_URL"; \
	else echo "journey_http.py skipped: set BENCH_DATABASE_URL=postgresql://… (it needs PostgreSQL)"; fi

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
