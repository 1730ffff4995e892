"""Shared fixtures: every test gets its own SKIPIFY_HOME (a real DuckLake in a temp folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skipify.config import Config, load_config
from skipify.generate import WorldParams, build_world, write_world

SMALL = WorldParams(users=150, tracks=200, days=14, seed=7)


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A configuration whose warehouse lives in this test's temp folder."""
    home = tmp_path / "home"
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
def small_rows(small_world_dir, tmp_path_factory):
    """features.training_rows of the small world (ingested and built once); treat as read-only."""
    from skipify.data import load_rows
    from skipify.features import build_features, default_as_of
    from skipify.ingest import ingest_paths

    cfg = load_config(home=tmp_path_factory.mktemp("rows_home"))
    ingest_paths([small_world_dir / "landing"], cfg=cfg)
    build_features(default_as_of(cfg), cfg, with_text=False)
    return load_rows(cfg)
