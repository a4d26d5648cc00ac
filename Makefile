# Newsroom: `make run` starts everything, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Procfile.dev and load_demo read these; honcho also takes its base port from PORT.
export HOST PORT

.PHONY: run test lint typecheck unit bench bench-scale install install-dev browser spamassassin vnu axe clean

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files: a second `make run` reuses what the first installed, and a
# changed requirements file triggers a reinstall.
$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Links in emails are built on SITE_URL: by default, the address make run serves.
run: export SITE_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(VENV)/bin/honcho -f Procfile.dev start -e /dev/null

browser:
	@scripts/ensure-chromium

spamassassin:
	@scripts/ensure-spamassassin

vnu:
	@scripts/ensure-vnu

axe: vnu
	@scripts/ensure-axe

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: install-dev
	$(VENV)/bin/mypy .

test: install-dev browser spamassassin vnu axe lint typecheck
	$(VENV)/bin/pytest

unit: install-dev
	$(VENV)/bin/pytest -m "not integration and not browser and not spamassassin and not vnu and not axe"

bench: install-dev
	$(PY) -m bench.run
	$(PY) -m bench.sequences
	$(PY) -m bench.page
	$(PY) -m bench.subscribe_timing
	$(PY) -m bench.chaos
	$(PY) -m bench.admin
	$(PY) -m bench.static
	$(PY) -m bench.engagement
	$(PY) -m bench.zones
	$(PY) -m bench.ratelimit
	$(PY) -m bench.budget
	$(PY) -m bench.providers

# A large publication (a million readers, ten million events; BENCH_SCALE=0.1 for a tenth) and every
# admin and public page timed on it. Builds in about 5 minutes here, then times the pages; see docs/benchmarks.md.
bench-scale: install-dev
	$(PY) -m bench.scale

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .tools
