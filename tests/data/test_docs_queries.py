"""Every SQL example in docs/warehouse.md runs against a small warehouse; batch counts add up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skipify.features import build_features, default_as_of
from skipify.ingest import ingest_paths
from skipify.warehouse import connect

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def warehouse(small_world_dir, tmp_path_factory):
    from skipify.config import load_config

    from tests.data.files import event, write

    from skipify.models.deep import DeepConfig
    from skipify.models.lgbm import LGBMConfig
    from skipify.models.two_tower import TwoTowerConfig
    from skipify.nightly import run_night
    from skipify.train import train

    home = tmp_path_factory.mktemp("docs_home")
    cfg = load_config(home=home, split_test_days=3, split_valid_days=3)
    bad = write([event(ts="not a time"), event(user="u000001", track="t999999")], home / "extra" / "events_extra.csv")
    ingest_paths([small_world_dir / "landing", bad], cfg=cfg)
    build_features(default_as_of(cfg), cfg)  # features and text embeddings too
    train(cfg=cfg, device="cpu", deep_config=DeepConfig(epochs=1, tower=TwoTowerConfig(dim=4, hidden=8)),
          lgbm_config=LGBMConfig(num_leaves=7, max_rounds=20))  # a registered version and its vectors
    run_night(default_as_of(cfg), cfg)  # a published night for the score queries
    con = connect(cfg, read_only=True)
    yield con
    con.close()


def test_the_doc_has_examples():
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("query", QUERIES, ids=[q.strip().splitlines()[0][:40] for q in QUERIES])
def test_doc_query_runs(warehouse, query):
    rows = warehouse.execute(query).fetchall()
    assert rows, "every example should return something on a generated world"


def test_batch_row_outcomes_add_up(warehouse):
    bad = warehouse.execute(
        "SELECT count(*) FROM ops.batches "
        "WHERE rows_read <> rows_loaded + rows_duplicate + rows_quarantined + rows_excluded"
    ).fetchone()[0]
    assert bad == 0


def test_the_analyst_files_are_the_queries_of_this_page():
    for path in sorted((DOC.parents[1] / "sql" / "analyst").glob("*.sql")):
        assert path.read_text().strip() in DOC.read_text(), f"{path.name} differs from docs/warehouse.md"
