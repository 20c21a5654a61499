# Handoff: `make run` serves the portal with demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
USWDS := node_modules/@uswds/uswds/dist
CHROMIUM ?= $(shell if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; fi)

.PHONY: run test install install-test assets fhir-server migrate demo worker lint format clean messages

# The embedded default: SQLite file, in-memory channel layer, console email, DEBUG on.
run: export DEBUG ?= true
run: install assets
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py schedule_sweeps
	@echo ""
	@echo "Handoff is starting at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@trap 'kill 0' EXIT; \
	  $(PY) manage.py db_worker --queue-name '*' & \
	  $(PY) -m daphne -b $(HOST) -p $(PORT) handoff.asgi:application

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(VENV)/bin/activate
	$(PIP) install --quiet -e .

install-test: $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[test]'

# Precompiled USWDS (CSS, JS, fonts, images) from npm, pinned by package-lock.json; no Sass build.
assets: static/vendor/uswds/css/uswds.min.css

static/vendor/uswds/css/uswds.min.css: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf static/vendor/uswds && mkdir -p static/vendor/uswds
	cp -r $(USWDS)/css $(USWDS)/js $(USWDS)/fonts $(USWDS)/img static/vendor/uswds/
	touch $@

# The real FHIR server the interop tests talk to (Medplum's engine on Node), pinned by its lock.
FHIR_SERVER := tests/fhir_server
fhir-server: $(FHIR_SERVER)/node_modules/.package-lock.json

$(FHIR_SERVER)/node_modules/.package-lock.json: $(FHIR_SERVER)/package.json $(FHIR_SERVER)/package-lock.json
	cd $(FHIR_SERVER) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: install-test assets fhir-server
	@chromium="$${CHROMIUM:-$(CHROMIUM)}"; \
	if [ -z "$$chromium" ] || [ ! -x "$$chromium" ]; then \
	  echo "Chromium was not found. The browser tests need it. On Debian or Ubuntu run:"; \
	  echo "    sudo apt-get update && sudo apt-get install -y chromium"; \
	  echo "or set CHROMIUM=/path/to/chromium and run 'make test' again."; \
	  exit 2; \
	fi; \
	CHROMIUM="$$chromium" $(PY) -m pytest $(PYTEST_ARGS)

# Spanish for the whole interface: locale/es holds every message marked for translation in the
# project's code and templates (pages, emails, errors, the HSDS import, the EHR pages, the admin's
# own templates; Django's and allauth's own messages come with them). This refreshes its msgids
# and compiles it; translate any empty or fuzzy msgstr in locale/es/LC_MESSAGES/django.po, then
# run it again (tests/test_spanish.py fails while one is left). The .mo is committed, so
# running the portal needs no gettext.
MESSAGES_PO := locale/es/LC_MESSAGES/django.po
messages: export DEBUG ?= true
messages: install
	$(PY) manage.py makemessages -l es --ignore 'node_modules/*' --ignore 'static/*' \
	  --ignore 'tests/*' --ignore 'e2e/*' --ignore 'benchmarks/*' --ignore '.venv/*'
	$(PY) manage.py compilemessages -l es --ignore '.venv' --ignore 'node_modules'

worker: install
	$(PY) manage.py db_worker --queue-name '*'

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-test
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) node_modules $(FHIR_SERVER)/node_modules static/vendor staticfiles handoff.sqlite3 test_handoff.sqlite3*
