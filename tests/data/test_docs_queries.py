"""Every SQL example in docs/warehouse.md runs against a small warehouse; batch counts add up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skipify.ingest import ingest_paths
from skipify.warehouse import connect

DOC = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def warehouse(copy_scored_home):
    """The session's scored warehouse (a version, its vectors, published nights), plus a batch with
    a bad row and an unknown track, so the quarantine examples have something to show."""
    from skipify.config import load_config
    from tests.data.files import event, write

    home = copy_scored_home("docs_home")
    cfg = load_config(home=home)
    bad = write([event(ts="not a time"), event(user="u000001", track="t999999")], home / "extra" / "events_extra.csv")
    ingest_paths([bad], cfg=cfg)
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
