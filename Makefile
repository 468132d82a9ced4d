# Two commands matter: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
LANTAI := $(VENV)/bin/lantai
DEMO_HOME := var/demo
HOST ?= 127.0.0.1
PORT ?= 8000
SMOKE_OUT := var/smoke
# A benchmark's smoke run (--quick): its JSON is kept in $(SMOKE_OUT) and printed when it fails.
smoke = $(PY) bench/$(1).py --quick > $(SMOKE_OUT)/$(1).json || { cat $(SMOKE_OUT)/$(1).json; exit 1; }

.PHONY: setup demo demo-data test test-fast lint typecheck bundle clean

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
	@mkdir -p $(SMOKE_OUT)
	$(call smoke,catalogue)
	$(call smoke,search)
	$(call smoke,screening)
	$(call smoke,fixity)
	$(call smoke,ingest)
	$(call smoke,ocr)
	$(call smoke,oai)
	$(call smoke,dashboard)
	$(call smoke,portal)
	$(call smoke,federation)
	$(call smoke,fuzz)
	$(call smoke,faults)
	$(call smoke,soak)

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
