"""Benchmark: the feature build, per table, against one DuckDB GROUP BY scan of the same plays.

    $ .venv/bin/python bench/features.py                        # 1M plays
    $ .venv/bin/python bench/features.py --events 1000000 10000000

For each size, in a scratch SKIPIFY_HOME under bench/out/ (or --work), each stage in its own process:

* setup     - generate a world (users = events / 90) and ingest it (not part of the figures)
* features  - `build_features` from scratch up to two days before the end (the last day is a few
              sessions running past midnight): seconds per table, total, peak memory
* nightly   - then one more full day, as a nightly run builds it (incremental): its ratio to the
              whole build is what a night costs against history
* read      - the view features.training_rows joined in full (each play to its family rows), summed
              over a column of each family: what training pays to read the rows
* sequences - (1M only, or --sequences) `load_rows(sequences=True)`: the training rows in Polars with
              both sequences gathered from their anchors (what training reads; the lists are not stored)
* floor     - one `SELECT user_id, count(*), sum(...) FROM raw.events GROUP BY user_id` over the same plays
* text      - (1M only, or --text) encoding every track text with MiniLM: texts/s

DuckDB's memory limit and threads come from the configuration (SKIPIFY_DUCKDB_MEMORY_LIMIT, ..._THREADS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from common import peak_mb, run_stage

ROOT = Path(__file__).resolve().parents[1]


def stage_setup(out: Path, events: int) -> dict:
    from skipify.config import load_config
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths

    users = max(100, events // 90)
    s = generate(out, WorldParams(users=users, tracks=max(100, users // 2), days=60, seed=1))
    t0 = time.perf_counter()
    ingest_paths([out / "landing"], cfg=load_config())
    return {"rows": s["n_events"], "seconds": time.perf_counter() - t0}


def stage_features(extra_days: int) -> dict:
    """Build from scratch up to the last day but ``extra_days``; then ``extra_days`` = 1 is the nightly step."""
    import datetime as dt

    from skipify.config import load_config
    from skipify.features import build_features, default_as_of

    cfg = load_config()
    as_of = default_as_of(cfg) - dt.timedelta(days=extra_days)
    t0 = time.perf_counter()
    r = build_features(as_of, cfg, with_text=False)
    return {"seconds": time.perf_counter() - t0, "tables": r.seconds, "rows": r.rows.get("labels", 0)}


def stage_read() -> dict:
    from skipify.catalogue import catalogue
    from skipify.config import load_config
    from skipify.sequences import SEQUENCES
    from skipify.warehouse import connect

    anchors = {c: seq.anchor for seq in SEQUENCES.values() for c in seq.columns}
    first = {}
    for f in catalogue().values():  # one column of each family (a sequence's: its anchor)
        first.setdefault(f.source, anchors.get(f.name, f.name))
    con = connect(load_config(), read_only=True)
    t0 = time.perf_counter()
    sums = ", ".join(f"count({c})" for c in first.values())
    n = con.execute(f"SELECT count(*), {sums} FROM features.training_rows").fetchone()[0]
    return {"seconds": time.perf_counter() - t0, "rows": n}


def stage_sequences() -> dict:
    from skipify.config import load_config
    from skipify.data import load_rows

    t0 = time.perf_counter()
    rows = load_rows(load_config(), sequences=True)
    return {"seconds": time.perf_counter() - t0, "rows": rows.height,
            "values": int(rows["h_track_ids"].list.len().sum() + rows["hs_track_ids"].list.len().sum())}


def stage_floor() -> dict:
    from skipify.config import load_config
    from skipify.warehouse import connect

    con = connect(load_config(), read_only=True)
    t0 = time.perf_counter()
    n = con.execute(
        "SELECT count(*) FROM (SELECT user_id, count(*), sum(ms_played), sum((ms_played < 30000)::int) "
        "FROM raw.events GROUP BY user_id)"
    ).fetchone()[0]
    return {"seconds": time.perf_counter() - t0, "groups": n}


def stage_text() -> dict:
    from skipify.config import load_config
    from skipify.text import embed_tracks

    t0 = time.perf_counter()
    n = embed_tracks(load_config())
    return {"seconds": time.perf_counter() - t0, "texts": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--text", action="store_true", help="also time text embeddings above 1M plays")
    ap.add_argument("--sequences", action="store_true", help="also time load_rows with the sequences above 1M plays")
    ap.add_argument("--stage", choices=["setup", "features", "nightly", "read", "sequences", "floor", "text"], help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.stage:  # child process
        r = {"setup": lambda: stage_setup(a.out, a.events[0]), "features": lambda: stage_features(2),
             "nightly": lambda: stage_features(1), "read": stage_read, "sequences": stage_sequences, "floor": stage_floor, "text": stage_text}[a.stage]()
        r["peak_mb"] = peak_mb()
        print(json.dumps(r))
        return

    for n in a.events:
        work = a.work / f"features_{n}"
        shutil.rmtree(work, ignore_errors=True)
        env = {**os.environ, "SKIPIFY_HOME": str(work / "home"), "SKIPIFY_LOG_LEVEL": "WARNING"}
        args = ["--out", str(work / "world"), "--events", str(n)]
        setup = run_stage(__file__, ["--stage", "setup", *args], env)
        feats = run_stage(__file__, ["--stage", "features", *args], env)
        nightly = run_stage(__file__, ["--stage", "nightly", *args], env)
        read = run_stage(__file__, ["--stage", "read", *args], env)
        # the training rows with their lists: 43M list values at 1M plays, 2.7 GiB; at 10M they do not fit in 24 GiB
        seqs = run_stage(__file__, ["--stage", "sequences", *args], env) if n <= 1_000_000 or a.sequences else None
        floor = run_stage(__file__, ["--stage", "floor", *args], env)
        print(f"\n{setup['rows']:,} plays (ingest {setup['seconds']:.1f}s); floor: GROUP BY user_id "
              f"{floor['seconds']:.2f}s ({floor['groups']:,} users)")
        print(f"  {'table':<28} {'seconds':>8} {'x floor':>9}")
        for table, sec in feats["tables"].items():
            print(f"  features.{table:<19} {sec:>8.2f} {sec / floor['seconds']:>9.1f}")
        total = feats["seconds"]
        print(f"  {'whole build':<28} {total:>8.2f} {total / floor['seconds']:>9.1f}   peak {feats['peak_mb']:,.0f} MiB")
        print(f"  {'next night (one day)':<28} {nightly['seconds']:>8.2f} {nightly['seconds'] / floor['seconds']:>9.1f}   "
              f"{nightly['rows']:,} rows, peak {nightly['peak_mb']:,.0f} MiB")
        print(f"  {'next night / whole build':<28} {nightly['seconds'] / total:>8.3f}")
        print(f"  {'read training_rows (joins)':<28} {read['seconds']:>8.2f} {read['seconds'] / floor['seconds']:>9.1f}   "
              f"{read['rows']:,} rows, peak {read['peak_mb']:,.0f} MiB")
        if seqs:
            print(f"  {'load_rows with sequences':<28} {seqs['seconds']:>8.2f} {seqs['seconds'] / floor['seconds']:>9.1f}   "
                  f"{seqs['values']:,} plays in lists, peak {seqs['peak_mb']:,.0f} MiB")
        if n <= 1_000_000 or a.text:
            text = run_stage(__file__, ["--stage", "text", *args], env)
            rate = text["texts"] / text["seconds"] if text["seconds"] else 0
            print(f"  text embeddings: {text['texts']:,} texts in {text['seconds']:.1f}s ({rate:,.0f} texts/s incl. model load), "
                  f"peak {text['peak_mb']:,.0f} MiB")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
