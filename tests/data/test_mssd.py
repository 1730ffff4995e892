"""MSSD (Spotify Music Streaming Sessions Dataset): session logs and track features, fixtures in its exact schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from skipify.ingest import ingest_paths
from skipify.warehouse import connect

LOG_HEADER = (
    "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3,not_skipped,context_switch,"
    "no_pause_before_play,short_pause_before_play,long_pause_before_play,hist_user_behavior_n_seekfwd,"
    "hist_user_behavior_n_seekback,hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"
    "hist_user_behavior_reason_start,hist_user_behavior_reason_end"
)
LOG_ROWS = [
    "0_00006f66-33e5-4de7-a324-2d18e439fc1e,1,3,t_0479f24c-27d2-41d6-a0b4-c1cc1a4a6f34,false,false,false,true,0,0,0,0,0,0,true,16,2018-07-15,true,editorial_playlist,trackdone,trackdone",
    "0_00006f66-33e5-4de7-a324-2d18e439fc1e,2,3,t_9099cd7b-c238-47b7-9381-f23f2c1d1043,true,true,true,false,0,1,0,0,2,0,true,16,2018-07-15,true,editorial_playlist,trackdone,fwdbtn",
    "0_00006f66-33e5-4de7-a324-2d18e439fc1e,3,3,t_0479f24c-27d2-41d6-a0b4-c1cc1a4a6f34,false,false,true,false,0,1,0,0,0,0,true,16,2018-07-15,true,editorial_playlist,fwdbtn,endplay",
    "0_0000f7d3-1f2a-4e0b-9c9e-2d7d8b6a1b11,1,1,t_9099cd7b-c238-47b7-9381-f23f2c1d1043,false,true,true,false,1,0,0,1,0,0,false,23,2018-07-16,false,user_collection,clickrow,fwdbtn",
    "0_0000f7d3-1f2a-4e0b-9c9e-2d7d8b6a1b11,2,1,t_9099cd7b-c238-47b7-9381-f23f2c1d1043,false,true,true,false,1,0,0,1,0,0,false,25,2018-07-16,false,user_collection,clickrow,fwdbtn",
]
TF_HEADER = (
    "track_id,duration,release_year,us_popularity_estimate,acousticness,beat_strength,bounciness,danceability,"
    "dyn_range_mean,energy,flatness,instrumentalness,key,liveness,loudness,mechanism,mode,organism,speechiness,"
    "tempo,time_signature,valence," + ",".join(f"acoustic_vector_{i}" for i in range(8))
)
TF_ROWS = [
    "t_0479f24c-27d2-41d6-a0b4-c1cc1a4a6f34,180.066666,2018,99.975,0.458,0.519,0.504,0.5,7.51,0.817,1.035,0.0,0,0.147,-4.621,0.414,major,0.128,0.034,119.1,4,0.632,"
    "-0.815,0.165,0.141,0.242,0.232,-0.208,-0.245,0.005",
    "t_9099cd7b-c238-47b7-9381-f23f2c1d1043,236.796371,2018,99.969,0.916,0.419,0.545,0.475,9.9,0.314,0.948,0.0,7,0.102,-9.815,0.33,minor,0.77,0.038,76.0,4,0.297,"
    "-0.408,0.111,0.05,-0.152,0.083,-0.165,0.078,-0.031",
]


@pytest.fixture
def mssd(tmp_path) -> Path:
    d = tmp_path / "mssd"
    d.mkdir()
    (d / "log_0_20180715_000000000000.csv").write_text("\n".join([LOG_HEADER, *LOG_ROWS]) + "\n")
    (d / "tf_000000000000.csv").write_text("\n".join([TF_HEADER, *TF_ROWS]) + "\n")
    return d


def test_logs_map_onto_events_with_skip_2_as_the_label(cfg, mssd):
    reports = {r.table_name: r for r in ingest_paths([mssd], cfg=cfg)}
    assert reports["raw.tracks"].rows_loaded == 2
    assert (reports["raw.events"].rows_loaded, reports["raw.events"].rows_quarantined) == (4, 1)  # hour 25
    con = connect(cfg, read_only=True)
    rows = con.execute(
        "SELECT user_id, track_id, ts, ms_played, skipped, reason_start, reason_end, session_position, shuffle, context_type "
        "FROM raw.events ORDER BY ts"
    ).fetchall()
    assert rows[0][:5] == (
        "mssd:0_00006f66-33e5-4de7-a324-2d18e439fc1e", "t_0479f24c-27d2-41d6-a0b4-c1cc1a4a6f34",
        dt.datetime(2018, 7, 15, 16, tzinfo=dt.UTC), None, False,
    )
    assert [r[4] for r in rows] == [False, True, False, True]  # skip_2
    assert rows[1][2] == dt.datetime(2018, 7, 15, 16, 0, 1, tzinfo=dt.UTC)  # position 2 -> +1 s keeps the order
    assert con.execute("SELECT reason FROM quarantine.rows").fetchone()[0] == (
        "ts is not a timestamp: date=2018-07-16 hour_of_day=25"
    )
    assert con.execute("SELECT user_id, product FROM raw.users ORDER BY user_id").fetchall() == [
        ("mssd:0_00006f66-33e5-4de7-a324-2d18e439fc1e", "premium"), ("mssd:0_0000f7d3-1f2a-4e0b-9c9e-2d7d8b6a1b11", "free")
    ]


def test_original_columns_are_kept_and_leaky_ones_marked(cfg, mssd):
    ingest_paths([mssd], cfg=cfg)
    con = connect(cfg, read_only=True)
    row = con.execute(
        "SELECT skip_1, skip_2, skip_3, not_skipped, hist_user_behavior_n_seekfwd, hist_user_behavior_reason_end "
        "FROM raw.mssd_session_logs WHERE session_position = 2 AND session_id LIKE '0_00006f66%'"
    ).fetchone()
    assert row == (True, True, True, False, 2, "fwdbtn")
    outcome = {r[0] for r in con.execute(
        "SELECT column_name FROM ops.column_policy WHERE table_name = 'raw.mssd_session_logs' AND role = 'outcome'"
    ).fetchall()}
    assert {"skip_1", "skip_2", "skip_3", "not_skipped", "hist_user_behavior_reason_end"} <= outcome
    # the event's own reason_end (which reveals skip_2) is stored, but not in the view features read
    assert "reason_end" not in {r[0] for r in con.execute("DESCRIBE raw.events_context").fetchall()}
    assert con.execute("SELECT count(*) FROM raw.events WHERE reason_end = 'fwdbtn' AND NOT skipped").fetchone()[0] == 0


def test_track_features_map_onto_tracks(cfg, mssd):
    ingest_paths([mssd], cfg=cfg)
    con = connect(cfg, read_only=True)
    t = con.execute(
        "SELECT duration_ms, release_year, mode, key, energy FROM raw.tracks WHERE track_id LIKE 't_0479%'"
    ).fetchone()
    assert t == (180067, 2018, 1, 0, 0.817)
    vec = con.execute("SELECT acoustic_vector FROM raw.mssd_track_features WHERE track_id LIKE 't_9099%'").fetchone()[0]
    assert len(vec) == 8 and vec[0] == pytest.approx(-0.408)


def test_mssd_log_missing_label_column_is_an_error(cfg, tmp_path):
    from skipify.ingest import IngestError

    bad = tmp_path / "log_1.csv"
    bad.write_text(LOG_HEADER.replace(",skip_2", "") + "\n" + LOG_ROWS[0].replace(",false,false,false,true", ",false,false,true", 1) + "\n")
    with pytest.raises(IngestError, match="log_1.csv: missing required column\\(s\\) skip_2"):
        ingest_paths([bad], cfg=cfg)


def test_day_month_year_dates_are_read_per_file_and_a_stray_date_is_named(cfg, tmp_path):
    """A public copy of MSSD writes 15-07-18 for 15 July 2018; read as ISO it was the year 15."""
    d = tmp_path / "dmy"
    d.mkdir()
    rows = [r.replace("2018-07-15", "15-07-18").replace("2018-07-16", "16-07-18") for r in LOG_ROWS]
    rows[3] = rows[3].replace("16-07-18", "2018-07-16")  # one row in another form than the file's
    (d / "log_1_20180715_000000000000.csv").write_text("\n".join([LOG_HEADER, *rows]) + "\n")
    [events, *_] = ingest_paths([d], cfg=cfg)
    assert (events.rows_loaded, events.rows_quarantined) == (3, 2)  # the stray date, and hour 25 as before
    con = connect(cfg, read_only=True)
    days = {r[0] for r in con.execute("SELECT DISTINCT CAST(ts AS DATE) FROM raw.events").fetchall()}
    assert days == {dt.date(2018, 7, 15)}
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine.rows ORDER BY record_number").fetchall()]
    assert "date=2018-07-16 (expected DD-MM-YY, the form of this file's dates)" in reasons[0]
    logs = con.execute("SELECT DISTINCT date FROM raw.mssd_session_logs").fetchall()
    assert logs == [(dt.date(2018, 7, 15),)]
