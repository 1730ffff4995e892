"""Benchmark: the API's single-pair prediction in process, without HTTP: latency (p50, p99) of `Service.predict`
for one pair, then a cProfile of more such requests by cumulative time: where a request's milliseconds go.

    $ SKIPIFY_HOME=/some/home .venv/bin/python bench/pair_profile.py             # a warehouse with a model and a night
    $ SKIPIFY_HOME=/some/home .venv/bin/python bench/pair_profile.py --timed 1000 --profiled 300 --top 40

Pairs are drawn from the latest night's scores (seeded), each with an hour and a platform as a caller sends them;
the first ``--warm`` requests are not counted. Run it alone: two cores.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", type=int, default=50)
    ap.add_argument("--timed", type=int, default=500)
    ap.add_argument("--profiled", type=int, default=300)
    ap.add_argument("--top", type=int, default=45, help="functions shown, by cumulative time")
    a = ap.parse_args()

    from skipify.api import Context, Service
    from skipify.config import load_config
    from skipify.warehouse import connect

    cfg = load_config()
    service = Service(cfg)
    con = connect(cfg, read_only=True)
    try:
        pairs = con.execute("SELECT user_id, track_id FROM scores.latest_dislike_scores ORDER BY hash(user_id, track_id, $s) LIMIT $n",
                            {"s": 0, "n": 5_000}).fetchall()
    finally:
        con.close()
    rng = random.Random(0)
    needed = a.warm + a.timed + a.profiled
    pairs = (pairs * (needed // max(len(pairs), 1) + 1))[:needed]

    def one(user_id: str, track_id: str) -> None:
        context = Context(hour=rng.randrange(24), platform=rng.choice(["mobile", "desktop", "tablet"])).model_dump()
        service.predict([{"user_id": user_id, "track_id": track_id, **context}])

    for u, t in pairs[:a.warm]:
        one(u, t)
    ms = []
    for u, t in pairs[a.warm:a.warm + a.timed]:
        t0 = time.perf_counter()
        one(u, t)
        ms.append((time.perf_counter() - t0) * 1000)
    print(f"{a.timed} single pairs in process: p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, "
          f"mean {np.mean(ms):.1f} ms")
    profile = cProfile.Profile()
    profile.enable()
    for u, t in pairs[a.warm + a.timed:]:
        one(u, t)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(a.top)
    print(f"{a.profiled} more under cProfile (its overhead included):")
    print(out.getvalue())


if __name__ == "__main__":
    main()
