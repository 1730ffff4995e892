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

    home = tmp_path_factory.mktemp("docs_home")
    cfg = load_config(home=home)
    bad = write([event(ts="not a time"), event(user="u000001", track="t999999")], home / "extra" / "events_extra.csv")
    ingest_paths([small_world_dir / "landing", bad], cfg=cfg)
    build_features(default_as_of(cfg), cfg)  # features and text embeddings too
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
