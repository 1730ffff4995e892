# Skipify: the two commands are `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
SKIPIFY := $(VENV)/bin/skipify
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean-warehouse

install: $(STAMP)

# torch first and pinned: the CPU wheel is on this disk, an unpinned torch pulls a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

## demo: generate the default planted-truth world, ingest it into the warehouse, print the status.
demo: $(STAMP)
	$(SKIPIFY) migrate
	$(SKIPIFY) generate --out "$$($(SKIPIFY) config --get world_dir)"
	$(SKIPIFY) ingest "$$($(SKIPIFY) config --get world_dir)/landing"
	$(SKIPIFY) features
	$(SKIPIFY) train
	$(SKIPIFY) status

## test: the whole suite on small generated data, each test in its own SKIPIFY_HOME.
test: $(STAMP)
	$(PY) -m pytest -q

## bench: ingest, feature and training benchmarks (ARGS="--events 1000000 10000000" for both sizes of the first two).
bench: $(STAMP)
	$(PY) bench/ingest.py $(ARGS)
	$(PY) bench/features.py $(ARGS)
	$(PY) bench/train.py

clean-warehouse:
	rm -rf warehouse/lake warehouse/world warehouse/.duckdb_extensions
