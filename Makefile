# bando — the two commands: `make demo` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test test-fast check setup system-deps venv clean bench-etl bench-api bench-load bench-soak bench-replicas bench-maps bench-cad bench-search bench-ingest

demo: setup  ## set up, start the embedded database, load every sample delivery, serve
	$(BIN)/bando db up
	$(BIN)/bando db status
	$(BIN)/bando load-all data_samples/manifest.yml
	$(BIN)/bando serve --host $(HOST) --port $(PORT)

test: setup check  ## set up, check, and run the whole test suite against real PostGIS, servers, browser and QGIS
	$(BIN)/pytest

test-fast: setup  ## the edit-test loop: tests that need no server, browser or QGIS (about a minute)
	$(BIN)/pytest -m "not slow"

check: venv  ## lint, formatting and types (ruff, mypy): make test runs it first
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck

setup: system-deps venv
	@web/vendor.sh
	@$(BIN)/python -m bando.layers.styles.glyphs

system-deps:
	@scripts/install-system-deps --test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@py=$$(scripts/find-python) && echo "using $$py" && \
	  { [ -x $(BIN)/python ] && $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' || $$py -m venv --clear $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

bench-etl: setup  ## ETL: bando load vs ogr2ogr vs to_postgis on one million parcels
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.etl

bench-api: setup  ## API: bando vs tipg vs pygeoapi's stock providers on one million parcels
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "bench-api needs wrk (Debian: apt-get install -y wrk)"; exit 7; }
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.api

bench-search: setup  ## search: names and parcels by former commune on one million parcels, beside the planning report
	$(BIN)/python -m benchmarks.search

bench-load: setup  ## load: 64 clients for 60 s on items, tiles and reports over one million parcels
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.load

bench-soak: setup  ## soak: 64 clients for SOAK_MINUTES (30) minutes; server RSS at each third (by hand, not CI)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "bench-soak needs wrk (Debian: apt-get install -y wrk)"; exit 7; }
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.load --soak $${SOAK_MINUTES:-30}

bench-replicas: setup  ## reads: items and tiles on the primary only vs primary + a streaming replica
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "bench-replicas needs wrk (Debian: apt-get install -y wrk)"; exit 7; }
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.replicas
bench-maps: setup  ## maps: WMS GetMap (QGIS Server) vs vector tiles on the same z16 extents
	$(BIN)/python -m benchmarks.maps

bench-ingest: setup  ## ingestion: sensor readings/s through the internal API, validated and audited, and loss
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks.ingest

bench-cad: setup  ## CAD: polygons built from a 100 000-parcel drawing's linework (seconds, peak RSS)
	$(BIN)/python -m benchmarks.cad

clean:  ## stop the embedded database and remove the virtual environment
	-[ -x $(BIN)/bando ] && $(BIN)/bando db down
	rm -rf $(VENV)
