# Skipify: the two commands are `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
SKIPIFY := $(VENV)/bin/skipify
STAMP := $(VENV)/.installed
# the S3-compatible server the remote warehouse tests start (moto), in an environment of its own
S3_VENV := .venv-s3
S3_STAMP := $(S3_VENV)/.installed
# Airflow inside the repo (ignored by git), on SQLite, reading dags/
AIRFLOW_HOME_DIR := $(CURDIR)/airflow_home
AIRFLOW := AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(AIRFLOW_HOME_DIR)/airflow.db $(VENV)/bin/airflow

.PHONY: install demo demo-scheduler test test-fast browser postgres bench app serve screenshots clean-warehouse

install: $(STAMP)

# with uv as pip is configured (tools/venv_install.py; pip when uv fails): about 1.5 min instead of 3.5.
# torch pinned (its CPU wheel is on this disk, an unpinned torch pulls a CUDA build) and, with pip, first.
$(STAMP): pyproject.toml constraints.txt tools/venv_install.py
	@test -x $(PY) || python3 -m venv $(VENV)
	python3 tools/venv_install.py $(VENV) --first torch==2.13.0 -q -c constraints.txt -e '.[test]'
	@touch $(STAMP)

## demo: generate the default planted-truth world, ingest it, then through Airflow (`airflow dags test`)
## retrain (features, LightGBM + deep, evaluation, gate); the nights of the world's last three whole days (the day
## before the default date holds only the sessions that ran past the world's last midnight), each backtested by the
## night after it, and, through Airflow, the night of the default date (candidates, scores, publish); print the
## status, three analyst queries with their answers and the guard's trade-off (docs/guard.md).
# the retrain's lines shown on the terminal while it runs (the whole log goes to airflow_home/retrain.log)
PROGRESS := INFO skipify: .*(features built|stage [a-z_]+: |epoch [0-9]+|history encoder|rounds \(best|texts in|deep: )
NIGHT_PROGRESS := INFO skipify: night [0-9-]+(:| published| shard [0-9]+: scored [0-9]+/[0-9]+ .*)
# $(call dag_test,DAG,LOG,PATTERN): `airflow dags test` of DAG for the default date, its whole output to
# airflow_home/LOG.log, the skipify lines matching PATTERN on the terminal as they come; on failure, the log's tail
dag_test = set -o pipefail; $(AIRFLOW) dags test $(1) "$$($(SKIPIFY) default-date)" 2>&1 | tee $(AIRFLOW_HOME_DIR)/$(2).log \
	| { grep --line-buffered -E "$(3)" | sed -u -E 's/^.*INFO skipify: /  /' || true; } || (tail -60 $(AIRFLOW_HOME_DIR)/$(2).log; exit 1)

demo: $(STAMP)
	$(SKIPIFY) migrate
	$(SKIPIFY) generate --out "$$($(SKIPIFY) config --get world_dir)"
	$(SKIPIFY) ingest "$$($(SKIPIFY) config --get world_dir)/landing"
	@mkdir -p $(AIRFLOW_HOME_DIR)
	$(AIRFLOW) db migrate > $(AIRFLOW_HOME_DIR)/migrate.log 2>&1 || (tail -40 $(AIRFLOW_HOME_DIR)/migrate.log; exit 1)
	@echo "airflow: skipify_retrain for $$($(SKIPIFY) default-date) (log: airflow_home/retrain.log; its stages and epochs below) ..."
	@$(call dag_test,skipify_retrain,retrain,$(PROGRESS))
	@grep -o "version [0-9a-f-]* .*promoted[^\"]*" $(AIRFLOW_HOME_DIR)/retrain.log | head -1
	@echo "three nights of whole days before it, each backtested by the night after it (skipify guard) ..."
	@set -o pipefail; D=$$($(SKIPIFY) default-date); $(SKIPIFY) backfill --start "$$(date -d "$$D - 4 days" +%F)" --end "$$(date -d "$$D - 2 days" +%F)" 2>&1 \
	| { grep --line-buffered -E "$(NIGHT_PROGRESS)|^night " | sed -u -E 's/^.*INFO skipify: /  /' || true; }
	@echo "airflow: skipify_nightly for $$($(SKIPIFY) default-date) (log: airflow_home/nightly.log; its steps below) ..."
	@$(call dag_test,skipify_nightly,nightly,$(NIGHT_PROGRESS))
	$(SKIPIFY) status
	$(SKIPIFY) night-report
	$(SKIPIFY) guard
	@echo ""
	@echo "Open the app: make app   (then http://localhost:8501)"

## test: the import contracts (lint-imports, pyproject.toml's [tool.importlinter]), then the whole suite on
## small generated data, each test in its own SKIPIFY_HOME; the app's
## browser test needs Debian's chromium and chromium-driver, installed here when missing.
$(S3_STAMP): constraints-s3.txt tools/venv_install.py
	@test -x $(S3_VENV)/bin/python || python3 -m venv $(S3_VENV)
	python3 tools/venv_install.py $(S3_VENV) -q -c constraints-s3.txt 'moto[server]'
	@touch $(S3_STAMP)

# two test processes, one per core (pytest-xdist; each test file runs whole in one of them, and each process
# one thread: tests/conftest.py); PYTEST_PROCS= runs them in this one process
PYTEST_PROCS ?= -n 2 --dist loadfile
test: $(STAMP) $(S3_STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) --no-print-directory browser
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || $(MAKE) --no-print-directory postgres
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q $(PYTEST_PROCS)

## test-fast: the inner loop, about a minute: every test that needs no server, no browser, no notebook
## and no training beyond the tiny shared fixtures (`pytest -m "not slow"`; tests/conftest.py says which
## are slow). `make test` runs them all and is what CI runs.
test-fast: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m "not slow" $(PYTEST_PROCS)

## demo-scheduler: the nightly DAG under a real scheduler (LocalExecutor, a PostgreSQL metadata database
## started in a temp folder, the API server and DAG processor), shard tasks as parallel processes, on a
## tiny world; the night must equal `skipify nightly`'s (about two minutes: outside `make test`).
demo-scheduler: $(STAMP)
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || $(MAKE) --no-print-directory postgres
	SKIPIFY_SCHEDULER_TEST=1 $(PY) -m pytest -q tests/airflow/test_scheduler.py

# PostgreSQL's server binaries for the remote warehouse tests (they start their own server in a temp folder)
postgres:
	$$(command -v sudo) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$(command -v sudo) apt-get install -y -qq postgresql > /dev/null

browser:
	$$(command -v sudo) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$(command -v sudo) apt-get install -y -qq chromium chromium-driver > /dev/null

## bench: ingest, feature and training benchmarks (ARGS="--events 1000000 10000000" for both sizes of the first two).
bench: $(STAMP)
	$(PY) bench/ingest.py $(ARGS)
	$(PY) bench/features.py $(ARGS)
	$(PY) bench/train.py

## app: the Streamlit app on http://localhost:8501 (SKIPIFY_APP_PORT moves it).
app: $(STAMP)
	$(SKIPIFY) app

## serve: the prediction API on http://127.0.0.1:8000 (docs at /docs; SKIPIFY_SERVE_PORT moves it).
serve: $(STAMP)
	$(SKIPIFY) serve

clean-warehouse:
	rm -rf warehouse/lake warehouse/world warehouse/models warehouse/.duckdb_extensions airflow_home

## screenshots: the README's pictures of the app (docs/img/) on the warehouse of the configuration: after `make demo`,
## the demo world's (tools/screenshots.py: `skipify app` in headless Chromium)
screenshots: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || $(MAKE) --no-print-directory browser
	$(PY) tools/screenshots.py
