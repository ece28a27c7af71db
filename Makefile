# Facet: two commands. `make run` starts the platform, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
PROMETHEUS ?= /usr/bin/prometheus
PROMTOOL ?= /usr/bin/promtool

.PHONY: run test lint install install-dev bench-deps browser prometheus monitoring-check clean-var help
.DEFAULT_GOAL := help

help:
	@echo "make run    start web, workers and the embedded database (http://demo.localhost:8000)"
	@echo "make test   install test dependencies and run lint + the whole test suite"
	@echo "make lint   ruff and the import layers (lint-imports)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Facet needs Python 3.11 (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps: reinstall only when a requirements file changes.
# insightface is installed without its declared deps (it would pull opencv-python,
# which needs libGL); cpu.txt pins what it really imports.
$(VENV)/.runtime: $(BIN)/python requirements/base.txt requirements/engines.txt requirements/ingest.txt requirements/cpu.txt requirements/engines-nodeps.txt
	$(BIN)/pip install --quiet -r requirements/cpu.txt
	$(BIN)/pip install --quiet --no-deps -r requirements/engines-nodeps.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.txt
	$(BIN)/pip install --quiet -r requirements/dev.txt
	@touch $@

# The peer library the benchmarks compare against (not needed to run or test).
$(VENV)/.bench: $(VENV)/.dev requirements/bench.txt
	$(BIN)/pip install --quiet --no-deps -r requirements/bench.txt
	@touch $@

bench-deps: $(VENV)/.bench

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium)"; exit 1; fi; }

# The alert rules are unit-tested with promtool, and a test scrapes a running platform
# with a real Prometheus: both from Debian's prometheus package.
prometheus:
	@test -x $(PROMETHEUS) -a -x $(PROMTOOL) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else echo "Install Debian's prometheus package (sudo apt-get install prometheus)"; exit 1; fi; }

# What tests/test_prometheus_rules.py checks, without Python.
monitoring-check: prometheus
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) check rules deploy/prometheus/rules/*.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.test.yml

run: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py run_platform

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install-dev browser prometheus lint
	$(BIN)/python -m pytest

clean-var:
	rm -rf var
