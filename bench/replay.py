"""Benchmark: the real-time loop on the loopback: one day of plays replayed through a running server.

    $ .venv/bin/python bench/replay.py                         # the demo's warehouse (after `make demo`)
    $ .venv/bin/python bench/replay.py --listeners 1000 --day 2026-03-01

Not timed, in a scratch copy of the warehouse (bench/out/replay/home): the night of the replayed day D
(default: the last whole day of plays) is run there, so that its batch scores exist; then
`skipify serve --as-of D` starts: features as of D's midnight, the server knows nothing of D's plays.

Then, for a sample of listeners (``--listeners``):

1. **habitual**: each of their plays of D asked about with no context and no session (100 pairs a
   request, before any event is sent): the listener's habit, what the API answered before live events;
   **the play's context**: the same with the play's own ts, platform, shuffle, context type and
   reason_start, still no session (what the session's live plays add is the difference to the replay).
2. **replay**, in time order: for each play, POST /v1/predict with its track, ts, context and session
   (the earlier plays of its session are live by then), then POST /v1/events with its outcome; the
   latency of each predict is timed while the events stream in.
3. **throughput**: every play of D (all listeners) posted in batches of ``--batch`` events.

Printed: ROC AUC of the live predictions, of the habitual ones, and of the night's batch scores of D
for the plays whose (listener, track) the night scored (with the live and habitual AUC on those same
plays, and a paired bootstrap interval of live - batch); predict p50 / p99 during the replay; events/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, running  # noqa: E402

FIELDS = ("user_id", "track_id", "ts", "ms_played", "skipped", "feedback", "reason_start", "reason_end", "session_id",
          "session_position", "context_type", "platform", "shuffle")
CONTEXT = ("platform", "shuffle", "context_type", "reason_start", "session_id", "session_position")


def prepare(source: Path, home: Path, day: dt.date | None) -> dt.date:
    """Copy the warehouse and run the night of the replayed day there (its batch scores)."""
    from skipify.config import load_config
    from skipify.nightly import run_night
    from skipify.warehouse import connect

    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(source, home, ignore=shutil.ignore_patterns(".tmp", "live"))
    cfg = load_config(home=home)
    if day is None:
        con = connect(cfg, read_only=True)
        try:
            last = con.execute("SELECT max(ts) FROM raw.events").fetchone()[0]
        finally:
            con.close()
        day = last.astimezone(dt.UTC).date() - dt.timedelta(days=1)  # the last whole day
    run_night(day, cfg)
    return day


def read_day(home: Path, day: dt.date, listeners: int, seed: int) -> tuple[list[dict], np.ndarray, dict, list[dict]]:
    """(the sample's plays of ``day`` in time order, their labels, the night's scores {(user, track): p}, every play of the day)."""
    from skipify.config import load_config
    from skipify.features import load_macros
    from skipify.warehouse import connect

    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    con = connect(load_config(home=home), read_only=True)
    try:
        every = con.execute(f"SELECT {', '.join(FIELDS)} FROM raw.events WHERE ts >= $a AND ts < $b ORDER BY ts, user_id, track_id",
                            {"a": start, "b": start + dt.timedelta(days=1)}).pl()
        users = con.execute("SELECT DISTINCT user_id FROM raw.events WHERE ts >= $a AND ts < $b ORDER BY hash(user_id, $s) LIMIT $n",
                            {"a": start, "b": start + dt.timedelta(days=1), "s": seed, "n": listeners}).pl()
        load_macros(con)  # the label as the features define it (the night removed D's feature rows)
        labels = con.execute("SELECT user_id, track_id, ts, label FROM fx_events($a, $b, $label_domains, $label_abandon_ms)",
                             {"a": start, "b": start + dt.timedelta(days=1), **load_config(home=home).label_params()}).pl()
        night = con.execute("SELECT user_id, track_id, p_dislike FROM scores.dislike_scores WHERE run_date = $d", {"d": day}).fetchall()
    finally:
        con.close()
    mine = every.join(users, on="user_id").join(labels, on=["user_id", "track_id", "ts"], how="left").sort("ts", "user_id", "track_id")
    return (_as_events(mine.drop("label")), mine["label"].to_numpy(), {(u, t): p for u, t, p in night}, _as_events(every))


def _as_events(frame) -> list[dict]:
    """Plays as a client sends them: JSON values, ts as ISO 8601 with its zone, nulls left out."""
    out = []
    for row in frame.iter_rows(named=True):
        row["ts"] = row["ts"].astimezone(dt.UTC).isoformat()
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def post(conn: http.client.HTTPConnection, path: str, body: dict, status: int) -> dict:
    conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status != status:
        raise SystemExit(f"{path} failed ({resp.status}): {payload[:500]!r}")
    return json.loads(payload)


def main() -> None:
    from skipify.config import load_config
    from skipify.metrics import paired_bootstrap_auc_diff, roc_auc

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=None, help="the warehouse to copy [default: SKIPIFY_HOME]")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "replay")
    ap.add_argument("--day", type=dt.date.fromisoformat, default=None, help="the day to replay [the last whole day of plays]")
    ap.add_argument("--listeners", type=int, default=1000, help="listeners whose plays are replayed one by one")
    ap.add_argument("--batch", type=int, default=500, help="events per request in the throughput run")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    home = a.work / "home"
    t0 = time.perf_counter()
    day = prepare(a.home or load_config().home, home, a.day)
    plays, y, night, every = read_day(home, day, a.listeners, a.seed)
    print(f"set up (not timed, {time.perf_counter() - t0:.0f}s): a copy of the warehouse, the night of {day}; "
          f"{len(plays):,} plays of {a.listeners:,} listeners to replay, {len(every):,} plays that day", flush=True)

    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_SERVE_ACCESS_LOG": "false", "SKIPIFY_LOG_LEVEL": "WARNING"}
    cmd = [str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0", "--as-of", str(day)]
    with running(cmd, env, f"http://127.0.0.1:{port}/healthz", timeout_s=600):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        health = json.loads((conn.request("GET", "/healthz"), conn.getresponse().read())[1])
        print(f"skipify serve --as-of {day}: version {health['model_version']} ({health['served_model']} served), "
              f"features as of {health['features_as_of']}", flush=True)
        habitual = np.concatenate([
            [p["p_dislike"] for p in post(conn, "/v1/predict", {"items": [{"user_id": e["user_id"], "track_id": e["track_id"]}
                                                                          for e in plays[i:i + 100]]}, 200)["predictions"]]
            for i in range(0, len(plays), 100)])
        # the play's own context (its ts, platform, reason_start ...) but no session: asked before any event is sent
        context_only = np.concatenate([
            [p["p_dislike"] for p in post(conn, "/v1/predict", {"items": [
                {"user_id": e["user_id"], "track_id": e["track_id"],
                 "context": {"ts": e["ts"], **{k: e[k] for k in CONTEXT if k in e and k not in ("session_id", "session_position")}}}
                for e in plays[i:i + 100]]}, 200)["predictions"]]
            for i in range(0, len(plays), 100)])
        live, latency, in_session = [], [], 0
        t_replay = time.perf_counter()
        for e in plays:
            item = {"user_id": e["user_id"], "track_id": e["track_id"],
                    "context": {"ts": e["ts"], **{k: e[k] for k in CONTEXT if k in e}}}
            t1 = time.perf_counter()
            pred = post(conn, "/v1/predict", {"items": [item]}, 200)["predictions"][0]
            latency.append(time.perf_counter() - t1)
            live.append(pred["p_dislike"])
            in_session += pred["session"] is not None
            post(conn, "/v1/events", {"events": [e]}, 202)
        replay_s = time.perf_counter() - t_replay
        t1 = time.perf_counter()
        sent = sum(post(conn, "/v1/events", {"events": every[i:i + a.batch]}, 202)["accepted"] for i in range(0, len(every), a.batch))
        events_s = time.perf_counter() - t1
        conn.close()

    live = np.asarray(live)
    lat = np.sort(np.asarray(latency)) * 1e3
    scored = np.array([(e["user_id"], e["track_id"]) in night for e in plays])
    batch = np.array([night.get((e["user_id"], e["track_id"]), np.nan) for e in plays])
    print(f"\nreplayed {len(plays):,} plays of {day} in {replay_s:.1f}s (predict + event each); {in_session:,} predictions "
          f"knew earlier plays of their session")
    print(f"  ROC AUC, all {len(plays):,} plays:       live {roc_auc(y, live):.4f}   the play's context, no session "
          f"{roc_auc(y, context_only):.4f}   habitual context only {roc_auc(y, habitual):.4f}")
    session_gain = paired_bootstrap_auc_diff(y, live, context_only, seed=a.seed)
    print(f"  what the live session adds (live - the play's context without it): {session_gain['diff']:+.4f} "
          f"[{session_gain['lo']:+.4f}, {session_gain['hi']:+.4f}]")
    out = {"day": str(day), "plays": len(plays), "in_session": in_session, "live_auc": roc_auc(y, live),
           "context_only_auc": roc_auc(y, context_only), "habitual_auc": roc_auc(y, habitual), "session_gain": session_gain,
           "scored_by_night": int(scored.sum())}
    if scored.sum() and len(set(y[scored])) == 2:
        ys = y[scored]
        diff = paired_bootstrap_auc_diff(ys, live[scored], batch[scored], seed=a.seed)
        print(f"  ROC AUC, the {scored.sum():,} plays the night scored: live {roc_auc(ys, live[scored]):.4f}   "
              f"night's batch {roc_auc(ys, batch[scored]):.4f}   habitual {roc_auc(ys, habitual[scored]):.4f}   "
              f"live - batch {diff['diff']:+.4f} [{diff['lo']:+.4f}, {diff['hi']:+.4f}]")
        out.update(batch_auc=roc_auc(ys, batch[scored]), live_auc_scored=roc_auc(ys, live[scored]), live_minus_batch=diff)
    p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
    print(f"  predict during the replay: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {lat[-1]:.1f} ms ({len(lat):,} requests)")
    print(f"  events: {sent:,} accepted in {events_s:.1f}s, {sent / events_s:,.0f} events/s (batches of {a.batch})")
    out.update(predict_p50_ms=p50, predict_p99_ms=p99, events_per_s=sent / events_s, at=dt.datetime.now(dt.UTC).isoformat())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
