# Two commands matter: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
LANTAI := $(VENV)/bin/lantai
DEMO_HOME := var/demo
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo demo-data test test-fast lint typecheck bench-quick bundle clean

setup:
	scripts/bootstrap.sh --services

demo: setup demo-data
	LANTAI_HOME=$(DEMO_HOME) $(LANTAI) serve --host $(HOST) --port $(PORT)

demo-data:
	LANTAI_HOME=$(DEMO_HOME) $(LANTAI) init --archive-code 136101 --archive-name 示范市档案馆
	LANTAI_HOME=$(DEMO_HOME) $(LANTAI) demo load

test: setup
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench
	$(PY) -m mypy
	$(PY) -m pytest
	$(PY) bench/catalogue.py --quick > /dev/null
	$(PY) bench/search.py --quick > /dev/null
	$(PY) bench/screening.py --quick > /dev/null
	$(PY) bench/fixity.py --quick > /dev/null
	$(PY) bench/ingest.py --quick > /dev/null
	$(PY) bench/ocr.py --quick > /dev/null
	$(PY) bench/oai.py --quick > /dev/null
	$(PY) bench/dashboard.py --quick > /dev/null
	$(PY) bench/portal.py --quick > /dev/null
	$(PY) bench/federation.py --quick > /dev/null
	$(PY) bench/fuzz.py --quick > /dev/null
	$(PY) bench/faults.py --quick > /dev/null
	$(PY) bench/soak.py --quick > /dev/null

test-fast:
	$(PY) -m pytest -x -q -m "not browser and not postgres"

lint:
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format src tests bench

typecheck:
	$(PY) -m mypy

# Offline installation bundle for isolated networks: dist/bundle/ (see README, docs/operations.md)
bundle: setup
	scripts/bundle.sh dist/bundle

clean:
	rm -rf $(VENV) var/demo .pytest_cache .mypy_cache .ruff_cache
