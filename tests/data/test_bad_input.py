"""Bad input: a bad file is a clear error and writes nothing; a bad row is quarantined with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skipify.ingest import IngestError, ingest_paths
from skipify.warehouse import connect, migrate
from tests.conftest import count
from tests.data.files import event, track, write


def _garbage(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# (name, how to make the file, expected message)
FILE_ERRORS = [
    ("missing required column", lambda d: write([{"user_id": "u1", "ts": "2026-01-05"}], d / "events_x.csv"),
     r"events_x.csv: missing required column\(s\) track_id"),
    ("empty file", lambda d: _garbage(d / "events_x.csv", b""), r"events_x.csv: file is empty"),
    ("header only", lambda d: _garbage(d / "events_x.csv", b"user_id,track_id,ts\n"), r"events_x.csv: file has no records"),
    ("corrupt parquet", lambda d: _garbage(d / "events_x.parquet", b"PAR1 this is not parquet"), r"events_x.parquet: cannot read as parquet"),
    ("truncated parquet", lambda d: _truncate(write([event()], d / "events_x.parquet")), r"events_x.parquet: cannot read as parquet"),
    ("json array cut short", lambda d: _garbage(d / "events_x.json", b'[{"user_id": "u1", "track_id"'), r"events_x.json: cannot read as json"),
    ("unknown file", lambda d: write([event()], d / "listens.csv"), r"listens.csv: cannot tell what this file holds"),
    ("no such path", lambda d: d / "nothing_here", r"nothing_here: no such file or folder"),
    ("spotify history without user", lambda d: _garbage(d / "Streaming_History_Audio_2024.json", json.dumps(
        [{"ts": "2024-01-01T10:00:00Z", "ms_played": 1000, "spotify_track_uri": "spotify:track:abc"}]).encode()),
     r"no username in the export; pass --user"),
]


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("name,make,message", FILE_ERRORS, ids=[f[0] for f in FILE_ERRORS])
def test_bad_file_is_a_clear_error_and_nothing_is_written(cfg, tmp_path, name, make, message):
    good = write([track("t1")], tmp_path / "land" / "tracks.csv")  # a good file in the same run
    bad = make(tmp_path / "land")
    migrate(cfg)
    with pytest.raises(IngestError, match=message):
        ingest_paths([good, bad], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert count(con, "raw.tracks") == 0 and count(con, "raw.events") == 0
    assert count(con, "ops.batches") == 0 and count(con, "quarantine.rows") == 0


def test_cli_exits_non_zero_naming_the_file(cfg, tmp_path):
    bad = write([{"user_id": "u1", "ts": "2026-01-05"}], tmp_path / "events_x.csv")
    proc = subprocess.run([sys.executable, "-m", "skipify.cli", "ingest", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "events_x.csv: missing required column(s) track_id" in proc.stderr


# (field overrides for one event row, expected reason)
ROW_ERRORS = [
    ({"user_id": ""}, "missing user_id"),
    ({"track_id": None}, "missing track_id"),
    ({"ts": None}, "missing ts"),
    ({"ts": "yesterday"}, "ts is not a timestamp: yesterday"),
    ({"ts": "1970-01-01T00:00:00Z"}, "ts before 2000-01-01"),
    ({"ts": "2999-01-01T00:00:00Z"}, "ts in the future: 2999-01-01T00:00:00Z"),
    ({"ms_played": "lots"}, "ms_played is not an integer: lots"),
    ({"ms_played": -5}, "ms_played is negative"),
    ({"skipped": "maybe"}, "skipped is not a boolean: maybe"),
    ({"feedback": "meh"}, "feedback must be like, dislike or empty: meh"),
    ({"session_position": 0}, "session_position must be >= 1"),
    ({"session_position": "first"}, "session_position is not an integer: first"),
    ({"shuffle": "sometimes"}, "shuffle is not a boolean: sometimes"),
]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_bad_rows_are_quarantined_with_reason_file_and_record(cfg, tmp_path, suffix):
    rows = [event("ok", "t0", ts="2026-01-05T09:00:00Z")]
    for i, (override, _) in enumerate(ROW_ERRORS):
        rows.append(event("u1", f"t{i + 1}", **{"ts": f"2026-01-05T10:{i:02d}:00Z", **override}))
    f = write(rows, tmp_path / f"events_bad{suffix}")
    [r] = ingest_paths([f], cfg=cfg)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (len(rows), 1, len(ROW_ERRORS))
    con = connect(cfg, read_only=True)
    got = con.execute("SELECT record_number, reason, source_file, kind, record FROM quarantine.rows ORDER BY record_number").fetchall()
    for (record_number, reason, source_file, kind, record), (i, (_, expected)) in zip(got, enumerate(ROW_ERRORS)):
        assert record_number == i + 2  # the good row is record 1
        assert reason == expected
        assert source_file == str(f) and kind == "invalid"
        assert json.loads(record)["track_id"] in (f"t{i + 1}", None)


def test_several_problems_in_one_row_are_all_named(cfg, tmp_path):
    f = write([event(user="", ts="soon", ms_played=-1)], tmp_path / "events_x.csv")
    ingest_paths([f], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT reason FROM quarantine.rows").fetchone()[0] == (
        "missing user_id; ts is not a timestamp: soon; ms_played is negative"
    )


def test_broken_json_line_is_quarantined_with_its_line_number(cfg, tmp_path):
    f = tmp_path / "events_x.jsonl"
    f.write_text(json.dumps(event()) + "\n" + '{"user_id": "u1", "track_id": \n' + "[1, 2]\n" + json.dumps(event(track="t2")) + "\n")
    [r] = ingest_paths([f], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (2, 2)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT record_number, reason FROM quarantine.rows ORDER BY 1").fetchall() == [
        (2, "invalid JSON"), (3, "not a JSON object")
    ]


def test_malformed_csv_line_is_quarantined(cfg, tmp_path):
    f = tmp_path / "events_x.csv"
    f.write_text("user_id,track_id,ts\nu1,t1,2026-01-05T10:00:00Z\nu1,t2,2026-01-05T10:01:00Z,extra,fields\nu1,t3,2026-01-05T10:02:00Z\n")
    [r] = ingest_paths([f], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (2, 1)
    con = connect(cfg, read_only=True)
    reason, record = con.execute("SELECT reason, record FROM quarantine.rows").fetchone()
    assert reason.startswith("malformed CSV line") and "extra" in record
    # the good row after the broken line keeps its own line number (line 4 = record 3)
    assert con.execute("SELECT record_number FROM quarantine.rows").fetchone()[0] == 2


# one bad field per row, and how its quarantine reason begins
BAD_TRACKS = [({"genres": "[unclosed"}, "genres is not a list"), ({"release_year": 1492}, "release_year out of range"),
              ({"energy": 1.7}, "audio features outside 0..1"), ({"tempo": "fast"}, "not a number: tempo"),
              ({"duration_ms": 0}, "duration_ms must be positive"), ({"track_id": " "}, "missing track_id")]
BAD_USERS = [({"product": "gold"}, "product must be free or premium: gold"), ({"birth_year": 1800}, "birth_year out of range"),
             ({"signup_date": "last week"}, "signup_date is not a date: last week"),
             ({"country": "Sweden"}, "country must be a 2-letter code")]


def _reasons(cfg) -> list[str]:
    con = connect(cfg, read_only=True)
    try:
        return [r for (r,) in con.execute("SELECT reason FROM quarantine.rows ORDER BY record_number").fetchall()]
    finally:
        con.close()


def _one_bad_field_per_row(cfg, path: Path, make, cases: list[tuple[dict, str]]) -> None:
    """A good row and one row per case in one file: the good row loaded, each bad one quarantined with its
    own reason. ``make(i, override)``: the row with id number ``i``."""
    rows = [make(1, {}), *(make(i + 2, override) for i, (override, _) in enumerate(cases))]
    [r] = ingest_paths([write(rows, path)], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (1, len(cases))
    reasons = _reasons(cfg)
    assert len(reasons) == len(cases)
    for reason, (override, expected) in zip(reasons, cases):
        assert reason.startswith(expected), (override, reason)


def test_bad_track_rows(cfg, tmp_path):
    _one_bad_field_per_row(cfg, tmp_path / "tracks.csv", lambda i, o: track(**{"track_id": f"t{i}", **o}), BAD_TRACKS)


def test_bad_user_rows(cfg, tmp_path):
    from tests.data.files import user

    _one_bad_field_per_row(cfg, tmp_path / "users.csv", lambda i, o: user(f"u{i}", **o), BAD_USERS)


def test_format_option_overrides_detection(cfg, tmp_path):
    from tests.data.test_spotify_history import play

    export = tmp_path / "my_history.json"  # not the export's usual name
    export.write_text(json.dumps([play("2024-01-01T10:03:00Z")]))
    with pytest.raises(IngestError, match="my_history.json: cannot tell what this file holds"):
        ingest_paths([export], cfg=cfg)
    reports = ingest_paths([export], fmt="spotify-history", user="me", cfg=cfg)
    assert {r.table_name for r in reports} == {"raw.events", "raw.tracks", "raw.users"}
    events = write([event()], tmp_path / "events_x.csv")
    with pytest.raises(IngestError, match="expected log_\\*.csv or tf_\\*.csv"):
        ingest_paths([events], fmt="mssd", cfg=cfg)
    with pytest.raises(IngestError, match="unknown format 'xml'"):
        ingest_paths([events], fmt="xml", cfg=cfg)


# --- what a hostile new user broke (issue 12) ------------------------------------------------


def test_whitespace_of_any_kind_around_ids_is_trimmed_so_stored_plays_are_not_new(cfg, tmp_path):
    plays = [event("u1", "t1", ts="2026-01-05T10:00:00Z"), event("u2", "t2", ts="2026-01-05T10:05:00Z"),
             event("u3", "t3", ts="2026-01-05T10:10:00Z")]
    ingest_paths([write(plays, tmp_path / "a" / "events_1.csv")], cfg=cfg)
    padded = [dict(plays[0], user_id="\tu1", track_id="t1\t"), dict(plays[1], user_id="u2\u00a0", track_id=" \tt2\r"),
              dict(plays[2], user_id="\u3000u3", track_id="t3\ufeff")]
    [r] = ingest_paths([write(padded, tmp_path / "b" / "events_2.jsonl")], cfg=cfg)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (0, 3, 0)
    con = connect(cfg, read_only=True)
    assert sorted(con.execute("SELECT user_id, track_id FROM raw.events").fetchall()) == [("u1", "t1"), ("u2", "t2"), ("u3", "t3")]


NOT_WHOLE = ["0x10", "15000.7", "1e4", "16 s", "0b101", "nan", "99999999999999999999"]


def test_a_number_not_written_as_a_whole_decimal_is_quarantined(cfg, tmp_path):
    rows = [event("u1", "t1", ms_played="15000.0")]
    for i, value in enumerate(NOT_WHOLE):
        rows += [event("u1", f"t{2 * i + 2}", ts=f"2026-01-05T10:{2 * i + 1:02d}:00Z", ms_played=value),
                 event("u1", f"t{2 * i + 3}", ts=f"2026-01-05T10:{2 * i + 2:02d}:00Z", session_position=value)]
    [r] = ingest_paths([write(rows, tmp_path / "events_x.csv")], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 2 * len(NOT_WHOLE))
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT ms_played FROM raw.events").fetchone()[0] == 15000  # '15000.0' is a whole number
    con.close()
    assert _reasons(cfg) == [reason for value in NOT_WHOLE for reason in
                             (f"ms_played is not an integer: {value}", f"session_position is not an integer: {value}")]


def test_audio_features_that_are_not_finite_decimals_are_quarantined(cfg, tmp_path):
    rows = [track("t1", tempo="1.2e2"), track("t2", tempo="0x10"), track("t3", energy="nan"), track("t4", release_year="2020.5")]
    [r] = ingest_paths([write(rows, tmp_path / "tracks.csv")], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 3)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT tempo FROM raw.tracks").fetchone()[0] == 120.0
    assert [x for (x,) in con.execute("SELECT reason FROM quarantine.rows ORDER BY record_number").fetchall()] == [
        "not a number: tempo", "not a number: energy", "release_year is not an integer"]


def test_a_byte_order_mark_is_accepted_in_json_arrays_and_json_lines(cfg, tmp_path):
    from tests.data.test_spotify_history import play

    export = tmp_path / "Streaming_History_Audio_2024_0.json"
    export.write_bytes(b"\xef\xbb\xbf" + json.dumps([play("2024-01-01T10:03:00Z"), play("2024-01-01T10:09:00Z")]).encode())
    lines = tmp_path / "events_bom.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(event(track=f"t{i}")) for i in range(3)).encode())
    reports = ingest_paths([export, lines], cfg=cfg)
    loaded = {(Path(r.source_file).name, r.table_name): (r.rows_loaded, r.rows_quarantined) for r in reports}
    assert loaded[(export.name, "raw.events")] == (2, 0)
    assert loaded[(lines.name, "raw.events")] == (3, 0)


def test_gzip_files_are_read_whatever_their_name_and_a_corrupt_one_is_named(cfg, tmp_path):
    import gzip

    csv_gz = tmp_path / "land" / "events_1.csv.gz"
    csv_gz.parent.mkdir()
    plain = write([event("u1", "t1"), event("u1", "t2", ts="2026-01-05T10:01:00Z")], tmp_path / "events_tmp.csv")
    csv_gz.write_bytes(gzip.compress(plain.read_bytes()))
    misnamed = tmp_path / "land" / "events_2.csv"  # gzip inside a .csv name
    misnamed.write_bytes(gzip.compress(write([event("u2", "t3")], tmp_path / "e.csv").read_bytes()))
    lines_gz = tmp_path / "land" / "events_3.jsonl.gz"
    lines_gz.write_bytes(gzip.compress((json.dumps(event("u3", "t4")) + "\n").encode()))
    reports = ingest_paths([tmp_path / "land"], cfg=cfg)  # .gz files are found in folders too
    assert sorted((Path(r.source_file).name, r.rows_loaded) for r in reports) == [
        ("events_1.csv.gz", 2), ("events_2.csv", 1), ("events_3.jsonl.gz", 1)]
    broken = tmp_path / "events_4.csv.gz"
    broken.write_bytes(gzip.compress(plain.read_bytes())[:30])
    with pytest.raises(IngestError, match="events_4.csv.gz: gzip-compressed, but it cannot be decompressed"):
        ingest_paths([broken], cfg=cfg)
    assert not any((cfg.home / ".tmp").glob("*.csv"))  # decompressed copies are removed


def test_a_csv_line_over_duckdbs_line_limit_is_quarantined_not_the_file(cfg, tmp_path):
    f = tmp_path / "events_x.csv"
    f.write_text("user_id,track_id,ts\nu1,t1,2026-01-05T10:00:00Z\nu1," + "x" * 3_000_000 + ",2026-01-05T10:01:00Z\n"
                 "u1,t3,2026-01-05T10:02:00Z\n")
    [r] = ingest_paths([f], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (2, 1)
    con = connect(cfg, read_only=True)
    record_number, reason = con.execute("SELECT record_number, reason FROM quarantine.rows").fetchone()
    assert record_number == 2 and "Maximum line size" in reason
    assert sorted(t for (t,) in con.execute("SELECT track_id FROM raw.events").fetchall()) == ["t1", "t3"]


def test_json_keys_that_differ_only_in_case_are_named(cfg, tmp_path):
    f = tmp_path / "events_x.jsonl"
    f.write_text(json.dumps({**event(), "TS": "2026-01-05T11:00:00Z"}) + "\n")
    with pytest.raises(IngestError, match="events_x.jsonl: keys TS and ts differ only in case"):
        ingest_paths([f], cfg=cfg)


# A NUL byte in a key once reached SQL text DuckLake builds for its catalog (a join's filter) and stopped every later
# read of raw.events: no control character reaches a raw table, in any format, and the warehouse reads on.
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_control_characters_and_overlong_ids_are_quarantined_and_later_ingests_read_on(cfg, tmp_path, suffix):
    from skipify.ingest.rules import MAX_ID_CHARS

    rows = [event("ok", "t0", ts="2026-01-05T09:00:00Z"),
            event("hx-nul\x00x", "t1", ts="2026-01-05T09:01:00Z"),
            event("u2", "t\x01two", ts="2026-01-05T09:02:00Z"),
            event("u3", "t3", ts="2026-01-05T09:03:00Z", session_id="s" * (MAX_ID_CHARS + 1)),
            event("u4", "t4", ts="2026-01-05T09:04:00Z", platform="io\x1bs"),
            event("u5", "t5", ts="2026\x00-01-05")]
    f = write(rows, tmp_path / "land" / f"events_nul{suffix}")
    [r] = ingest_paths([f], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 5)
    con = connect(cfg, read_only=True)
    reasons = [x for (x,) in con.execute("SELECT reason FROM quarantine.rows ORDER BY record_number").fetchall()]
    assert reasons == ["user_id holds a control character", "track_id holds a control character",
                       f"session_id is longer than {MAX_ID_CHARS} characters", "platform holds a control character",
                       "ts is not a timestamp: 2026\ufffd-01-05"]
    con.close()
    # the next files join the lake on their keys (new events, an upsert of users, candidates): all still read
    later = [write([event("u9", "t0", ts="2026-01-05T11:00:00Z")], tmp_path / "next" / "events_b.csv"),
             write([{"user_id": "ok", "country": "SE"}, {"user_id": "bad\x00", "country": "SE"}], tmp_path / "next" / "users.csv"),
             write([{"run_date": "2026-01-06", "user_id": "ok", "track_id": "t0"},
                    {"run_date": "2026-01-06", "user_id": "ok", "track_id": "t\x00zero"}], tmp_path / "next" / "candidates.csv")]
    reports = ingest_paths(later, cfg=cfg)
    assert {x.table_name: (x.rows_loaded, x.rows_quarantined) for x in reports} == {
        "raw.users": (1, 1), "raw.events": (1, 0), "raw.candidates": (1, 1)}
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT count(*) FROM raw.events JOIN raw.users USING (user_id)").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM quarantine.rows WHERE record LIKE '%\\u0000%'").fetchone()[0] == 4  # kept, escaped
    con.close()


def test_a_column_name_with_a_nul_or_quotes_is_ignored_by_name_and_breaks_no_statement(cfg, tmp_path):
    land = tmp_path / "land"
    land.mkdir()
    good = '"user_id": "u1", "track_id": "t1", "ts": "2026-01-05T10:00:00Z"'
    (land / "events_k.jsonl").write_text("{" + good + r', "a\"b": "1", "e\u0000f": "3", "it' + "'s" + '": "4"}\n')
    (land / "events_h.csv").write_bytes(b"user_id,track_id,ts,x\x00y\nu2,t2,2026-01-05T11:00:00Z,5\n")
    reports = ingest_paths([land], cfg=cfg)
    assert sorted(r.rows_loaded for r in reports) == [1, 1]
    assert sorted(c for r in reports for c in r.ignored_columns) == ['a"b', "e\ufffdf", "it's", "x\ufffdy"]
    con = connect(cfg, read_only=True)
    assert count(con, "raw.events") == 2
    con.close()
