"""Benchmark: one night (`skipify nightly`) at a given size, per-stage seconds, peak memory, throughput.

    $ .venv/bin/python bench/nightly.py                                   # the reference size (slow)
    $ .venv/bin/python bench/nightly.py --users 11000 --tracks 5500 --events-per-user-day 1.7 --candidates 60
    $ .venv/bin/python bench/nightly.py --keep --work /tmp/w    # then: --reuse --work /tmp/w, the night alone again

Reference size (issue 5): 100,000 users, 50,000 tracks, 10 million plays of history, 5 million
candidate pairs (50 per listener). In a scratch SKIPIFY_HOME under bench/out/ (or --work), not
timed: generate and ingest the world, train a model quickly on the first ``--train-days`` days (one
epoch per deep stage, 50 LightGBM rounds: the night's cost does not depend on how good the model
is), then build the features up to the night, as the previous nights would have. Timed, in its own
process: the night's stages, its peak memory, and the scoring floor measured in the same process:
the deep model's and LightGBM's forward pass alone on random inputs of the same shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import time
from pathlib import Path

from common import AnonymousPeak, peak_mb, run_stage

ROOT = Path(__file__).resolve().parents[1]


def stage_setup(users: int, tracks: int, per_day: float, train_days: int) -> dict:
    from skipify.config import load_config
    from skipify.features import build_features, default_as_of
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths
    from skipify.models.deep import DeepConfig
    from skipify.models.lgbm import LGBMConfig
    from skipify.train import train

    cfg = load_config()
    s = generate(cfg.world_dir, WorldParams(users=users, tracks=tracks, days=cfg.world_days, seed=cfg.seed,
                                            start=cfg.world_start, events_per_user_day=per_day))
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    # one deep model (no choice of the encoder: the night's cost does not depend on the model's quality)
    train(cfg.world_start + dt.timedelta(days=train_days), cfg=cfg, device="cpu",
          configs={"deep": DeepConfig(epochs=1, seed=cfg.seed, choose_history=False),
                   "lightgbm": LGBMConfig(num_leaves=31, max_rounds=50, threads=cfg.duckdb_threads)})
    build_features(default_as_of(cfg), cfg)
    return {"plays": s["n_events"], "night": str(default_as_of(cfg))}


def scoring_floor(n: int) -> dict:
    """Seconds for the champion's two models on n random rows of the scoring shape (no SQL, no I/O)."""
    import numpy as np
    import polars as pl

    from skipify.config import load_config
    from skipify.models.recent import COLUMNS as RECENT_COLUMNS
    from skipify.nightly import champion_models
    from skipify.sequences import SEQUENCE_COLUMNS

    _, models = champion_models(load_config())
    lgbm, deep = models["lightgbm"], models["deep"]
    rng = np.random.default_rng(0)
    preps = (deep.prep, lgbm.prep)  # each kind reads its own features (LightGBM adds its similarities itself)
    cols = {c: rng.normal(size=n) for p in preps for c in p.numeric if c not in RECENT_COLUMNS}
    cols |= {c: rng.choice(p.vocab[c] or ["?"], size=n) for p in preps for c in p.categorical}
    cols |= {"user_id": [f"u{i % 100_000}" for i in range(n)], "track_id": [f"t{i % 50_000}" for i in range(n)]}
    rows = pl.DataFrame(cols)
    # the sequences the models read, empty (the floor leaves out their cost: a history per row would not fit here)
    seq = {c: pl.Series(c, [[]] * n, dtype=pl.List(pl.UInt8 if "outcomes" in c else pl.String if "track_ids" in c else pl.Float64))
           for c in SEQUENCE_COLUMNS}
    rows = rows.with_columns(**seq)
    t0 = time.perf_counter()
    deep.predict(rows)
    t_deep = time.perf_counter() - t0
    t0 = time.perf_counter()
    lgbm.predict(rows)
    return {"deep_s": t_deep, "lightgbm_s": time.perf_counter() - t0}


def stage_night(night: str, candidates: int) -> dict:
    from skipify.config import load_config
    from skipify.nightly import run_night

    cfg = load_config()
    t0 = time.perf_counter()
    with AnonymousPeak(tree=True) as held:  # this process and its shard workers, together
        report = run_night(dt.date.fromisoformat(night), cfg)
    seconds = time.perf_counter() - t0
    n = report.rows["dislike_scores"]
    night_peak = peak_mb()  # before the floor, which holds all n random rows at once in this process
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker's
    return {"seconds": seconds, "stages": report.seconds, "rows": report.rows, "night_peak_mb": night_peak,
            "workers_peak_mb": workers_peak, "held_mb": held.peak_mb, "floor": scoring_floor(n)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--tracks", type=int, default=50_000)
    ap.add_argument("--events-per-user-day", type=float, default=1.7, help="1.7 x 60 days x 100k users = 10M plays")
    ap.add_argument("--candidates", type=int, default=50, help="candidates per listener (taste + rotation)")
    ap.add_argument("--train-days", type=int, default=21, help="days of history the (untimed) model is trained on")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--keep", action="store_true", help="keep the set-up warehouse (in --work) for --reuse")
    ap.add_argument("--reuse", action="store_true", help="time the night again on the warehouse a --keep run left (no set-up)")
    ap.add_argument("--stage", choices=["setup", "night"], help=argparse.SUPPRESS)
    ap.add_argument("--night", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.stage:
        r = (stage_setup(a.users, a.tracks, a.events_per_user_day, a.train_days) if a.stage == "setup"
             else stage_night(a.night, a.candidates))
        r["peak_mb"] = peak_mb()
        print(json.dumps(r, default=float))
        return

    work = a.work / "nightly"
    rotation = min(20, a.candidates // 2)
    env = {**os.environ, "SKIPIFY_HOME": str(work / "home"), "SKIPIFY_LOG_LEVEL": "WARNING",
           "SKIPIFY_CANDIDATES_K": str(a.candidates - rotation), "SKIPIFY_ROTATION_K": str(rotation)}
    kept = work / "setup.json"
    if a.reuse and kept.exists():
        setup = json.loads(kept.read_text())
        print(f"setup of {work} reused: {setup['plays']:,} plays (the night is run again: it replaces its own)", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
        t0 = time.perf_counter()
        setup = run_stage(__file__, ["--stage", "setup", "--users", str(a.users), "--tracks", str(a.tracks),
                                     "--events-per-user-day", str(a.events_per_user_day), "--train-days", str(a.train_days)], env)
        kept.write_text(json.dumps(setup))
        print(f"setup (not timed): {setup['plays']:,} plays, model trained, in {time.perf_counter() - t0:.0f}s", flush=True)
    r = run_stage(__file__, ["--stage", "night", "--night", setup["night"], "--candidates", str(a.candidates)], env)
    n = r["rows"]["dislike_scores"]
    print(f"night {setup['night']}: {a.users:,} users, {a.tracks:,} tracks, {setup['plays']:,} plays of history; "
          f"{n:,} candidate pairs scored in {r['seconds']:.1f}s, peak {r['night_peak_mb']:,.0f} MiB "
          f"({r['peak_mb']:,.0f} MiB with the floor); its shard workers' largest {r['workers_peak_mb']:,.0f} MiB; "
          f"held (anonymous memory, the night's processes together, at most) {r['held_mb']:,.0f} MiB")
    for stage, sec in r["stages"].items():
        print(f"  {stage:<12} {sec:>8.1f}s")
    f = r["floor"]
    score_s = r["stages"].get("shards", 0.0)
    print(f"  throughput {n / max(score_s, 1e-9):,.0f} pairs/s (the shards: candidates, features, both models, staging); "
          f"floor: deep forward {n / max(f['deep_s'], 1e-9):,.0f} pairs/s, LightGBM {n / max(f['lightgbm_s'], 1e-9):,.0f} pairs/s "
          f"({f['deep_s'] + f['lightgbm_s']:.1f}s for both on {n:,} random rows)")
    if not (a.keep or a.reuse):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
