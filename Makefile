# Two commands on a fresh machine (see README): `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The admin's stylesheet is built from GOV.UK Frontend (pinned in admin/package.json and
# admin/package-lock.json) with Arial, on install; it is not committed. Needs node and npm.
CSS := admin/static/admin.css
# The bot's option pictures are OpenMoji's SVGs (CC BY-SA 4.0), pinned in pictures/package.json and
# pictures/package-lock.json and installed, not committed; rsvg-convert (librsvg2-bin) draws them.
OPENMOJI := pictures/node_modules/openmoji/package.json

.PHONY: run test lint install install-test css

run: install
	$(BIN)/voices serve

test: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/voices check
	$(BIN)/pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python $(CSS) $(OPENMOJI)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .

install-test: $(BIN)/python $(CSS) $(OPENMOJI)
	$(BIN)/pip install --quiet -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps -e .

$(CSS): admin/scss/admin.scss admin/package.json admin/package-lock.json
	cd admin && npm ci --no-audit --no-fund --loglevel=error && npx sass --no-source-map \
		--load-path=node_modules/govuk-frontend/dist --style=compressed scss/admin.scss static/admin.css

css: $(CSS)

$(OPENMOJI): pictures/package.json pictures/package-lock.json
	cd pictures && npm ci --no-audit --no-fund --loglevel=error
	touch $@
