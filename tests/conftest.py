"""Shared fixtures: every test gets its own SKIPIFY_HOME (a real DuckLake in a temp folder)."""

from __future__ import annotations

import os

# One thread per test process (DuckDB, and torch and numpy through OpenMP, read these before their first
# use): on tiny data a second thread costs more than it gives, and `make test` runs two test processes
# on the two cores (pytest-xdist). The fast set took 2:00 with two threads, 1:32 with one, 1:11 in two
# processes of one thread each (2026-12-04, this machine).
os.environ.setdefault("SKIPIFY_DUCKDB_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import datetime as dt
import shutil
from pathlib import Path

import pytest

from skipify.config import Config, load_config
from skipify.generate import WorldParams, build_world, write_world
from tests.scored import NIGHT, SCORED_DOMAINS, SCORED_SETTINGS, START, tiny_deep_config, tiny_lgbm_config

SMALL = WorldParams(users=150, tracks=200, days=14, seed=7)
SMALL_END = SMALL.start + dt.timedelta(days=SMALL.days + 1)  # a day past the last play: every play has its row
# `make test-fast` (``pytest -m "not slow"``) is the inner loop of about a minute; the tests it leaves out
# carry the ``slow`` marker: every test that reads the shared trained and scored warehouse (building it, a
# training and two nights, costs about a minute before the first of them runs: added below); the modules
# that start servers, a browser, a notebook kernel, Airflow, other processes or the sentence model
# (``pytestmark`` there); single tests that train beyond the tiny shared fixtures, run the CLI as processes
# or build a world's features several times (``@pytest.mark.slow``). `make test` runs everything.
SLOW_FIXTURES = frozenset({"scored_home", "copy_scored_home"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def copy_home(home: Path, target: Path) -> Path:
    """A copy of a warehouse home, less its scratch folder and its extension files (linked again from
    their packages on the first connection: one file whose signature a process checks once)."""
    shutil.copytree(home, target, ignore=shutil.ignore_patterns(".tmp", ".duckdb_extensions"))
    return target


@pytest.fixture(scope="session")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with every migration applied and nothing else, made once for the session; treat as read-only."""
    from skipify.warehouse import migrate

    home = tmp_path_factory.mktemp("migrated") / "home"
    migrate(load_config(home=home))
    return home


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Config:
    """A configuration whose warehouse lives in this test's temp folder: a copy of ``migrated_home`` (as
    after `skipify migrate`), or no warehouse at all for a test marked ``empty_home``."""
    home = tmp_path / "home"
    if request.node.get_closest_marker("empty_home") is None:
        copy_home(request.getfixturevalue("migrated_home"), home)
    monkeypatch.setenv("SKIPIFY_HOME", str(home))
    return load_config()


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world (about 5k events), written once for the session; treat as read-only."""
    out = tmp_path_factory.mktemp("world")
    write_world(build_world(SMALL), out)
    return out


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture(scope="session")
def small_built(small_world_dir, tmp_path_factory):
    """The small world ingested and its features built as of SMALL_END, once for the session: (cfg, build
    report). Tests may build it again as of SMALL_END (a rebuild of a built day changes nothing), nothing else."""
    from skipify.features import build_features
    from skipify.ingest import ingest_paths

    cfg = load_config(home=tmp_path_factory.mktemp("features_home"))
    ingest_paths([small_world_dir / "landing"], cfg=cfg)
    return cfg, build_features(SMALL_END, cfg, with_text=False)


@pytest.fixture(scope="session")
def small_rows(small_built):
    """features.training_rows of the small world, sequences included; treat as read-only."""
    from skipify.data import load_rows

    return load_rows(small_built[0], sequences=True)


# --- a trained, scored tiny warehouse, built once for the session --------------------------------
# The nightly, app and API tests all need a registered version and published nights; training and
# scoring once (rather than per module) keeps the suite inside its time budget. Read-only users take
# `scored_home`; tests that write (re-run nights, train again) take a copy from `copy_scored_home`.
# World and settings: tests/scored.py.


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory, worker_id) -> Path:
    """A warehouse (150 listeners, 150 tracks, 17 days) with one trained version and the nights
    NIGHT - 1 and NIGHT published. Shared: never write to it (copy it with ``copy_scored_home``).

    Built once per run: under pytest-xdist, the first worker that needs it builds it in the run's temp folder
    (the workers' common parent) while holding a lock, and the others wait for it and read the same one (a
    warehouse that any number of processes may read); building it cost every worker about a minute of its core."""
    if worker_id == "master":  # one process
        return build_scored_home(tmp_path_factory.mktemp("scored_home"))
    from filelock import FileLock

    home = tmp_path_factory.getbasetemp().parent / "scored_home"
    with FileLock(f"{home}.lock"):
        if not (home / ".built").exists():
            shutil.rmtree(home, ignore_errors=True)  # what a worker killed while building left
            build_scored_home(home)
            (home / ".built").touch()
    return home


def build_scored_home(home: Path) -> Path:
    """``scored_home``'s warehouse, built in ``home``."""
    from skipify.nightly import ingest_landing, run_night
    from skipify.train import train

    cfg = load_config(home=home, **SCORED_SETTINGS)
    write_world(build_world(WorldParams(users=150, tracks=150, days=17, seed=11, start=START, domains=SCORED_DOMAINS,
                                        other_plays_per_user=8)), cfg.world_dir)
    ingest_landing(NIGHT, cfg)
    train(NIGHT, cfg=cfg, device="cpu", configs={"lightgbm": tiny_lgbm_config(), "deep": tiny_deep_config()})
    run_night(NIGHT - dt.timedelta(days=1), cfg)
    run_night(NIGHT, cfg)
    return home


@pytest.fixture(scope="session")
def copy_scored_home(scored_home, tmp_path_factory):
    """A function that returns a private, writable copy of ``scored_home``."""

    def copy(name: str) -> Path:
        target = tmp_path_factory.mktemp(name) / "home"
        return copy_home(scored_home, target)  # a copied warehouse opens as it is (its data path is its own lake/data)

    return copy
