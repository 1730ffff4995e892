"""`skipify serve` for real: uvicorn on a free loopback port, over a private copy of the scored
warehouse; every endpoint, every error code, consistency with the nightly batch. Hot reload (a new
version, a promoted champion) is tested with two workers: tests/api/test_workers.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import psutil
import pytest

from skipify.catalogue import label
from skipify.config import load_config
from skipify.warehouse import connect, create_temp
from tests.scored import NIGHT, SCORED_SETTINGS, read
from tests.servers import free_port, running

pytestmark = pytest.mark.slow  # `skipify serve` on a real uvicorn (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent
MAX_BATCH = 50


@pytest.fixture(scope="module")
def home(copy_scored_home):
    return copy_scored_home("api_home")


HISTORY_QUEUE = 24  # older nights' reads waiting for the one history worker: they take far longer than a predict


@pytest.fixture(scope="module")
def server(home):
    """The server process and its port. One night in memory: the night before NIGHT is read on request."""
    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_SERVE_MAX_BATCH": str(MAX_BATCH),
           "SKIPIFY_SERVE_NIGHTS_IN_MEMORY": "1", "SKIPIFY_SERVE_HISTORY_QUEUE": str(HISTORY_QUEUE), "SKIPIFY_SERVE_HISTORY_WORKERS": "1",
           **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    cmd = [str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "1"]
    with running(cmd, env, f"http://127.0.0.1:{port}/healthz") as proc:
        yield proc, port


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=f"http://127.0.0.1:{server[1]}", timeout=30) as client:
        yield client


def query(home: Path, sql: str, params: dict | None = None) -> pl.DataFrame:
    return read(load_config(home=home), sql, params)


def test_health_model_and_docs_describe_what_is_served(api, home):
    health = api.get("/healthz").json()
    [(version, metrics, served, kinds)] = query(home, "SELECT version, metrics, served_model, kinds FROM models.registry").rows()
    assert health["status"] == "ok" and health["model_version"] == version and health["served_model"] == served
    assert health["features_as_of"] == health["night"] == str(NIGHT)
    model = api.get("/v1/model").json()
    assert model["version"] == version and model["training"]["as_of"] == str(NIGHT)
    assert model["served_model"] == served in kinds and model["gate"]["figures"]["served_model"] == served
    summary = json.loads(metrics)["summary"]
    for kind in kinds:  # every kind the version holds, under its own key
        assert model["test_metrics"][f"{kind}_roc_auc"] == pytest.approx(summary[f"{kind}_roc_auc"])
    assert model["training"]["train_from"] == summary["train_from"] and model["training"]["test_to"] == summary["test_to"]
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/users/{user_id}/at-risk", "/v1/model", "/healthz"} <= set(paths)
    assert api.get("/docs").status_code == 200


def test_predictions_equal_the_published_nights_scores(api, home):
    # pairs of both domains (the scored world has music and podcasts): a podcast episode is asked like a track
    night = query(home, "SELECT user_id, track_id, domain, p_dislike, p_dislike_baseline, model_version FROM scores.dislike_scores "
                        "WHERE run_date = $d QUALIFY row_number() OVER (PARTITION BY domain ORDER BY hash(user_id, track_id)) <= 20 "
                        "ORDER BY domain, hash(user_id, track_id)", {"d": NIGHT})
    assert set(night["domain"]) == {"music", "podcast"}
    pairs = night.select("user_id", "track_id").to_dicts()
    # the night's context: each listener's habit, given explicitly ...
    con = connect(load_config(home=home, **SCORED_SETTINGS), read_only=True)
    try:
        create_temp(con, "habits", "features/habits", {"cutoff": dt.datetime.combine(NIGHT, dt.time(), dt.UTC), "active_days": 30})
        habits = {r["user_id"]: r for r in con.execute("SELECT * FROM habits").pl().to_dicts()}
    finally:
        con.close()
    explicit = [{**p, "context": {k: habits[p["user_id"]][k] for k in ("hour", "platform", "shuffle", "context_type", "reason_start")}}
                for p in pairs]
    for items in (explicit, pairs):  # ... and left out (the server fills in the same habit)
        resp = api.post("/v1/predict", json={"items": items})
        assert resp.status_code == 200, resp.text
        cols = ("user_id", "track_id", "domain", "p_dislike", "p_dislike_baseline", "model_version", "served_model", "trained_on")
        got = pl.DataFrame([{c: p[c] for c in cols} for p in resp.json()["predictions"]])
        assert got.select("user_id", "track_id", "domain").equals(night.select("user_id", "track_id", "domain"))  # in request order
        assert np.abs(got["p_dislike"].to_numpy() - night["p_dislike"].to_numpy()).max() < 1e-6
        assert np.abs(got["p_dislike_baseline"].to_numpy() - night["p_dislike_baseline"].to_numpy()).max() < 1e-6
        assert got["model_version"].equals(night["model_version"])
        # each pair names what scored it: the gate's choice for its domain (models.registry.domain_served)
        served = query(home, "SELECT domain_served FROM models.registry WHERE status = 'champion'")["domain_served"][0]
        choice = json.loads(served)
        assert got.select("domain", "served_model", "trained_on").rows() == [
            (d, choice[d]["served_model"], choice[d]["trained_on"]) for d in got["domain"]]
        assert choice["music"]["served_model"] == resp.json()["served_model"]


def test_each_prediction_has_three_reasons_largest_first(api):
    resp = api.post("/v1/predict", json={"items": [{"user_id": "u000003", "track_id": "t000007", "context": {"platform": "web", "hour": 22}}]})
    [pred] = resp.json()["predictions"]
    reasons = pred["reasons"]
    assert len(reasons) == 3 and all(r["feature"] for r in reasons)
    assert all(r["label"] == label(r["feature"]) for r in reasons)  # the catalogue's words, for people
    sizes = [abs(r["contribution"]) for r in reasons]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 0
    # a feature's value comes with it (the context given here, when it is among the reasons)
    for r in reasons:
        if r["feature"] == "c_platform":
            assert r["value"] == "web"
        if r["feature"] == "c_hour":
            assert r["value"] == 22


def test_unknown_listeners_and_tracks_take_the_cold_start_path(api):
    items = [{"user_id": "never-seen", "track_id": "t000001"}, {"user_id": "u000001", "track_id": "not-a-track"},
             {"user_id": "never-seen", "track_id": "not-a-track", "context": {"ts": "2026-01-15T21:00:00+01:00"}}]
    resp = api.post("/v1/predict", json={"items": items})
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    assert [p["cold_start"]["unknown_user"] for p in preds] == [True, False, True]
    assert [p["cold_start"]["unknown_track"] for p in preds] == [False, True, True]
    assert all(p["cold_start"]["user"] for p in preds if p["cold_start"]["unknown_user"])
    assert all(0 < p["p_dislike"] < 1 and 0 < p["p_dislike_baseline"] < 1 for p in preds)


@pytest.mark.parametrize(("body", "field"), [
    ({"items": [{"track_id": "t000001"}]}, "items[0].user_id"),
    ({"items": [{"user_id": "", "track_id": "t000001"}]}, "items[0].user_id"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"shuffle": "maybe"}}]}, "items[0].context.shuffle"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"hour": 25}}]}, "items[0].context.hour"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"ts": "2026-01-15T10:00:00"}}]}, "items[0].context.ts"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"ts": "2026-01-15T10:00:00Z", "hour": 3}}]}, "items[0].context"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"plaform": "ios"}}]}, "items[0].context.plaform"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001"}, {"user_id": "u000001", "track_id": "t000001",
                                                                 "context": {"ts": "2026-01-14T23:00:00Z"}}]}, "items[1].context.ts"),
    ({"items": []}, "items"),
    ({"pairs": []}, "items"),
    # the rules of a play's text (skipify.ingest.rules), as POST /v1/events and ingest apply them
    ({"items": [{"user_id": "hx-nul\u0000x", "track_id": "t000001"}]}, "items[0].user_id"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"platform": "i\u0007os"}}]}, "items[0].context.platform"),
    ({"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"session_id": "s" * 129}}]}, "items[0].context.session_id"),
])
def test_a_malformed_body_is_422_naming_the_field(api, body, field):
    resp = api.post("/v1/predict", json=body)
    assert resp.status_code == 422
    assert field in resp.json()["fields"] and field in resp.json()["detail"]


# Python's json module reads NaN, Infinity and lone surrogates; a reply that echoed them could not be encoded (500)
@pytest.mark.parametrize(("raw", "field"), [
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","context":{"hour":NaN}}]}', "items[0].context.hour"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","context":{"hour":Infinity}}]}', "items[0].context.hour"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","context":{"shuffle":-Infinity}}]}', "items[0].context.shuffle"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","context":{"ts":NaN}}]}', "items[0].context.ts"),
    (b'{"items":[{"user_id":NaN,"track_id":"t000137"}]}', "items[0].user_id"),
    (b'{"items":[{"user_id":"\\ud800","track_id":"t000137"}]}', "items[0].user_id"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","context":{"platform":"\\udfff"}}]}', "items[0].context.platform"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137","\\ud800":1}]}', "items[0]"),  # a key that is not Unicode text
    (b'{"items":[NaN]}', "items[0]"),
    (b'{"items":[{"user_id":"u000042","track_id":"t000137"}],"extra":Infinity}', "extra"),
])
def test_nan_infinity_and_lone_surrogates_are_422_naming_the_field(api, raw, field):
    resp = api.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert field in body["fields"] and field in body["detail"]
    assert all("input" not in e for e in body["errors"])  # never echoed


@pytest.mark.parametrize(("context", "field"), [
    ({"hour": True}, "items[0].context.hour"),
    ({"hour": "21"}, "items[0].context.hour"),
    ({"hour": 21.0}, "items[0].context.hour"),
    ({"shuffle": 1}, "items[0].context.shuffle"),
    ({"shuffle": "true"}, "items[0].context.shuffle"),
    ({"ts": 1768500000}, "items[0].context.ts"),  # seconds since 1970 are not an ISO time
    ({"ts": "9999-01-01T00:00:00Z"}, "items[0].context.ts"),
    ({"ts": (dt.datetime.combine(NIGHT, dt.time(), dt.UTC) + dt.timedelta(hours=24, seconds=1)).isoformat()}, "items[0].context.ts"),
])
def test_types_are_strict_and_a_ts_past_the_cutoff_plus_the_future_bound_is_refused(api, context, field):
    resp = api.post("/v1/predict", json={"items": [{"user_id": "u000001", "track_id": "t000001", "context": context}]})
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["fields"]


def test_a_ts_within_the_future_bound_is_scored(api):
    last = (dt.datetime.combine(NIGHT, dt.time(), dt.UTC) + dt.timedelta(hours=24)).isoformat()  # ingest_max_future_hours
    resp = api.post("/v1/predict", json={"items": [{"user_id": "u000001", "track_id": "t000001", "context": {"ts": last}}]})
    assert resp.status_code == 200, resp.text


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _read_response(s: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def quiet_server(home):
    """A second server with the default batch limit (1,000 items: a 1,024,000-byte body limit) and no reload
    watcher, so that its memory moves only with what a request makes it hold."""
    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    with running([str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0"], env,
                 f"http://127.0.0.1:{port}/healthz") as proc:
        yield proc, port


def test_a_chunked_body_over_the_limit_is_413_before_it_ends_and_is_never_held(quiet_server):
    """Transfer-Encoding: chunked carries no Content-Length: the limit must hold while the body streams in."""
    proc, port = quiet_server
    limit = load_config().serve_max_batch * 1024
    head = (b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b'{"items": [' + b" " * (16 * 1024 - 11)

    def upload(total: int) -> tuple[bytes, int]:
        """Send just past the limit, read the answer (the body's last chunk is never sent), then try to send
        on up to ``total`` bytes: the server has closed the connection by then and never reads them."""
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(head)
            while sent <= limit:
                s.sendall(_chunk(piece))
                sent += len(piece)
            answer = _read_response(s)
            try:
                while sent < total:
                    s.sendall(_chunk(piece * 64))
                    sent += 64 * len(piece)
            except OSError:
                pass
        return answer, sent

    answer, _ = upload(0)  # once, so that the first answer's own allocations are not counted
    assert answer.startswith(b"HTTP/1.1 413") and b"bytes" in answer and b"serve_max_batch" in answer, answer[:300]
    grown = []
    for _ in range(3):
        before = psutil.Process(proc.pid).memory_info().rss
        answer, sent = upload(55 * 1024 * 1024)
        grown.append(psutil.Process(proc.pid).memory_info().rss - before)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert sent < 16 * 1024 * 1024, f"the server read {sent:,} bytes of a body it had refused"
    # a server that held the body would grow by it on every upload; one upload's RSS also moves with the
    # allocator's own arenas (once 1.3 MB in CI, with nothing held), so the least of three is compared
    assert min(grown) <= limit, f"RSS grew by {grown} bytes over three {sent:,}-byte chunked uploads (limit {limit:,})"


def test_a_body_that_is_not_json_is_422(api):
    resp = api.post("/v1/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["fields"]


def test_a_batch_over_the_limit_is_413_and_the_limit_itself_is_served(api):
    item = {"user_id": "u000001", "track_id": "t000001"}
    assert api.post("/v1/predict", json={"items": [item] * MAX_BATCH}).status_code == 200
    resp = api.post("/v1/predict", json={"items": [item] * (MAX_BATCH + 1)})
    assert resp.status_code == 413 and str(MAX_BATCH) in resp.json()["detail"]
    huge = api.post("/v1/predict", json={"items": [item] * 5000})  # refused before it is parsed
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]


def test_a_bundle_dropped_by_a_reload_is_freed_at_once_without_the_garbage_collector(home):
    """A reload swaps the bundle and never unfreezes the collector's objects (skipify.api._frozen: the forked
    workers' imports stay shared), which relies on a bundle holding no reference cycle: once dropped, after
    predictions and a live session, its snapshot, models and reasons are freed by reference counting alone."""
    import gc
    import weakref

    from skipify.api import Service

    service = Service(load_config(home=home, **SCORED_SETTINGS))
    try:
        items = [{"user_id": f"u{i:06d}", "track_id": f"t{i:06d}", "context": {"session_id": "s1"}} for i in range(1, 4)]
        for item in items:
            service.predict([item])
        service.predict(items * 100)
        service.events([{"user_id": "u000001", "track_id": "t000002", "ts": f"{NIGHT}T09:00:00Z", "ms_played": 4_000,
                         "skipped": True, "session_id": "s1"}])
        service.predict([{**items[0], "context": {"session_id": "s1", "ts": f"{NIGHT}T09:05:00Z"}}])
        served = service.served
        held = [weakref.ref(x) for x in (served, served.snapshot, served.snapshot.log, served.served, served.baseline,
                                         served.reasons, *served.nights.values())]
        del served
        gc.disable()
        try:
            service.served = None  # what a reload does to the old bundle (one reference swap)
            alive = [r() for r in held if r() is not None]
        finally:
            gc.enable()
        assert not alive, [type(x).__name__ for x in alive]
    finally:
        service.stop()


def test_a_nights_at_risk_list_finds_each_listeners_rows_in_the_order_the_warehouse_sorts_them():
    """NightAtRisk searches the night's list (sql/serving/at_risk.sql's order, by listener) for a listener's rows:
    DuckDB's order of strings and Polars' binary search agree, case, accents and spaces included."""
    import duckdb

    from skipify.api import NightAtRisk

    users = ["b", "B", "a", "é", "Z", "ä", "a b", "ab", "a", "b", "b", "Ω", "aa"]
    listed = pl.DataFrame({"user_id": users, "rank_in_user": range(1, len(users) + 1)})  # noqa: F841 (read by DuckDB)
    frame = duckdb.connect().execute("select * from listed order by user_id, rank_in_user").pl()
    night = NightAtRisk(frame)
    for user in set(users) | {"never", "", "bb", "A"}:
        assert night.user(user).equals(frame.filter(pl.col("user_id") == user)), user
    assert night.user("b")["rank_in_user"].to_list() == [1, 10, 11]


def test_at_risk_lists_equal_the_nights_table(api, home):
    for day, params in ((NIGHT, {}), (NIGHT - dt.timedelta(days=1), {"date": str(NIGHT - dt.timedelta(days=1))})):
        table = query(home, "SELECT user_id, track_id, rank_in_user, p_dislike, domain FROM scores.dislike_scores "
                            "WHERE run_date = $d AND at_risk ORDER BY user_id, domain, rank_in_user", {"d": day})
        user = table["user_id"][0]
        body = api.get(f"/v1/users/{user}/at-risk", params=params).json()
        mine = table.filter(pl.col("user_id") == user)
        assert body["run_date"] == str(day) and body["n_at_risk"] == mine.height > 0
        assert [t["track_id"] for t in body["tracks"]] == mine["track_id"].to_list()
        assert [t["p_dislike"] for t in body["tracks"]] == pytest.approx(mine["p_dislike"].to_list())
        assert [t["domain"] for t in body["tracks"]] == mine["domain"].to_list() and set(mine["domain"]) <= {"music", "podcast"}
    quiet = api.get("/v1/users/never-seen/at-risk").json()
    assert quiet["n_at_risk"] == 0 and quiet["tracks"] == []
    assert api.get("/v1/users/u000001/at-risk", params={"date": "2025-01-01"}).status_code == 404
    resp = api.get("/v1/users/u000001/at-risk", params={"date": "yesterday"})
    assert resp.status_code == 422 and resp.json()["fields"] == ["date"]


def test_reads_of_older_nights_never_hold_up_health_or_predict(api, home):
    """The night before NIGHT is not in memory (serve_nights_in_memory 1): 60 requests for it at once are
    read by the history worker, one after another, HISTORY_QUEUE at most waiting (the rest 503); /healthz and
    /v1/predict answer while they are still being read (with two test processes on two cores, a queue of 4
    was once read before a predict had its answer)."""
    older = NIGHT - dt.timedelta(days=1)
    table = query(home, "SELECT user_id, track_id FROM scores.dislike_scores WHERE run_date = $d AND at_risk "
                        "ORDER BY user_id, domain, rank_in_user", {"d": older})
    user = table["user_id"][0]
    done: list[tuple[str, int, float]] = []

    def ask(path: str, params: dict | None = None) -> None:
        r = api.get(path, params=params)
        done.append((path, r.status_code, time.perf_counter()))
        if path != "/healthz" and r.status_code == 200:
            assert [t["track_id"] for t in r.json()["tracks"]] == table.filter(pl.col("user_id") == user)["track_id"].to_list()

    burst = [threading.Thread(target=ask, args=(f"/v1/users/{user}/at-risk", {"date": str(older)})) for _ in range(60)]
    for t in burst:
        t.start()
    time.sleep(0.2)
    ask("/healthz")
    resp = api.post("/v1/predict", json={"items": [{"user_id": user, "track_id": "t000001"}]})
    answered = time.perf_counter()
    for t in burst:
        t.join()
    statuses = [code for path, code, _ in done if path != "/healthz"]
    assert resp.status_code == 200 and ("/healthz", 200) in [(p, c) for p, c, _ in done]
    assert set(statuses) == {200, 503} and statuses.count(200) >= HISTORY_QUEUE
    last_read = max(at for path, code, at in done if path != "/healthz" and code == 200)
    assert answered < last_read, "health and predict waited for the older nights' reads"


def test_serve_without_a_model_exits_2_saying_what_to_run(tmp_path):
    env = {**os.environ, "SKIPIFY_HOME": str(tmp_path / "home")}
    for setup in ([], [str(BIN / "skipify"), "migrate"]):
        if setup:
            subprocess.run(setup, env=env, check=True, capture_output=True)
        proc = subprocess.run([str(BIN / "skipify"), "serve", "--port", str(free_port())], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2
        assert ("skipify migrate" in proc.stderr) if not setup else ("skipify train" in proc.stderr), proc.stderr[-500:]
