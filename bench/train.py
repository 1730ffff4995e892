"""Benchmark: `skipify train` on a generated world, per-stage seconds and peak memory.

    $ .venv/bin/python bench/train.py                  # the default demo world (about 1M plays)
    $ .venv/bin/python bench/train.py --users 2000     # smaller

In a scratch SKIPIFY_HOME under bench/out/ (or --work): generate and ingest (not timed), then one
`train` in its own process, which prints its stage times, its test metrics and its peak memory.
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


def stage_setup(users: int, tracks: int) -> dict:
    from skipify.config import load_config
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths

    cfg = load_config()
    s = generate(cfg.world_dir, WorldParams(users=users, tracks=tracks, days=cfg.world_days, seed=cfg.seed, start=cfg.world_start))
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    return {"plays": s["n_events"]}


def stage_train() -> dict:
    from skipify.train import train

    t0 = time.perf_counter()
    r = train(device="auto")
    s = r["evaluation"]["summary"]
    return {"seconds": time.perf_counter() - t0, "stages": r["stages"], "summary": s, "promoted": r["promoted"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=None, help="[config world_users]")
    ap.add_argument("--tracks", type=int, default=None, help="[config world_tracks]")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--stage", choices=["setup", "train"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.stage:
        r = stage_setup(a.users, a.tracks) if a.stage == "setup" else stage_train()
        r["peak_mb"] = peak_mb()
        print(json.dumps(r, default=float))
        return

    from skipify.config import load_config

    cfg = load_config()
    users, tracks = a.users or cfg.world_users, a.tracks or cfg.world_tracks
    work = a.work / "train"
    shutil.rmtree(work, ignore_errors=True)
    env = {**os.environ, "SKIPIFY_HOME": str(work / "home"), "SKIPIFY_LOG_LEVEL": "WARNING"}
    setup = run_stage(__file__, ["--stage", "setup", "--users", str(users), "--tracks", str(tracks)], env)
    r = run_stage(__file__, ["--stage", "train"], env)
    s = r["summary"]
    print(f"{setup['plays']:,} plays ({users:,} users, {tracks:,} tracks); train in {r['seconds']:.1f}s, peak {r['peak_mb']:,.0f} MiB")
    for stage, sec in r["stages"].items():
        print(f"  {stage:<10} {sec:>8.1f}s")
    print(f"  test rows {s['n_test_rows']:,}: deep ROC AUC {s['deep_roc_auc']:.4f}, LightGBM {s['lightgbm_roc_auc']:.4f}, "
          f"oracle {s['oracle_roc_auc']:.4f}; lift share deep {s['deep_lift_share']:.3f}, LightGBM {s['lightgbm_lift_share']:.3f}; "
          f"{'promoted' if r['promoted'] else 'not promoted'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
