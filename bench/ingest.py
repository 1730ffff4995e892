"""Benchmark: generate and ingest, rows/s and peak memory, against DuckDB's own floor.

    $ .venv/bin/python bench/ingest.py                         # 1M events
    $ .venv/bin/python bench/ingest.py --events 1000000 10000000

For each size, in a scratch SKIPIFY_HOME under bench/out/ (or --work), every stage runs in its own
process so that its peak memory (max RSS) is its own:

* generate  - `skipify generate` of a world with about that many events (users = events / 90)
* ingest    - `skipify ingest` of the world's landing folder (validation, quarantine, de-dup, one commit)
* floor     - DuckDB alone: CREATE TABLE AS SELECT * FROM read_parquet(<the same event files>), into a
              DuckDB file and into a DuckLake table like ours; what ingest costs over plain loading
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


def stage_generate(out: Path, events: int) -> dict:
    from skipify.generate import WorldParams, generate

    users = max(100, events // 90)
    t0 = time.perf_counter()
    s = generate(out, WorldParams(users=users, tracks=max(100, users // 2), days=60, seed=1))
    return {"seconds": time.perf_counter() - t0, "rows": s["n_events"], "oracle_roc_auc": s["oracle_roc_auc"]}


def stage_ingest(out: Path) -> dict:
    from skipify.config import load_config
    from skipify.ingest import ingest_paths

    t0 = time.perf_counter()
    reports = ingest_paths([out / "landing"], cfg=load_config())
    rows = sum(r.rows_read for r in reports if r.table_name == "raw.events")
    return {"seconds": time.perf_counter() - t0, "rows": rows, "quarantined": sum(r.rows_quarantined for r in reports)}


def stage_floor(out: Path, target: str) -> dict:
    import duckdb

    from skipify.config import load_config
    from skipify.warehouse import connect

    glob = str(out / "landing" / "events" / "*.parquet")
    cfg = load_config()
    if target == "duckdb":
        path = out / "floor.duckdb"
        path.unlink(missing_ok=True)
        con = duckdb.connect(str(path), config={"threads": cfg.duckdb_threads, "memory_limit": cfg.duckdb_memory_limit})
        t0 = time.perf_counter()
        con.execute("CREATE TABLE events AS SELECT * FROM read_parquet($g)", {"g": glob})
    else:
        con = connect(cfg)
        con.execute("CREATE SCHEMA IF NOT EXISTS bench")
        con.execute("DROP TABLE IF EXISTS bench.floor_events")
        t0 = time.perf_counter()
        con.execute("CREATE TABLE bench.floor_events AS SELECT * FROM read_parquet($g)", {"g": glob})
    rows = con.execute("SELECT count(*) FROM " + ("events" if target == "duckdb" else "bench.floor_events")).fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--stage", choices=["generate", "ingest", "floor-duckdb", "floor-lake"], help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.stage:  # child process: one stage, print its figures as JSON
        if a.stage == "generate":
            r = stage_generate(a.out, a.events[0])
        elif a.stage == "ingest":
            r = stage_ingest(a.out)
        else:
            r = stage_floor(a.out, a.stage.split("-")[1])
        r["peak_mb"] = peak_mb()
        print(json.dumps(r))
        return

    print(f"{'events':>11} {'stage':<13} {'rows':>11} {'seconds':>8} {'rows/s':>11} {'peak MiB':>9}  note")
    for n in a.events:
        work = a.work / f"ingest_{n}"
        shutil.rmtree(work, ignore_errors=True)
        env = {**os.environ, "SKIPIFY_HOME": str(work / "home"), "SKIPIFY_LOG_LEVEL": "WARNING"}
        world = work / "world"
        results = {}
        for stage in ("generate", "ingest", "floor-duckdb", "floor-lake"):
            r = run_stage(__file__, ["--stage", stage, "--out", str(world), "--events", str(n)], env)
            results[stage] = r
            note = ""
            if stage == "generate":
                note = f"oracle AUC {r['oracle_roc_auc']:.4f}"
            elif stage == "ingest":
                note = f"quarantined {r['quarantined']}"
            else:
                note = f"ingest / floor = {results['ingest']['seconds'] / r['seconds']:.1f}x"
            print(f"{n:>11,} {stage:<13} {r['rows']:>11,} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>11,.0f} {r['peak_mb']:>9,.0f}  {note}", flush=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
