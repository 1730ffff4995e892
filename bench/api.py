"""Benchmark: `skipify serve` on the loopback, a bounded load run: latency (p50, p99) and requests/s
for single-pair and 100-pair requests, then single-pair requests from concurrent clients; once per
number of workers asked for (`skipify serve --workers N`).

    $ .venv/bin/python bench/api.py                       # the demo's warehouse (after `make demo`)
    $ .venv/bin/python bench/api.py --workers 1 2         # one worker, then two, same requests
    $ .venv/bin/python bench/api.py --home /some/home     # another warehouse with a model and a night

Without a trained model and a published night in the warehouse, a demo-sized world is set up first
in bench/out/api (not timed: generate, ingest, a quick model, one night). The server runs in its
own process with the access log off and no reload watcher; the client keeps one HTTP connection per
thread (http.client), sends a fixed number of requests and stops. Each connection first asks
/healthz which worker holds it: the kernel hands a new connection to whichever worker accepts first,
so the split of the concurrent clients over the workers is printed with their figures. Pairs are drawn from the latest
night's scored pairs, each request with a context (hour and platform) as a caller would send.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, running  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from common import memory_mb  # noqa: E402


def has_model_and_night(home: Path) -> bool:
    from skipify.api import read_marks
    from skipify.config import load_config

    try:
        marks = read_marks(load_config(home=home))
    except Exception:
        return False
    return marks.version is not None and marks.night is not None


def set_up(home: Path) -> None:
    """A demo-sized world with a quickly trained model and one published night (not timed)."""
    from skipify.config import load_config
    from skipify.features import default_as_of
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths
    from skipify.models.deep import DeepConfig
    from skipify.models.lgbm import LGBMConfig
    from skipify.nightly import run_night
    from skipify.train import train

    cfg = load_config(home=home)
    generate(cfg.world_dir, WorldParams(users=cfg.world_users, tracks=cfg.world_tracks, days=cfg.world_days, seed=cfg.seed,
                                        start=cfg.world_start))
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    night = default_as_of(cfg)
    train(night, cfg=cfg, device="cpu", configs={"deep": DeepConfig(epochs=1, seed=cfg.seed), "lightgbm": LGBMConfig(max_rounds=100)})
    run_night(night, cfg)


def sample_pairs(home: Path, n: int, seed: int) -> list[dict]:
    from skipify.config import load_config
    from skipify.warehouse import connect

    con = connect(load_config(home=home), read_only=True)
    try:
        pairs = con.execute("SELECT user_id, track_id FROM scores.latest_dislike_scores ORDER BY hash(user_id, track_id, $s) LIMIT $n",
                            {"s": seed, "n": n}).fetchall()
    finally:
        con.close()
    rng = random.Random(seed)
    platforms = ["ios", "android", "web", "desktop"]
    return [{"user_id": u, "track_id": t, "context": {"hour": rng.randrange(24), "platform": rng.choice(platforms)}} for u, t in pairs]


def worker_of(conn: http.client.HTTPConnection) -> int:
    conn.request("GET", "/healthz")
    return json.loads(conn.getresponse().read())["worker"]


def each_worker(port: int, workers: int, first: Callable[[http.client.HTTPConnection], None] | None = None) -> set[int]:
    """New connections until ``workers`` different workers have answered /healthz (the kernel hands each connection to
    whichever worker accepts it); ``first(conn)`` on each worker's first connection. Their process ids."""
    seen: set[int] = set()
    while len(seen) < workers:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        worker = worker_of(conn)
        if worker not in seen:
            if first is not None:
                first(conn)
            seen.add(worker)
        conn.close()
    return seen


def timed_requests(port: int, bodies: list[bytes], workers: list[int] | None = None) -> list[float]:
    """Send the bodies one after another over one keep-alive connection; seconds per request. The
    worker that holds the connection is appended to ``workers``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if workers is not None:
        workers.append(worker_of(conn))
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        payload = resp.read()
        out.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise SystemExit(f"request failed ({resp.status}): {payload[:500]!r}")
    conn.close()
    return out


def report(name: str, lat: list[float], wall: float, pairs_per_request: int) -> dict:
    lat = sorted(lat)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3  # noqa: E731
    r = {"case": name, "requests": len(lat), "p50_ms": p(0.50), "p99_ms": p(0.99), "max_ms": lat[-1] * 1e3,
         "mean_ms": statistics.fmean(lat) * 1e3, "requests_per_s": len(lat) / wall, "pairs_per_s": len(lat) * pairs_per_request / wall}
    print(f"  {name:<34} {r['requests']:>6,} req  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
          f"max {r['max_ms']:6.1f} ms  {r['requests_per_s']:7.1f} req/s  {r['pairs_per_s']:9,.0f} pairs/s", flush=True)
    return r


@contextlib.contextmanager
def serving(home: Path, workers: int) -> Iterator[tuple[int, subprocess.Popen, float]]:
    """`skipify serve --workers N` started, every worker up: (port, process, seconds to get there); stopped after."""
    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_SERVE_ACCESS_LOG": "false", "SKIPIFY_LOG_LEVEL": "WARNING"}
    cmd = [str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0", "--workers", str(workers)]
    t0 = time.perf_counter()
    with running(cmd, env, f"http://127.0.0.1:{port}/healthz", timeout_s=600) as proc:
        each_worker(port, workers)  # every worker up, not only the first
        yield port, proc, time.perf_counter() - t0


def run_cases(home: Path, workers: int, pairs: list[dict], a: argparse.Namespace) -> dict:
    """Start `skipify serve --workers N`, run the three cases, stop it; the figures."""
    rng = random.Random(a.seed)
    with serving(home, workers) as (port, proc, started):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/healthz")
        health = json.loads(conn.getresponse().read())
        conn.close()
        print(f"skipify serve --workers {workers}: version {health['model_version']}, features as of {health['features_as_of']}, "
              f"up in {started:.1f}s (process start, imports, models and snapshot), {len(pairs):,} pairs to draw from", flush=True)

        def bodies(n: int, size: int) -> list[bytes]:
            return [json.dumps({"items": rng.sample(pairs, size)}).encode() for _ in range(n)]

        for _ in range(workers):  # warm-up, on as many connections as workers
            timed_requests(port, bodies(50, 1) + bodies(10, 100))
        results = []
        t0 = time.perf_counter()
        lat = timed_requests(port, bodies(a.single, 1))
        results.append(report("1 pair, one client", lat, time.perf_counter() - t0, 1))
        t0 = time.perf_counter()
        lat = timed_requests(port, bodies(a.batches, 100))
        results.append(report("100 pairs, one client", lat, time.perf_counter() - t0, 100))

        work = [bodies(a.per_client, 1) for _ in range(a.clients)]
        lats: list[list[float]] = [[] for _ in range(a.clients)]
        held: list[int] = []
        threads = [threading.Thread(target=lambda i=i: lats[i].extend(timed_requests(port, work[i], held))) for i in range(a.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results.append(report(f"1 pair, {a.clients} concurrent clients", [x for l in lats for x in l], time.perf_counter() - t0, 1))
        split = sorted((held.count(w) for w in set(held)), reverse=True)
        print(f"  the {a.clients} clients' connections over the workers: {split}; machine: {os.cpu_count()} cores", flush=True)
        memory = memory_of(proc.pid)
    return {"workers": workers, "started_s": started, **memory, "client_split": split, "results": results}


def memory_of(pid: int) -> dict:
    """The server's memory, supervisor and workers: RSS (shared pages counted in each process) and PSS (split
    among them: the sum is what they take together), per process and summed; printed."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    # past one worker: the supervisor (the first), then its workers and multiprocessing's resource tracker, if any
    each = [{**memory_mb(p.pid), "worker": len(procs) == 1 or (i > 0 and "resource_tracker" not in " ".join(p.cmdline()))}
            for i, p in enumerate(procs)]
    total = {k: sum(m[k] for m in each) for k in ("rss", "pss", "anonymous")}
    print(f"  memory, supervisor and workers: RSS {total['rss']:,.0f} MiB, PSS {total['pss']:,.0f} MiB, anonymous "
          f"{total['anonymous']:,.0f} MiB; per process PSS " + ", ".join(f"{m['pss']:,.0f}" for m in each) + " MiB", flush=True)
    return {"rss_mb": total["rss"], "pss_mb": total["pss"], "anonymous_mb": total["anonymous"], "processes": each}


def start_only(home: Path, workers: int) -> dict:
    """Start `skipify serve --workers N`, wait for every worker's first answer, read the memory; past one worker,
    kill one (SIGKILL) and time until the worker started in its place answers; stop."""
    with serving(home, workers) as (port, proc, started):
        body = json.dumps({"items": sample_pairs(home, 1, 0)})

        def predict(conn: http.client.HTTPConnection) -> None:
            conn.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
            conn.getresponse().read()

        workers_seen = each_worker(port, workers, predict)  # one prediction by every worker: what a request touches, in each
        print(f"skipify serve --workers {workers}: every worker up in {started:.1f}s", flush=True)
        out = {"workers": workers, "started_s": started, **memory_of(proc.pid)}
        if workers > 1:
            out["restart_s"] = restarted(port, workers_seen)
            print(f"  a worker killed: the one started in its place answered in {out['restart_s']:.1f}s", flush=True)
        return out


def restarted(port: int, before: set[int]) -> float:
    """Kill one of the workers ``before`` (SIGKILL); seconds until a worker not among them answers."""
    os.kill(min(before), signal.SIGKILL)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 600:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            if worker_of(conn) not in before:
                return time.perf_counter() - t0
        except (OSError, http.client.HTTPException):  # the killed worker's accepted connection, reset
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise SystemExit("no worker started in place of the one killed within 600 s")


def main() -> None:
    from skipify.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=None, help="warehouse [default: SKIPIFY_HOME, else bench/out/api]")
    ap.add_argument("--workers", type=int, nargs="+", default=[1], help="server processes: one run per number given")
    ap.add_argument("--single", type=int, default=2000, help="single-pair requests")
    ap.add_argument("--batches", type=int, default=300, help="100-pair requests")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients in the last case")
    ap.add_argument("--per-client", type=int, default=500, help="single-pair requests per concurrent client")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start-only", action="store_true", help="start the server, read its memory and start-up time, stop "
                    "(no requests but one): for large warehouses")
    a = ap.parse_args()

    home = a.home or load_config().home
    if not has_model_and_night(home):
        home = ROOT / "bench" / "out" / "api"
        if not has_model_and_night(home):
            shutil.rmtree(home, ignore_errors=True)
            t0 = time.perf_counter()
            print(f"no model and night in the warehouse: setting up a demo-sized world in {home} (not timed) ...", flush=True)
            set_up(home)
            print(f"  set up in {time.perf_counter() - t0:.0f}s", flush=True)
    if a.start_only:
        runs = [start_only(home, w) for w in a.workers]
        # one worker runs alone; past one, a supervisor (process 0) starts them: what a worker adds is the whole server's
        # PSS against the run with one worker fewer (against the lone worker for two: the supervisor included)
        lone = next((r["pss_mb"] for r in reversed(runs) if r["workers"] == 1), None)  # the latest: the first may build files
        by_n = {r["workers"]: r["pss_mb"] for r in runs}
        for n in sorted(by_n):
            if n > 1 and lone and n - 1 in by_n:
                added = by_n[n] - by_n[n - 1]
                print(f"  worker {n} adds {added:,.0f} MiB (PSS of the whole server, {n} workers against {n - 1}): "
                      f"{added / lone:.2f} x the lone worker's {lone:,.0f} MiB")
        print(json.dumps({"runs": runs, "at": dt.datetime.now(dt.UTC).isoformat()}))
        return
    pairs = sample_pairs(home, 20_000, a.seed)
    runs = [run_cases(home, w, pairs, a) for w in a.workers]
    print(json.dumps({"runs": runs, "at": dt.datetime.now(dt.UTC).isoformat()}))


if __name__ == "__main__":
    main()
