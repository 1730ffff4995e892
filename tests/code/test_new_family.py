"""Adding a feature family is one SQL file: in a copy of the repository, two toy families (one per
key, one per row) show up in the training rows of a warehouse built before they existed (for all of
its history), in the scoring rows and in the API's rows, with nothing else changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from skipify.config import REPO_ROOT, load_config
from skipify.features import build_features
from skipify.ingest import ingest_paths
from tests.code.test_features import END

pytestmark = pytest.mark.slow  # a copy of the repository and a training (`make test-fast` leaves it out)

PER_KEY = """-- grain: user_id
-- A toy family: the listener's plays of the 3 days before the row's day.
-- feature toy_plays_3d | Listener plays, last 3 days | Plays by the listener in the 3 days before the row's day.
with keys as (select distinct user_id, day from fx_rows_out)
select k.user_id, k.day, coalesce(a.plays, 0) - coalesce(w.plays, 0) as toy_plays_3d
from keys as k
asof left join fx_state_user as a on a.user_id = k.user_id and k.day > a.day
asof left join fx_state_user as w on w.user_id = k.user_id and k.day - 3 > w.day
"""

PER_ROW = """-- grain: play_id
-- A toy family: the minute of the hour the row starts.
-- feature toy_minute | Minute of the hour | The minute of the hour the play starts.
select play_id, day, minute(ts) as toy_minute from fx_rows_out
"""

SCRIPT = """
import datetime as dt, json, sys
import numpy as np, polars as pl
import skipify
from skipify.catalogue import catalogue
from skipify.config import load_config
from skipify.features import build_features, scoring_rows
from skipify.serving import Snapshot, request_frame
from skipify.warehouse import connect


home, end = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
cfg = load_config(home=home)
report = build_features(end, cfg, with_text=False)
con = connect(cfg, read_only=True)
counts = con.execute('''
    select count(*), count(toy_plays_3d), count(toy_minute),
           count(*) filter (where toy_plays_3d <> (
               select count(*) from raw.events as e
               where e.user_id = t.user_id and floor(epoch(e.ts) / 86400) between t.day - 3 and t.day - 1)),
           count(*) filter (where toy_minute <> minute(ts)),
           (select count(*) from features.labels)
    from features.training_rows as t''').fetchone()
cutoff = dt.datetime.combine(end, dt.time(), dt.UTC)
pairs = con.execute("select distinct user_id, track_id from raw.events where ts >= $c - interval 2 day order by all limit 20",
                    {"c": cutoff}).pl()
pairs = pl.concat([pairs, pl.DataFrame({"user_id": ["nobody"], "track_id": ["t_none"]})])
probes = pairs.with_row_index("probe_id").with_columns((pl.lit(cutoff) + pl.duration(minutes=pl.int_range(21) * 7)).alias("ts"))
batch = scoring_rows(con, probes, cutoff, cfg)
con.close()
served, _ = Snapshot.load(end, cfg).rows(request_frame(probes.select("user_id", "track_id", "ts")))
print(json.dumps({
    "module": skipify.__file__, "full": report.full, "catalogued": [c for c in catalogue() if c.startswith("toy_")],
    "rows": counts[0], "with_key_toy": counts[1], "with_row_toy": counts[2], "wrong_key_toy": counts[3],
    "wrong_row_toy": counts[4], "labels": counts[5],
    "batch": batch.select("toy_plays_3d", "toy_minute").to_dicts(),
    "served": served.select("toy_plays_3d", "toy_minute").to_dicts(),
    "minutes": [(i * 7) % 60 for i in range(21)],
}))
"""


@pytest.fixture(scope="module")
def built_before(small_world_dir, tmp_path_factory):
    """A warehouse whose features were built before the toy families existed."""
    home = tmp_path_factory.mktemp("new_family_home")
    cfg = load_config(home=home)
    ingest_paths([small_world_dir / "landing"], cfg=cfg)
    build_features(END, cfg, with_text=False)
    return home


def test_a_family_is_one_sql_file_and_reaches_training_scoring_and_the_api(built_before, tmp_path):
    repo = tmp_path / "repo"
    for part in ("skipify", "sql"):
        shutil.copytree(REPO_ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "sql" / "features" / "families" / "70_toy_recent.sql").write_text(PER_KEY)
    (repo / "sql" / "features" / "families" / "80_toy_minute.sql").write_text(PER_ROW)
    env = {**os.environ, "PYTHONPATH": str(repo), "SKIPIFY_LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(built_before), END.isoformat()], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["module"].startswith(str(repo))  # the copy ran, not the installed package
    # only the new families were rebuilt, and for all of history: every play has both columns, right
    assert sorted(r["full"]) == ["toy_minute", "toy_recent"]
    assert r["catalogued"] == ["toy_plays_3d", "toy_minute"]
    assert r["rows"] == r["labels"] == r["with_key_toy"] == r["with_row_toy"] > 1000
    assert r["wrong_key_toy"] == 0 and r["wrong_row_toy"] == 0
    # the scoring rows and the API's rows have them, equal; an unknown listener has no recent plays
    assert r["batch"] == r["served"]
    assert [x["toy_minute"] for x in r["served"]] == r["minutes"]
    assert any(x["toy_plays_3d"] > 0 for x in r["served"]) and r["served"][-1]["toy_plays_3d"] == 0


BROKEN = """-- grain: user_id
-- A family that forgets some listeners.
-- feature toy_broken | Broken | A family that returns rows for some keys only.
select user_id, day, 1 as toy_broken from (select distinct user_id, day from fx_rows_out) where user_id < 'u000050'
"""

CHECK = """
import sys
from skipify.config import load_config
from skipify.features import build_features
from skipify.warehouse import connect
import datetime as dt
cfg = load_config(home=sys.argv[1])
try:
    build_features(dt.date.fromisoformat(sys.argv[2]), cfg, with_text=False)
    print("built")
except ValueError as exc:
    con = connect(cfg, read_only=True)
    tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'features'").fetchall()]
    print("refused:", exc, "| toy table:", "toy_broken" in tables)
"""


def test_a_family_that_drops_rows_is_refused_and_nothing_changes(built_before, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(built_before, home)
    repo = tmp_path / "repo"
    for part in ("skipify", "sql"):
        shutil.copytree(REPO_ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "sql" / "features" / "families" / "70_toy_broken.sql").write_text(BROKEN)
    env = {**os.environ, "PYTHONPATH": str(repo), "SKIPIFY_LOG_LEVEL": "WARNING"}
    out = subprocess.run([sys.executable, "-c", CHECK, str(home), END.isoformat()], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("refused:") and "features/families/70_toy_broken" in line and "have no row" in line
    assert line.endswith("toy table: False")  # the build rolled back whole
