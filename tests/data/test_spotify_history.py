"""Spotify Extended Streaming History: plays -> events, items of every domain (tracks, podcast episodes,
audiobook chapters, videos), user; incognito plays, local files and personal data stay out."""

from __future__ import annotations

import dataclasses
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
        "audiobook_title": None, "audiobook_uri": None, "audiobook_chapter_uri": None, "audiobook_chapter_title": None,
        "reason_start": "clickrow", "reason_end": "trackdone", "shuffle": False, "skipped": False,
        "offline": False, "offline_timestamp": 1704103000, "incognito_mode": False,
    }
    row.update(kw)
    return row


def not_music(**kw) -> dict:
    return play(uri=None, master_metadata_track_name=None, master_metadata_album_artist_name=None,
                master_metadata_album_album_name=None, **kw)


# a podcast episode abandoned after a minute and an audiobook chapter listened to for ten (as Spotify ships them)
OTHER_MEDIA = [
    not_music(ts="2024-01-01T18:01:00Z", ms=60_000, episode_name="Daily News, Monday", episode_show_name="The Daily",
              spotify_episode_uri="spotify:episode:5ZmtPHy0dW3MPpRxNDuMXL", reason_end="endplay"),
    not_music(ts="2024-01-01T19:00:00Z", ms=600_000, audiobook_title="Moby-Dick",
              audiobook_uri="spotify:audiobook:7iHfbu1YPACw6oZPAFJtqe",
              audiobook_chapter_uri="spotify:chapter:0IsXVP0JmcB2adSE338GkK", audiobook_chapter_title="Chapter 1: Loomings"),
]


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
        # an incognito play and a local file: counted, left out, with reasons
        play("2024-01-01T14:00:00Z", incognito_mode=True),
        play("2024-01-01T15:00:00Z", uri=None, master_metadata_track_name=None),
        # a bad timestamp: quarantined
        play("not a time"),
    ] + OTHER_MEDIA
    path = tmp_path / "Streaming_History_Audio_2024_0.json"
    path.write_text(json.dumps(plays, indent=1))
    return path


def test_plays_become_events_with_start_times_and_sessions(cfg, export):
    reports = {r.table_name: r for r in ingest_paths([export], cfg=cfg)}
    ev = reports["raw.events"]
    assert (ev.rows_read, ev.rows_loaded, ev.rows_excluded, ev.rows_quarantined) == (9, 6, 2, 1)
    con = connect(cfg, read_only=True)
    rows = con.execute(
        "SELECT user_id, track_id, ts, ms_played, skipped, session_id, session_position, platform "
        "FROM raw.events WHERE ts < '2024-01-01 13:00:00+00' ORDER BY ts"
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
    assert con.execute("SELECT track_id, title, artist, domain FROM raw.tracks WHERE domain = 'music' ORDER BY title").fetchall() == [
        ("4uLU6hMCjMI75M1A2tKUQC", "Never Gonna Give You Up", "Rick Astley", "music"),
        ("0000000000000000000001", "Second", "Rick Astley", "music"),
        ("0000000000000000000002", "Third", "Rick Astley", "music"),
    ]
    assert con.execute("SELECT user_id, country FROM raw.users").fetchall() == [("listener42", "SE")]


def test_episodes_and_chapters_load_as_items_of_their_domain(cfg, export):
    ingest_paths([export], cfg=cfg)
    con = connect(cfg, read_only=True)
    items = con.execute("SELECT track_id, domain, title, artist, show_name FROM raw.tracks WHERE domain <> 'music' "
                        "ORDER BY domain").fetchall()
    assert items == [
        ("spotify:chapter:0IsXVP0JmcB2adSE338GkK", "audiobook", "Chapter 1: Loomings", None, "Moby-Dick"),
        ("spotify:episode:5ZmtPHy0dW3MPpRxNDuMXL", "podcast", "Daily News, Monday", None, "The Daily"),
    ]
    plays = con.execute("SELECT track_id, ts, ms_played FROM raw.events WHERE track_id LIKE 'spotify:%' ORDER BY ts").fetchall()
    assert plays == [("spotify:episode:5ZmtPHy0dW3MPpRxNDuMXL", dt.datetime(2024, 1, 1, 18, 0, tzinfo=dt.UTC), 60_000),
                     ("spotify:chapter:0IsXVP0JmcB2adSE338GkK", dt.datetime(2024, 1, 1, 18, 50, tzinfo=dt.UTC), 600_000)]


def test_a_video_file_holds_videos(cfg, tmp_path):
    path = tmp_path / "Streaming_History_Video_2024.json"
    path.write_text(json.dumps([not_music(ts="2024-01-02T20:00:30Z", ms=30_000, episode_name="Behind the album",
                                          episode_show_name="Studio sessions", spotify_episode_uri="spotify:episode:1")]))
    reports = {r.table_name: r for r in ingest_paths([path], cfg=cfg)}
    assert reports["raw.events"].rows_loaded == 1
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT track_id, domain, title, show_name FROM raw.tracks").fetchall() == [
        ("spotify:episode:1", "video", "Behind the album", "Studio sessions")]


def test_the_label_reads_each_domains_threshold(cfg, export):
    """An episode abandoned after a minute is a dislike (podcasts: 2 minutes), a music play of a minute is not
    (30 s); the label's rule per domain is the configuration's, in the one place it is defined."""
    from skipify.features import load_macros
    ingest_paths([export], cfg=cfg)
    con = connect(cfg, read_only=True)
    load_macros(con)

    def labels(c) -> dict:
        return dict(con.execute("SELECT f.track_id, f.label FROM fx_events('-infinity'::timestamptz, 'infinity'::timestamptz, "
                                "$label_domains, $label_abandon_ms) AS f JOIN raw.events AS e USING (user_id, track_id, ts) "
                                "WHERE e.ms_played >= 60000", c.label_params()).fetchall())
    assert labels(cfg) == {"4uLU6hMCjMI75M1A2tKUQC": 0, "0000000000000000000002": 0,
                           "spotify:episode:5ZmtPHy0dW3MPpRxNDuMXL": 1, "spotify:chapter:0IsXVP0JmcB2adSE338GkK": 0}
    stricter = dataclasses.replace(cfg, label_skip_threshold_ms=200_000, label_domain_abandon_ms="podcast=30000,audiobook=700000")
    assert labels(stricter) == {"4uLU6hMCjMI75M1A2tKUQC": 1, "0000000000000000000002": 0,
                                "spotify:episode:5ZmtPHy0dW3MPpRxNDuMXL": 0, "spotify:chapter:0IsXVP0JmcB2adSE338GkK": 1}


def test_a_domain_not_configured_is_excluded_with_its_reason(cfg, export):
    ingest_paths([export], cfg=dataclasses.replace(cfg, label_domain_abandon_ms="podcast=120000"))
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT reason FROM quarantine.rows WHERE record_number = 9").fetchall() == [
        ("a audiobook play: domain not configured (Config.label_domain_abandon_ms)",)]
    assert count(con, "raw.events") == 5


def test_incognito_and_local_files_are_excluded_with_reasons(cfg, export):
    ingest_paths([export], cfg=cfg)
    con = connect(cfg, read_only=True)
    got = con.execute("SELECT record_number, kind, reason FROM quarantine.rows ORDER BY record_number").fetchall()
    assert got == [
        (5, "excluded", "incognito play: not tracked at the listener's request"),
        (6, "excluded", "no spotify_track_uri, spotify_episode_uri or audiobook uri (a local file or an unavailable item)"),
        (7, "invalid", "ts is not a timestamp: not a time"),
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
    assert count(con, "raw.events") == 7


def test_an_export_read_before_episodes_loaded_is_read_again(cfg, export, monkeypatch):
    """The reader's version is part of a Spotify batch's identity: an export ingested when only music loaded (here:
    the reader before, with music the only domain) is read again when given again; its tracks' plays are
    duplicates, its episode and chapter load."""
    from skipify.ingest import sources
    monkeypatch.setattr(sources, "READER_VERSIONS", {"spotify_history": 1})
    ingest_paths([export], cfg=dataclasses.replace(cfg, label_domain_abandon_ms=""))
    monkeypatch.undo()
    reports = {r.table_name: r for r in ingest_paths([export], cfg=cfg)}
    ev = reports["raw.events"]
    assert not ev.already_ingested and (ev.rows_loaded, ev.rows_duplicate) == (2, 4)
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 6
