"""A run goes in whole or not at all, and readers in other processes never block it or see half of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import skipify.ingest.load as load
from skipify.ingest import ingest_paths
from skipify.warehouse import connect, migrate
from tests.conftest import count

pytestmark = pytest.mark.slow  # second processes, killed ingests and maintenance (`make test-fast` leaves it out)


def _day_files(world_dir, n):
    return sorted((world_dir / "landing" / "events").glob("events_*.parquet"))[:n]


def test_failure_in_the_middle_of_a_run_leaves_nothing(cfg, small_world_dir, monkeypatch):
    files = _day_files(small_world_dir, 3)
    calls = {"n": 0}
    real = load._record

    def fail_on_second_file(con, sf, report):
        calls["n"] += 1
        if calls["n"] == 2:  # after the second file's rows were inserted, before its batch is recorded
            raise RuntimeError("disk on fire")
        real(con, sf, report)

    monkeypatch.setattr(load, "_record", fail_on_second_file)
    migrate(cfg)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths(files, cfg=cfg)
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 0 and count(con, "ops.batches") == 0 and count(con, "quarantine.rows") == 0
    con.close()
    # the data files written during the failed transaction were removed, not left behind
    assert not list((cfg.data_path / "raw").rglob("*.parquet"))

    monkeypatch.setattr(load, "_record", real)
    reports = ingest_paths(files, cfg=cfg)  # and the same run then succeeds in full
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == sum(r.rows_loaded for r in reports) == pl.read_parquet(files).height


READER = textwrap.dedent(
    """
    import json, sys, time
    from skipify.config import load_config
    from skipify.warehouse import connect

    ready, go, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    con = connect(load_config(), read_only=True)
    out = {"held": [], "polled": []}
    # 1. hold a read transaction open across the writer's commit: it must keep seeing one snapshot
    con.execute("BEGIN TRANSACTION")
    out["held"].append(con.execute("SELECT count(*) FROM raw.events").fetchone()[0])
    open(ready, "w").close()
    while not __import__("os").path.exists(go):
        out["held"].append(con.execute("SELECT count(*) FROM raw.events").fetchone()[0])
        time.sleep(0.05)
    con.execute("COMMIT")
    # 2. then poll with fresh transactions for a while: each sees a whole snapshot
    end = time.time() + seconds
    while time.time() < end:
        out["polled"].append(con.execute("SELECT count(*) FROM raw.events").fetchone()[0])
        time.sleep(0.02)
    print(json.dumps(out))
    """
)


def test_reader_in_another_process_never_blocks_the_writer_nor_sees_half_a_run(cfg, small_world_dir, tmp_path):
    first, *rest = _day_files(small_world_dir, 6)
    ingest_paths([first], cfg=cfg)
    before = pl.read_parquet(first).height
    after = before + pl.read_parquet(rest).height
    ready, go = tmp_path / "ready", tmp_path / "go"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(ready), str(go), "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60
    while not ready.exists():
        assert reader.poll() is None, reader.stderr.read()
        assert time.time() < deadline, "reader did not start"
        time.sleep(0.05)
    # the writer commits while the reader's transaction is open: it must not fail or wait for it
    reports = ingest_paths(rest, cfg=cfg)
    assert sum(r.rows_loaded for r in reports) == after - before
    go.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    seen = json.loads(out)
    assert set(seen["held"]) == {before}  # the open transaction kept its snapshot
    assert set(seen["polled"]) == {after}  # later reads see the whole run, never a part of it


KILLED_INGEST = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import skipify.ingest.load as load
    from skipify.ingest import ingest_paths

    def die(*args, **kwargs):  # the run's last step inside its transaction: every file written, nothing committed
        os.kill(os.getpid(), signal.SIGKILL)

    load._note_orphans = die
    ingest_paths([Path(p) for p in sys.argv[1:]])
    """
)


def test_files_of_an_ingest_killed_mid_run_are_deleted_by_maintenance(cfg, small_world_dir):
    """kill -9 of an ingest leaves the Parquet files it wrote, referenced by no snapshot: `skipify maintain`
    deletes them once older than maintain_orphan_age_hours (a live writer's files are young), nothing else."""
    ingest_paths([small_world_dir / "landing" / "users", small_world_dir / "landing" / "tracks"], cfg=cfg)
    kept = set(cfg.data_path.rglob("*.parquet"))
    days = [str(f) for f in _day_files(small_world_dir, 3)]
    killed = subprocess.run([sys.executable, "-c", KILLED_INGEST, *days], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = set(cfg.data_path.rglob("*.parquet")) - kept
    assert left, "the killed ingest wrote no file (nothing to test)"
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 0  # nothing committed
    con.close()

    skipify = [str(Path(sys.executable).parent / "skipify"), "maintain"]
    young = subprocess.run(skipify, capture_output=True, text=True)  # default: 24 h, so these are left
    assert young.returncode == 0 and "orphaned files 0" in young.stdout, young.stderr[-2000:]
    assert left <= set(cfg.data_path.rglob("*.parquet"))
    aged = subprocess.run(skipify, capture_output=True, text=True, env={**os.environ, "SKIPIFY_MAINTAIN_ORPHAN_AGE_HOURS": "0"})
    assert aged.returncode == 0 and f"orphaned files {len(left)}" in aged.stdout, aged.stdout + aged.stderr[-2000:]
    assert set(cfg.data_path.rglob("*.parquet")) == kept
    loaded = sum(r.rows_loaded for r in ingest_paths([Path(d) for d in days], cfg=cfg))  # the same files, again
    con = connect(cfg, read_only=True)
    assert count(con, "raw.users") == 150 and count(con, "raw.events") == loaded > 0
    con.close()


def test_maintenance_merges_small_files_and_expires_old_snapshots_keeping_every_row(cfg, small_world_dir):
    """Each ingest (each night) adds small files; `skipify maintain` compacts them and, past the retention,
    deletes the files only old snapshots used. `skipify status` shows the files per table."""
    from skipify.config import load_config
    from skipify.status import format_status, warehouse_status
    from skipify.warehouse import maintain

    for day in _day_files(small_world_dir, 4):  # four runs, four small files or more
        ingest_paths([day], cfg=cfg)
    before = warehouse_status(cfg)
    assert before["files"]["raw.events"]["files"] >= 4
    on_disk = lambda: len(list((cfg.data_path / "raw" / "events").rglob("*.parquet")))  # noqa: E731
    assert on_disk() == before["files"]["raw.events"]["files"]
    kept = maintain(cfg)  # default retention (7 days): merged, but the small files stay for older snapshots
    assert kept["merged_files"] >= 4 and kept["expired_snapshots"] == 0
    after = warehouse_status(cfg)
    assert after["files"]["raw.events"]["files"] < before["files"]["raw.events"]["files"] < on_disk()
    out = maintain(load_config(home=cfg.home, maintain_keep_snapshots_days=0))  # now past the retention
    assert out["expired_snapshots"] > 0 and out["old_files"] >= 4
    assert on_disk() == after["files"]["raw.events"]["files"]
    final = warehouse_status(cfg)
    assert final["tables"] == before["tables"]  # every row still there
    line = next(x for x in format_status(final).splitlines() if x.strip().startswith("raw.events "))
    assert line.split()[1:3] == [f"{final['tables']['raw.events']:,}", str(final["files"]["raw.events"]["files"])]
