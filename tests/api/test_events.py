"""POST /v1/events for real: ingest's rules, the durable event log, and the next night's ingest of it
(a server killed with SIGKILL right after a 202 loses nothing; a batch sent twice adds nothing twice)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import polars as pl
import pytest

from skipify.config import load_config
from skipify.events import EventChecker
from skipify.ingest import ingest_paths
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS, assert_rows_equal
from tests.servers import free_port, running

pytestmark = pytest.mark.slow  # `skipify serve` on a real uvicorn (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent
MAX_EVENTS = 20
DAY = NIGHT + dt.timedelta(days=1)  # the plays happen the day after the last night: the next night ingests them


def plays(n: int, minute: int = 0) -> list[dict]:
    """n plays of the day after NIGHT, as a client sends them (JSON numbers and booleans, a Z zone)."""
    return [{"user_id": f"u{i % 7:06d}", "track_id": f"t{i:06d}", "ts": f"{DAY}T10:{minute + i:02d}:00Z",
             "ms_played": 20_000 + i, "skipped": i % 2 == 0, "feedback": "dislike" if i % 5 == 0 else None,
             "session_id": f"live-{i % 3}", "platform": "android", "shuffle": True, "context_type": "playlist",
             "reason_start": "trackdone"} for i in range(n)]


@pytest.fixture(scope="module")
def home(copy_scored_home):
    return copy_scored_home("events_home")


def serve(home: Path, port: int, file_limits: bool = False):
    env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_SERVE_MAX_EVENTS": str(MAX_EVENTS),
           **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    return running([str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0"], env, f"http://127.0.0.1:{port}/healthz",
                   file_limits=file_limits)


def stored(home: Path, keys: list[dict]) -> dict[tuple, int]:
    """How many rows raw.events holds for each (user_id, track_id, ts) of ``keys``."""
    con = connect(load_config(home=home), read_only=True)
    try:
        rows = con.execute("SELECT user_id, track_id, ts FROM raw.events WHERE ts >= $d", {"d": dt.datetime.combine(DAY, dt.time(), dt.UTC)}).fetchall()
    finally:
        con.close()
    counts: dict[tuple, int] = {}
    for u, t, ts in rows:
        counts[(u, t, ts.astimezone(dt.UTC).isoformat())] = counts.get((u, t, ts.astimezone(dt.UTC).isoformat()), 0) + 1
    return {k: counts.get(k, 0) for k in ((e["user_id"], e["track_id"], dt.datetime.fromisoformat(e["ts"]).isoformat()) for e in keys)}


def test_acknowledged_events_survive_sigkill_and_a_batch_sent_twice_is_stored_once(home):
    cfg = load_config(home=home)
    first, second = plays(10), plays(10, minute=30)
    port = free_port()
    with serve(home, port) as proc:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            for batch in (first, first, second):  # the first batch twice, as a client retrying would
                resp = api.post("/v1/events", json={"events": batch})
                assert resp.status_code == 202, resp.text
                assert resp.json() == {"accepted": 10, "files": [f"events_{DAY}T10.jsonl"]}
            os.kill(proc.pid, signal.SIGKILL)  # right after the last 202: no shutdown, no flush but the one before it
            proc.wait(timeout=10)
    log = cfg.events_folder / f"events_{DAY}T10.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 30 and lines[:10] == lines[10:20]  # as sent, feedback null left out
    assert lines[0] == {k: v for k, v in first[0].items() if v is not None}

    from skipify.nightly import ingest_landing

    ingest_landing(DAY + dt.timedelta(days=1), cfg)  # the next night's first task
    assert set(stored(home, first + second).values()) == {1}  # every acknowledged event, once
    ingest_landing(DAY + dt.timedelta(days=1), cfg)  # the same night again: nothing new
    assert set(stored(home, first + second).values()) == {1}


def test_bad_events_are_refused_whole_naming_each_field_and_nothing_is_logged(home):
    cfg = load_config(home=home)
    before = {p.name: p.read_bytes() for p in cfg.events_folder.glob("*")} if cfg.events_folder.exists() else {}
    port = free_port()
    bad = plays(4, minute=50)
    bad[1]["ts"] = "yesterday"
    bad[2].pop("user_id")
    bad[2]["ms_played"] = -5
    bad[3]["color"] = "red"
    with serve(home, port):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            resp = api.post("/v1/events", json={"events": bad})
            assert resp.status_code == 422
            assert resp.json()["fields"] == ["events[3].color"]  # the shape first: a field no play has
            del bad[3]["color"]
            resp = api.post("/v1/events", json={"events": bad})
            assert resp.status_code == 422
            body = resp.json()
            assert body["fields"] == ["events[1].ts", "events[2].user_id", "events[2].ms_played"]
            assert "ts is not a timestamp: yesterday" in body["detail"] and "ms_played is negative" in body["detail"]
            resp = api.post("/v1/events", json={"events": plays(MAX_EVENTS + 1)})
            assert resp.status_code == 413 and "serve_max_events" in resp.json()["detail"]
            assert api.post("/v1/events", json={"events": []}).status_code == 422
            nan = api.post("/v1/events", content=b'{"events": [{"user_id": "u1", "track_id": "t1", "ts": "%sT10:00:00Z", '
                                                  b'"platform": NaN}]}' % str(DAY).encode(), headers={"content-type": "application/json"})
            assert nan.status_code == 422 and nan.json()["fields"] == ["events[0].platform"]
            # the rules every play's text follows, as ingest's: no control character in an id or a label, ids bounded
            odd = plays(4, minute=50)
            odd[0]["user_id"] = "hx-nul\u0000x"
            odd[1]["session_id"] = "s" * 129
            odd[2]["platform"] = "and\u001broid"
            resp = api.post("/v1/events", json={"events": odd})
            assert resp.status_code == 422, resp.text
            assert resp.json()["fields"] == ["events[0].user_id", "events[1].session_id", "events[2].platform"]
            assert "user_id holds a control character" in resp.json()["detail"]
            # a lone surrogate in a value or a key: 422 naming it, as /v1/predict answers (once a 500)
            ts = f'"ts": "{DAY}T10:00:00Z"'.encode()
            for raw, field in [(b'"user_id": "\\ud800", "track_id": "t1", ' + ts, "events[0].user_id"),
                               (b'"user_id": "u1", "track_id": "t\\udfff", ' + ts, "events[0].track_id"),
                               (b'"user_id": "u1", "track_id": "t1", "session_id": "\\ud800", ' + ts, "events[0].session_id"),
                               (b'"user_id": "u1", "track_id": "t1", "\\ud800": 1, ' + ts, "events[0].\\ud800")]:
                resp = api.post("/v1/events", content=b'{"events": [{%s}]}' % raw, headers={"content-type": "application/json"})
                assert resp.status_code == 422, (raw, resp.status_code, resp.text)
                assert field in resp.json()["fields"], resp.text
    after = {p.name: p.read_bytes() for p in cfg.events_folder.glob("*")} if cfg.events_folder.exists() else {}
    assert after == before  # nothing of a refused batch reaches the log


def test_the_api_checks_events_by_the_rules_ingest_quarantines_them_by(tmp_path):
    """One definition of the rules: a batch's problems are the reasons ingest gives the same records in a file."""
    events = plays(6)
    events[0]["ts"] = "2026-13-01T00:00:00Z"
    events[1]["ms_played"] = "12.5"
    events[2]["skipped"] = "maybe"
    events[3]["feedback"] = "meh"
    events[4]["ts"] = "1999-12-31T00:00:00Z"
    del events[5]["track_id"]
    cfg = load_config(home=tmp_path / "home")
    problems, _ = EventChecker(cfg).check(events)
    landing = tmp_path / "landing" / "events_live.jsonl"
    landing.parent.mkdir()
    landing.write_text("".join(json.dumps(e) + "\n" for e in events))
    ingest_paths([landing], cfg=cfg)
    con = connect(cfg, read_only=True)
    try:
        quarantined = con.execute("SELECT record_number, reason FROM quarantine.rows ORDER BY record_number").fetchall()
    finally:
        con.close()
    assert [(int(f.split("]")[0].split("[")[1]) + 1, p) for f, p in problems] == \
        [(n, part) for n, reason in quarantined for part in reason.split("; ")]
    assert len(problems) == 6


def test_skipify_events_replays_a_file_into_a_running_server(home, tmp_path):
    cfg = load_config(home=home)
    batch = plays(12, minute=40)
    path = tmp_path / "plays.csv"
    header = list(batch[0])
    path.write_text(",".join(header) + "\n" + "".join(
        ",".join("" if e[c] is None else str(e[c]).lower() if isinstance(e[c], bool) else str(e[c]) for c in header) + "\n" for e in batch))
    port = free_port()
    with serve(home, port):
        out = subprocess.run([str(BIN / "skipify"), "events", str(path), "--url", f"http://127.0.0.1:{port}", "--batch", "5"],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "12 events accepted" in out.stdout
    logged = [json.loads(x) for x in (cfg.events_folder / f"events_{DAY}T10.jsonl").read_text().splitlines()]
    assert [(e["user_id"], e["track_id"], e["ts"]) for e in logged[-12:]] == [(e["user_id"], e["track_id"], e["ts"]) for e in batch]


def test_a_live_sessions_rows_equal_the_training_rows_of_the_same_plays_once_ingested(copy_scored_home):
    """Consistency: each play of a session, asked about live (its earlier plays from POST /v1/events),
    has the feature row that the night builds for it once the events are ingested, column for column,
    the session's sequence included."""
    from skipify.api import Service
    from skipify.data import load_rows
    from skipify.features import build_features
    from skipify.nightly import ingest_landing
    from skipify.serving import request_frame

    home = copy_scored_home("live_home")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    con = connect(cfg, read_only=True)
    try:
        user, = con.execute("SELECT user_id FROM raw.events WHERE ts < $c GROUP BY ALL ORDER BY count(*) DESC LIMIT 1",
                            {"c": dt.datetime.combine(NIGHT, dt.time(), dt.UTC)}).fetchone()
        # tracks of few genres: the session's counts by genre (hsx_genre_*) read the live plays' genres
        tracks = [t for (t,) in con.execute("SELECT track_id FROM raw.tracks ORDER BY genres[1], track_id LIMIT 6").fetchall()]
    finally:
        con.close()
    service = Service(cfg)
    try:
        cutoff = service.served.snapshot.cutoff
        assert cutoff.date() == NIGHT
        session = [{"user_id": user, "track_id": t, "ts": f"{NIGHT}T09:{3 * i:02d}:00Z", "ms_played": [200_000, 4_000, 60_000][i % 3],
                    "skipped": i % 3 == 1, "feedback": "dislike" if i == 2 else None, "session_id": "live-s1",
                    "platform": "ios", "shuffle": i % 2 == 0, "context_type": "playlist",
                    "reason_start": "fwdbtn" if i % 3 == 2 else "trackdone"} for i, t in enumerate(tracks)]
        assert service.events(session)["accepted"] == len(session)
        # each play asked about as it starts: the plays before it in the session are live, it is not yet
        requests = [{"user_id": e["user_id"], "track_id": e["track_id"], "ts": dt.datetime.fromisoformat(e["ts"]),
                     "session_id": e["session_id"], **{k: e[k] for k in ("platform", "shuffle", "context_type", "reason_start")}}
                    for e in session]
        sessions, live = service._sessions(requests, cutoff)
        assert [len(s["live_events"]) if s else 0 for s in sessions] == [0, 1, 2, 3, 4, 5]
        served = service.served.snapshot
        rows, _ = served.rows(request_frame(requests), None, live)
    finally:
        service.stop()
    assert rows["s_plays_before"].to_list() == [0, 1, 2, 3, 4, 5] and rows["s_prev_dislike"].to_list()[1:] == [0, 1, 1, 0, 1]
    assert [len(x) for x in rows["hs_track_ids"].to_list()] == [0, 1, 2, 3, 4, 5]
    assert rows["hsx_genre_plays"].sum() > 0

    ingest_landing(NIGHT + dt.timedelta(days=1), cfg)  # the next night: the event log is a landing file
    build_features(NIGHT + dt.timedelta(days=1), cfg, with_text=False)
    training = (load_rows(cfg, sequences=True)
                .filter((pl.col("user_id") == user) & pl.col("ts").is_in([r["ts"] for r in requests]))
                .sort("ts").select(rows.columns))
    assert training.height == len(session)
    assert_rows_equal(training, rows)


def test_the_log_tail_takes_whole_lines_once_and_skips_what_its_own_process_appended(tmp_path):
    from skipify.events import EventLog, LogTail

    since = dt.datetime.combine(DAY, dt.time(10), dt.UTC)
    log, tail, other = EventLog(tmp_path), LogTail(tmp_path), LogTail(tmp_path)
    first, second = plays(3), plays(2, minute=30)
    appended = log.append(first, [since] * 3)
    tail.skip(appended)  # this process wrote it: nothing to read back
    assert tail.new_lines(since) == ([], 0)
    assert [e["track_id"] for e in other.new_lines(since)[0]] == [e["track_id"] for e in first]  # another process reads it
    path = appended.path
    with open(path, "a") as f:  # a line still being written is left for the next look
        f.write('{"user_id": "u000001", "track_id": "t000099", "ts": "%sT10:59:00Z"' % DAY)
    (tmp_path / EventLog.MARK).touch()
    assert other.new_lines(since) == ([], 0)
    with open(path, "a") as f:
        f.write("}\nnot json\n")
    (tmp_path / EventLog.MARK).touch()
    assert other.new_lines(since) == ([{"user_id": "u000001", "track_id": "t000099", "ts": f"{DAY}T10:59:00Z"}], 1)
    # another process appended before this one's batch: the tail reads both (a play held twice is held once)
    later = log.append(second, [since] * 2)
    tail.skip(later)
    assert len(tail.new_lines(since)[0]) == 1 + 2 and tail.new_lines(since) == ([], 0)
    assert other.new_lines(since + dt.timedelta(hours=1)) == ([], 0)  # files of hours before the cut-off are not read


def test_a_batch_the_disk_cannot_hold_is_503_and_leaves_nothing_and_the_next_is_whole(home):
    """On a full disk a write stops part way: 19 of 40 events of a refused batch were once kept, and the next batch's
    line glued onto them was quarantined, an acknowledged event lost. Now the failed append is cut back: 503 with
    Retry-After, nothing of it stored; the next batch's lines are whole and every acknowledged event is ingested."""
    import resource

    cfg = load_config(home=home)
    hour = f"{DAY}T12"
    fit, too_big, after = ([{**e, "ts": f"{hour}:{i:02d}:00Z", "track_id": f"t{i:06d}", "reason_end": "x" * 60}
                            for i, e in enumerate(plays(n))] for n in (5, MAX_EVENTS, 5))
    after = [{**e, "ts": e["ts"].replace(":00:00Z", ":59:00Z").replace(f"{hour}:0", f"{hour}:5")} for e in after]
    log = cfg.events_folder / f"events_{hour}.jsonl"
    port = free_port()
    with serve(home, port, file_limits=True) as proc:
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))  # a disk with little room
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            assert api.post("/v1/events", json={"events": fit}).status_code == 202
            size = log.stat().st_size
            full = api.post("/v1/events", json={"events": too_big})
            assert full.status_code == 503 and full.headers["retry-after"] == "10", full.text
            assert log.stat().st_size == size  # nothing of it stays, not even the part the disk took
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space again
            assert api.post("/v1/events", json={"events": after}).status_code == 202
    lines = [json.loads(x) for x in log.read_text().splitlines()]  # every line whole
    assert [e["track_id"] for e in lines] == [e["track_id"] for e in fit + after]
    from skipify.nightly import ingest_landing

    ingest_landing(DAY + dt.timedelta(days=1), cfg)
    assert set(stored(home, fit + after).values()) == {1}
    assert set(stored(home, [e for e in too_big if e["ts"] not in {x["ts"] for x in fit + after}]).values()) == {0}
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT count(*) FROM quarantine.rows WHERE source_file = $f", {"f": str(log)}).fetchone()[0] == 0
    con.close()


def test_a_line_torn_by_a_writer_that_died_is_cut_off_and_one_batch_is_one_file(tmp_path):
    """A writer killed mid-append leaves a torn last line (its batch never acknowledged): the next append cuts it off
    instead of gluing its first line to it. A batch goes to one file, the hour of its latest play, however far apart
    its plays are (1,000 plays at 1,000 hours once made 1,000 files)."""
    from skipify.events import EventLog

    log = EventLog(tmp_path)
    first = log.append(plays(2), [dt.datetime.combine(DAY, dt.time(10), dt.UTC)] * 2)
    with open(first.path, "ab") as f:
        f.write(b'{"user_id": "u000001", "track_id": "t0009')  # the writer died here
    second = log.append(plays(3, minute=20), [dt.datetime.combine(DAY, dt.time(10), dt.UTC)] * 3)
    assert second.start == first.end
    assert [json.loads(x)["track_id"] for x in first.path.read_text().splitlines()] == ["t000000", "t000001", "t000000", "t000001", "t000002"]
    spread = [dt.datetime.combine(DAY, dt.time(), dt.UTC) - dt.timedelta(hours=h) for h in range(1000)]
    many = log.append([{**plays(1)[0], "ts": t.isoformat()} for t in spread], spread)
    assert many.path.name == f"events_{DAY}T00.jsonl"
    assert sorted(p.name for p in tmp_path.glob("events_*")) == [f"events_{DAY}T00.jsonl", f"events_{DAY}T10.jsonl"]


def test_live_plays_are_bounded_by_their_size_as_well_as_their_count():
    """150 plays with a 1,000,000-character session id once grew a server by 215 MB: ids are bounded by the rules
    now, and the live state by bytes too (the listener heard from least recently goes first)."""
    from skipify.events import LivePlays, play_bytes

    def rows(user: str, n: int, pad: int) -> pl.DataFrame:
        ts = dt.datetime.combine(DAY, dt.time(10), dt.UTC)
        return pl.DataFrame({"user_id": [user] * n, "track_id": [f"t{i}" for i in range(n)],
                             "ts": [ts + dt.timedelta(minutes=i) for i in range(n)], "session_id": ["s" * pad] * n})

    one = play_bytes(rows("a", 1, 100).row(0, named=True))
    live = LivePlays(per_user=50, total=1_000_000, max_bytes=25 * one)
    live.add(rows("a", 10, 100))
    live.add(rows("b", 10, 100))
    assert len(live) == 20 and live.nbytes == 20 * one
    live.add(rows("c", 10, 100))  # past 25 plays' bytes: the least recent listener goes
    assert len(live) == 20 and live.nbytes <= 25 * one
    assert live.session("a", None, None, dt.timedelta(hours=1)) == (None, [])
    assert len(live.session("c", None, None, dt.timedelta(hours=1))[1]) == 10
    assert live.prune(dt.datetime.combine(DAY, dt.time(11), dt.UTC)) == 20 and live.nbytes == 0
