"""Spotify Extended Streaming History: plays -> events, tracks, user; podcasts and personal data stay out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from skipify.ingest import ingest_paths
from skipify.warehouse import connect
from tests.conftest import count


def play(ts, uri="spotify:track:4uLU6hMCjMI75M1A2tKUQC", ms=180_000, **kw) -> dict:
    """One record in the export's exact shape (personal fields included, as Spotify ships them)."""
    row = {
        "ts": ts, "username": "listener42", "platform": "Android OS 12 API 31 (Google, Pixel 6)", "ms_played": ms,
        "conn_country": "SE", "ip_addr": "203.0.113.7", "user_agent_decrypted": "unknown",
        "master_metadata_track_name": "Never Gonna Give You Up", "master_metadata_album_artist_name": "Rick Astley",
        "master_metadata_album_album_name": "Whenever You Need Somebody", "spotify_track_uri": uri,
        "episode_name": None, "episode_show_name": None, "spotify_episode_uri": None,
        "reason_start": "clickrow", "reason_end": "trackdone", "shuffle": False, "skipped": False,
        "offline": False, "offline_timestamp": 1704103000, "incognito_mode": False,
    }
    row.update(kw)
    return row


@pytest.fixture
def export(tmp_path) -> Path:
    plays = [
        play("2024-01-01T10:03:00Z", ms=180_000),  # ended 10:03 -> started 10:00
        play("2024-01-01T10:03:20Z", uri="spotify:track:0000000000000000000001", ms=20_000, reason_end="fwdbtn",
             skipped=None, master_metadata_track_name="Second", reason_start="trackdone"),
        play("2024-01-01T10:07:20Z", uri="spotify:track:0000000000000000000002", ms=240_000, skipped=None,
             master_metadata_track_name="Third", reason_start="fwdbtn", reason_end="trackdone"),
        # two hours later: a new session, and an old-export null skip with an unclear end reason
        play("2024-01-01T12:10:00Z", uri="spotify:track:0000000000000000000002", ms=10_000, skipped=None,
             master_metadata_track_name="Third", reason_end="endplay"),
        # a podcast episode, an incognito play and a local file: counted, left out, with reasons
        play("2024-01-01T13:00:00Z", uri=None, master_metadata_track_name=None, episode_name="Daily News",
             episode_show_name="News", spotify_episode_uri="spotify:episode:xyz"),
        play("2024-01-01T14:00:00Z", incognito_mode=True),
        play("2024-01-01T15:00:00Z", uri=None, master_metadata_track_name=None),
        # a bad timestamp: quarantined
        play("not a time"),
    ]
    path = tmp_path / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(plays, indent=1))
    return path


def test_plays_become_events_with_start_times_and_sessions(cfg, export):
    reports = {r.table_name: r for r in ingest_paths([export], cfg=cfg)}
    ev = reports["raw.events"]
    assert (ev.rows_read, ev.rows_loaded, ev.rows_excluded, ev.rows_quarantined) == (8, 4, 3, 1)
    con = connect(cfg, read_only=True)
    rows = con.execute(
        "SELECT user_id, track_id, ts, ms_played, skipped, session_id, session_position, platform "
        "FROM raw.events ORDER BY ts"
    ).fetchall()
    utc = dt.UTC
    assert [r[2] for r in rows] == [
        dt.datetime(2024, 1, 1, 10, 0, tzinfo=utc), dt.datetime(2024, 1, 1, 10, 3, tzinfo=utc),
        dt.datetime(2024, 1, 1, 10, 3, 20, tzinfo=utc), dt.datetime(2024, 1, 1, 12, 9, 50, tzinfo=utc),
    ]
    assert {r[0] for r in rows} == {"listener42"} and rows[0][1] == "4uLU6hMCjMI75M1A2tKUQC"
    # skipped derived where the export has null: fwdbtn -> true, trackdone -> false, endplay after 10 s -> true
    assert [r[4] for r in rows] == [False, True, False, True]
    assert [r[6] for r in rows] == [1, 2, 3, 1] and rows[0][5] == rows[2][5] != rows[3][5]
    assert rows[0][7] == "android"


def test_tracks_and_user_come_from_the_plays(cfg, export):
    ingest_paths([export], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT track_id, title, artist FROM raw.tracks ORDER BY title").fetchall() == [
        ("4uLU6hMCjMI75M1A2tKUQC", "Never Gonna Give You Up", "Rick Astley"),
        ("0000000000000000000001", "Second", "Rick Astley"),
        ("0000000000000000000002", "Third", "Rick Astley"),
    ]
    assert con.execute("SELECT user_id, country FROM raw.users").fetchall() == [("listener42", "SE")]


def test_podcasts_incognito_and_local_files_are_excluded_with_reasons(cfg, export):
    ingest_paths([export], cfg=cfg)
    con = connect(cfg, read_only=True)
    got = con.execute("SELECT record_number, kind, reason FROM quarantine.rows ORDER BY record_number").fetchall()
    assert got == [
        (5, "excluded", "podcast episode, not a music track"),
        (6, "excluded", "incognito play: not tracked at the listener's request"),
        (7, "excluded", "no spotify_track_uri (local file or unavailable track)"),
        (8, "invalid", "ts is not a timestamp: not a time"),
    ]


def test_personal_fields_are_never_stored(cfg, export):
    ingest_paths([export], cfg=cfg)
    # look at every byte the warehouse wrote: catalog and data files
    blobs = b"".join(p.read_bytes() for p in cfg.lake_dir.rglob("*") if p.is_file())
    assert b"203.0.113.7" not in blobs and b"ip_addr" not in blobs and b"user_agent" not in blobs


def test_user_option_names_the_listener(cfg, export):
    ingest_paths([export], user="me", cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT DISTINCT user_id FROM raw.events").fetchall() == [("me",)]


def test_next_export_file_overlapping_the_last_adds_only_new_plays(cfg, export, tmp_path):
    ingest_paths([export], cfg=cfg)
    plays = json.loads(export.read_text())[:2] + [play("2024-01-02T09:00:00Z")]
    nxt = tmp_path / "Streaming_History_Audio_2024_1.json"
    nxt.write_text(json.dumps(plays))
    reports = {r.table_name: r for r in ingest_paths([nxt], cfg=cfg)}
    assert (reports["raw.events"].rows_loaded, reports["raw.events"].rows_duplicate) == (1, 2)
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 5
