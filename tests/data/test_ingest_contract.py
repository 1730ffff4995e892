"""Contract files (Parquet, CSV, JSON lines) into raw.*: types, de-duplication, upserts, idempotency."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from skipify.ingest import ingest_paths
from skipify.warehouse import connect
from tests.conftest import count
from tests.data.files import event, track, user, write


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_each_file_type_loads_typed_rows(cfg, tmp_path, suffix):
    land = tmp_path / "landing"
    write([user("u1"), user("u2", product="free")], land / f"users{suffix}")
    write([track("t1"), track("t2", genres="rock")], land / f"tracks{suffix}")
    write([event("u1", "t1"), event("u2", "t2", ts="2026-01-05 11:00:00", feedback="dislike", ms_played=5000)], land / f"events_2026-01-05{suffix}")
    reports = ingest_paths([land], cfg=cfg)
    assert [r.table_name for r in reports] == ["raw.users", "raw.tracks", "raw.events"]
    assert all(r.rows_loaded == 2 and r.rows_quarantined == 0 for r in reports)
    con = connect(cfg, read_only=True)
    row = con.execute("SELECT ts, ms_played, skipped, shuffle, feedback FROM raw.events WHERE user_id = 'u2'").fetchone()
    assert row == (dt.datetime(2026, 1, 5, 11, tzinfo=dt.UTC), 5000, False, True, "dislike")
    assert con.execute("SELECT genres FROM raw.tracks ORDER BY track_id").fetchall() == [(["electronic", "pop"],), (["rock"],)]
    assert con.execute("SELECT product, signup_date FROM raw.users WHERE user_id = 'u2'").fetchone() == ("free", dt.date(2024, 2, 1))


@pytest.mark.slow  # ingests the whole small world
def test_generated_world_round_trips(cfg, small_world_dir):
    reports = ingest_paths([small_world_dir / "landing"], cfg=cfg)
    truth = pl.read_parquet(small_world_dir / "truth" / "truth.parquet")
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == truth.height
    assert sum(r.rows_quarantined for r in reports) == 0
    # same keys, same order of magnitude of every field: the warehouse holds what landed
    keys = con.execute("SELECT user_id, track_id, ts FROM raw.events ORDER BY ts, user_id, track_id").pl()
    expected = truth.select("user_id", "track_id", "ts").sort("ts", "user_id", "track_id")
    assert keys.equals(expected)
    assert "truth" not in {r.source_file.split("/")[-2] for r in reports}


def test_same_file_twice_adds_nothing_and_says_so(cfg, tmp_path):
    f = write([event("u1", "t1"), event("u1", "t2", ts="2026-01-05T10:04:00Z")], tmp_path / "events_a.parquet")
    first = ingest_paths([f], cfg=cfg)
    con = connect(cfg, read_only=True)
    snap = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0]
    con.close()
    second = ingest_paths([f], cfg=cfg)
    assert first[0].rows_loaded == 2
    assert second[0].already_ingested and "already ingested" in second[0].line()
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 2
    assert count(con, "ops.batches") == 1
    assert con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')").fetchone()[0] == snap


def test_overlapping_rows_are_deduplicated_on_key(cfg, tmp_path):
    a = write([event("u1", "t1"), event("u1", "t2", ts="2026-01-05T10:04:00Z")], tmp_path / "events_a.csv")
    # a second batch repeating one row (and repeating a row within itself)
    b = write(
        [event("u1", "t2", ts="2026-01-05T10:04:00Z"), event("u1", "t3", ts="2026-01-05T10:08:00Z"),
         event("u1", "t3", ts="2026-01-05T10:08:00Z", ms_played=1)],
        tmp_path / "events_b.csv",
    )
    ingest_paths([a], cfg=cfg)
    [rb] = ingest_paths([b], cfg=cfg)
    assert (rb.rows_read, rb.rows_loaded, rb.rows_duplicate) == (3, 1, 2)
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 3
    assert con.execute("SELECT ms_played FROM raw.events WHERE track_id = 't3'").fetchone()[0] == 200000  # first wins


def test_users_and_tracks_upsert_without_blanking_fields(cfg, tmp_path):
    ingest_paths([write([user("u1", country="SE")], tmp_path / "users_1.csv")], cfg=cfg)
    # later batch: changes product, leaves country empty
    [r] = ingest_paths([write([user("u1", country=None, product="free")], tmp_path / "users_2.csv")], cfg=cfg)
    [same] = ingest_paths([write([user("u1", country="SE", product="free")], tmp_path / "users_3.csv")], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT country, product FROM raw.users").fetchall() == [("SE", "free")]
    assert (r.rows_loaded, same.rows_loaded, same.rows_duplicate) == (1, 0, 1)


def test_candidates_of_unknown_tracks_are_quarantined_unknown_users_kept(cfg, tmp_path):
    ingest_paths([write([track("t1")], tmp_path / "tracks.csv")], cfg=cfg)
    rows = [{"run_date": "2026-01-06", "user_id": "new_user", "track_id": "t1"},
            {"run_date": "2026-01-06", "user_id": "u1", "track_id": "nope"}]
    [r] = ingest_paths([write(rows, tmp_path / "candidates_2026-01-06.csv")], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT user_id FROM raw.candidates").fetchall() == [("new_user",)]
    assert con.execute("SELECT reason FROM quarantine.rows").fetchone()[0] == "unknown track_id: nope"


def test_events_of_unknown_tracks_are_loaded_and_counted(cfg, tmp_path):
    from skipify.status import warehouse_status

    [r] = ingest_paths([write([event("u9", "t9")], tmp_path / "events_x.parquet")], cfg=cfg)
    assert r.rows_loaded == 1 and "1 events of unknown tracks, 1 of unknown users (loaded)" in r.line()
    s = warehouse_status(cfg)
    assert (s["events_unknown_track"], s["events_unknown_user"]) == (1, 1)
    ingest_paths([write([track("t9")], tmp_path / "tracks_late.csv")], cfg=cfg)
    assert warehouse_status(cfg)["events_unknown_track"] == 0


def test_unknown_columns_are_reported_not_stored(cfg, tmp_path):
    [r] = ingest_paths([write([event(mood="happy")], tmp_path / "events_x.jsonl")], cfg=cfg)
    assert r.ignored_columns == ["mood"]
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT ignored_columns FROM ops.batches").fetchone()[0] == ["mood"]
