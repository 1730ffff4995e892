"""`skipify forget`: a listener removed from every file under the warehouse's folder, everyone else unchanged, the
night and the API working after it, the erasure recorded without the id in clear."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from skipify.config import load_config
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS

BIN = Path(sys.executable).parent
GONE = "u000042"


def _user_tables(cfg) -> list[str]:
    con = connect(cfg, read_only=True)
    try:
        return [f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.columns WHERE table_catalog = 'lake' "
            "AND column_name = 'user_id' AND table_schema <> 'information_schema' ORDER BY ALL").fetchall()
            if (s, t) in {(a, b) for a, b in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                                            "WHERE database_name = 'lake'").fetchall()}]
    finally:
        con.close()


def _others(cfg, tables: list[str]) -> dict[str, tuple]:
    """Every listener's rows but the forgotten one's: count and content hash per table."""
    con = connect(cfg, read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), sum(hash(x)) FROM {t} AS x WHERE user_id <> $u", {"u": GONE}).fetchone()
                for t in tables}
    finally:
        con.close()


def _holding(home: Path, text: str) -> list[str]:
    """Files under ``home`` holding ``text``: as bytes anywhere, or as a value of a Parquet file's text column (the
    lake's files are compressed: their bytes alone do not show it)."""
    out = [str(p) for p in home.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]
    con = duckdb.connect()
    for p in home.rglob("*.parquet"):  # each row as text: every column, nested ones included
        if con.execute("SELECT count(*) FROM read_parquet($p) AS x WHERE contains(CAST(x AS VARCHAR), $t)",
                       {"p": str(p), "t": text}).fetchone()[0]:
            out.append(str(p))
    return out


def test_a_forgotten_listener_leaves_no_byte_under_the_home_and_everyone_else_is_unchanged(copy_scored_home):
    home = copy_scored_home("forget_home")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    log = cfg.events_folder / "events_2026-01-16T09.jsonl"  # the event log holds them too, beside another listener
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"user_id": GONE, "track_id": "t000001", "ts": "2026-01-16T09:00:00Z"}) + "\n"
                   + json.dumps({"user_id": "u000007", "track_id": "t000002", "ts": "2026-01-16T09:01:00Z"}) + "\n")
    quarantined = cfg.landing / "events" / "events_2026-01-16_bad.csv"  # and quarantine, with their id in the record
    quarantined.write_text(f"user_id,track_id,ts\n{GONE},t000003,not a time\n")
    from skipify.ingest import ingest_paths

    ingest_paths([log, quarantined], cfg=cfg)
    tables = _user_tables(cfg)
    assert {"raw.events", "features.labels", "scores.dislike_scores", "embeddings.user_vectors"} <= set(tables)
    before = _others(cfg, tables)
    assert _holding(home, GONE)  # the check can see them

    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    proc = subprocess.run([str(BIN / "skipify"), "forget", "--user", GONE, "--by", "privacy-desk"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "raw.events" in proc.stdout and "quarantine.rows" in proc.stdout

    assert _holding(home, GONE) == []  # no file under the warehouse's folder holds a byte of their id
    assert _others(cfg, tables) == before  # every other listener's rows as they were
    assert [json.loads(x)["user_id"] for x in log.read_text().splitlines()] == ["u000007"]
    con = connect(cfg, read_only=True)
    [(by, users, hashes, removed)] = con.execute("SELECT erased_by, users, user_hashes, rows_removed FROM ops.erasures").fetchall()
    con.close()
    assert (by, users, hashes) == ("privacy-desk", 1, [hashlib.sha256(GONE.encode()).hexdigest()]) and removed > 0

    # the night and the API work after it
    from skipify.api import Service
    from skipify.nightly import run_night

    report = run_night(NIGHT + dt.timedelta(days=1), load_config(home=home, **SCORED_SETTINGS, row_count_min_ratio=0.0))
    assert report.rows["dislike_scores"] > 0
    service = Service(load_config(home=home, **SCORED_SETTINGS))
    answer = service.predict([{"user_id": "u000007", "track_id": "t000002"}])
    assert 0 < answer["predictions"][0]["p_dislike"] < 1
    service.stop()
    assert _holding(home, GONE) == []  # and nothing brought them back


def test_an_append_waiting_while_a_log_file_is_swapped_lands_in_the_new_file(tmp_path):
    """forget rewrites an event-log file whole under its append lock; an append that waited for the lock meanwhile
    must reopen the file, not write into the old one that no one reads any more."""
    import threading

    from skipify.events import EventLog
    from skipify.forget import _locked, _swap

    log = EventLog(tmp_path)
    hour = dt.datetime(2026, 1, 16, 9, tzinfo=dt.UTC)
    first = log.append([{"user_id": GONE, "track_id": "t1", "ts": hour.isoformat()}], [hour])
    done = threading.Event()
    with _locked(first.path) as data:
        waiting = threading.Thread(target=lambda: (log.append([{"user_id": "u7", "track_id": "t2", "ts": hour.isoformat()}],
                                                              [hour]), done.set()))
        waiting.start()
        assert not done.wait(0.5)  # blocked on the lock
        _swap(first.path, b"".join(x for x in data.splitlines(keepends=True) if GONE.encode() not in x))
    waiting.join(10)
    assert [json.loads(x)["user_id"] for x in first.path.read_text().splitlines()] == ["u7"]
