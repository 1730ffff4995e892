"""Benchmark: how each stage grows with the plays, on one machine (docs/scale.md, "Measured growth").

    $ .venv/bin/python bench/scale.py --events 1000000 3000000 10000000 --work /tmp/scale

For each size, a world of that many plays over 60 days (users = plays / 90, tracks = users / 2, as
bench/features.py makes them) in its own SKIPIFY_HOME under --work; each stage in a fresh process,
its seconds and its peak memory: max RSS (every page it touched, the mapped files' included) and the most
anonymous memory it held (what it holds for itself: training maps its rows and tensors from files, whose pages
the kernel may drop; --memory-limit-gib runs training in a memory cgroup of that size to show it fits):

* ingest    - the world's landing files into raw.* (generating them is not timed)
* features  - the whole feature build up to the last night, from scratch (no text)
* text      - the tracks' text embeddings (MiniLM), what the first training adds to the features
* train     - `train` with one fixed, reduced configuration at every size (one epoch per deep stage, no
              choice of the history encoder, 100 LightGBM rounds of 31 leaves): the growth of the
              default training follows the same rows, times its epochs. Its memory grows with the rows
              it holds: --train-window-days N trains on the last N days only (config train_window_days); all
              history by default
* night     - `skipify nightly` for the last night (its features are built): candidates, scoring, publish
* snapshot  - the API's serving snapshot for that night, mapped from the folder the night wrote
              (skipify.snapshots, what a worker does) and loaded from the warehouse (what each worker did
              before): seconds, and the memory each holds for itself (anonymous memory: the mapped files'
              pages are the page cache's, shared by every process); and the seconds the night spends writing it

Then the exponent b of seconds ~ plays^b between the smallest and the largest size, per stage. Run it
alone: two cores, a second process doubles every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import time
from pathlib import Path

from common import AnonymousPeak, peak_mb, run_stage

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "features", "text", "train", "night", "snapshot"]


def _world(events: int) -> tuple[int, int]:
    users = max(100, events // 90)
    return users, max(100, users // 2)


def stage_setup(events: int) -> dict:
    from skipify.config import load_config
    from skipify.generate import WorldParams, generate

    cfg = load_config()
    users, tracks = _world(events)
    s = generate(cfg.world_dir, WorldParams(users=users, tracks=tracks, days=60, seed=1))
    return {"plays": s["n_events"], "users": users, "tracks": tracks}


def stage_ingest() -> dict:
    from skipify.config import load_config
    from skipify.ingest import ingest_paths

    cfg = load_config()
    t0 = time.perf_counter()
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    return {"seconds": time.perf_counter() - t0}


def stage_features() -> dict:
    from skipify.config import load_config
    from skipify.features import build_features, default_as_of

    cfg = load_config()
    t0 = time.perf_counter()
    r = build_features(default_as_of(cfg), cfg, with_text=False)
    return {"seconds": time.perf_counter() - t0, "rows": r.rows.get("labels", 0)}


def stage_text() -> dict:
    from skipify.config import load_config
    from skipify.text import embed_tracks

    t0 = time.perf_counter()
    n = embed_tracks(load_config())
    return {"seconds": time.perf_counter() - t0, "texts": n}


def stage_train() -> dict:
    from skipify.config import load_config
    from skipify.features import default_as_of
    from skipify.models.deep import DeepConfig
    from skipify.models.lgbm import LGBMConfig
    from skipify.train import train

    import skipify.train as training
    from common import AnonymousPeak

    cfg = load_config()
    t0 = time.perf_counter()
    # the most anonymous memory of each of training's stages: sampled, the sampler's peak taken and reset at each lap
    anonymous, lap, stage_anonymous = AnonymousPeak(), training._Stages.__call__, {}

    def lapped(self, name: str) -> None:
        anonymous.sample()
        stage_anonymous[name] = round(anonymous.peak_mb)
        anonymous.peak_mb = 0.0
        lap(self, name)

    training._Stages.__call__ = lapped
    with anonymous:
        r = train(default_as_of(cfg), cfg=cfg, device="cpu", configs={"deep": DeepConfig(epochs=1, seed=cfg.seed, choose_history=False),
                           "lightgbm": LGBMConfig(num_leaves=31, max_rounds=100, threads=cfg.duckdb_threads)})
    s = r["evaluation"]["summary"]
    return {"seconds": time.perf_counter() - t0, "stages": r["stages"], "stage_peak_mb": r.get("stage_peak_mb", {}),
            "stage_anonymous_mb": stage_anonymous,
            "train_rows": s["n_train_rows"],
            "test_roc_auc": {k: s[k] for k in ("deep_roc_auc", "lightgbm_roc_auc") if k in s}}


def stage_night() -> dict:
    from skipify.config import load_config
    from skipify.features import default_as_of
    from skipify.nightly import run_night

    cfg = load_config()
    t0 = time.perf_counter()
    report = run_night(default_as_of(cfg), cfg)
    return {"seconds": time.perf_counter() - t0, "stages": report.seconds, "scored": report.rows["dislike_scores"]}


def stage_snapshot() -> dict:
    """The API's snapshot for the night: mapped from the night's folder (skipify.snapshots, what a worker does), then
    loaded from the warehouse into this process's memory (what every worker did before), each timed, with the
    memory it holds for itself (anonymous memory, not the mapped file's shared pages)."""
    import gc

    from common import memory_mb

    from skipify import snapshots
    from skipify.config import load_config
    from skipify.features import default_as_of
    from skipify.models.base import read_columns
    from skipify.serving import Snapshot
    from skipify.versions import load_version

    cfg = load_config()
    chosen, models = load_version(None, cfg)
    as_of, columns = default_as_of(cfg), read_columns(models)
    gc.collect()
    before = memory_mb(os.getpid())
    t0 = time.perf_counter()
    mapped = snapshots.existing(as_of, cfg, chosen["version"], columns)
    if mapped is None:
        raise SystemExit(f"no snapshot folder for {as_of} and version {chosen['version']}: the night stage writes it")
    map_s = time.perf_counter() - t0
    gc.collect()
    after_map = memory_mb(os.getpid())
    folder_mb = sum(f.stat().st_size for f in snapshots.folder(as_of, chosen["version"], cfg).iterdir()) / 2**20
    t0 = time.perf_counter()
    snapshot = Snapshot.load(as_of, cfg, columns)
    seconds = time.perf_counter() - t0
    gc.collect()
    held = memory_mb(os.getpid())["anonymous"] - after_map["anonymous"]
    t0 = time.perf_counter()  # what the night adds to write it
    snapshots.write(snapshot, cfg.home / "bench-snapshot", chosen["version"], sorted(columns))
    write_s = time.perf_counter() - t0
    shutil.rmtree(cfg.home / "bench-snapshot")
    return {"seconds": seconds, "held_mb": held, "mapped_s": map_s, "mapped_held_mb": after_map["anonymous"] - before["anonymous"],
            "folder_mb": folder_mb, "write_s": write_s, "listeners": len(snapshot.played_users), "tracks": len(snapshot.played_tracks),
            "same": len(mapped.played_users) == len(snapshot.played_users)}


def exponent(small: tuple[float, float], large: tuple[float, float]) -> float:
    """b in y ~ x^b through two points (x, y)."""
    return math.log(large[1] / small[1]) / math.log(large[0] / small[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "scale")
    ap.add_argument("--keep", action="store_true", help="keep each size's warehouse (default: removed after its figures)")
    ap.add_argument("--train-window-days", type=int, default=None, help="train on the last N days only [all history]")
    ap.add_argument("--reuse", action="store_true",
                    help="keep a size's warehouse from an earlier --keep run and run only --stages on it (no new world)")
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=STAGES, help="the stages to run, in order [all]")
    ap.add_argument("--memory-limit-gib", type=float, default=None,
                    help="run the train stage in a memory cgroup of this limit (cgroup v1; page cache included)")
    ap.add_argument("--stage", choices=["setup", *STAGES], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.stage:
        with AnonymousPeak() as anonymous:
            r = stage_setup(a.n) if a.stage == "setup" else globals()[f"stage_{a.stage}"]()
        r["peak_mb"], r["peak_anonymous_mb"] = peak_mb(), anonymous.peak_mb
        print(json.dumps(r, default=float))
        return

    sizes = []
    for events in a.events:
        home = a.work / f"e{events}"
        reuse = a.reuse and (home / "lake").exists()
        if not reuse:
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir(parents=True)
        env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_LOG_LEVEL": os.environ.get("SKIPIFY_LOG_LEVEL", "WARNING"), "PYTHONPATH": str(ROOT)}
        if a.train_window_days is not None:
            env["SKIPIFY_TRAIN_WINDOW_DAYS"] = str(a.train_window_days)
        script = str(Path(__file__).resolve())
        t0 = time.perf_counter()
        world = (dict(zip(("plays", "users", "tracks"), (events, *_world(events)))) if reuse
                 else run_stage(script, ["--stage", "setup", "--n", str(events)], env))
        print(f"{'the warehouse of ' if reuse else ''}{world['plays']:,} plays ({world['users']:,} users, {world['tracks']:,} tracks), generated in "
              f"{time.perf_counter() - t0:.0f}s (not timed)", flush=True)
        figures = {}
        for stage in a.stages:
            r = run_stage(script, ["--stage", stage], env, a.memory_limit_gib if stage == "train" else None)
            figures[stage] = r
            detail = {"train": lambda: f"  {r['train_rows']:,} training rows; " + ", ".join(f"{k} {v:.0f}s" for k, v in r["stages"].items())
                      + "; peak MiB after each: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["stage_peak_mb"].items())
                      + "; the most anonymous MiB in each: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["stage_anonymous_mb"].items()),
                      "night": lambda: f"  {r['scored']:,} pairs scored; " + ", ".join(f"{k} {v:.0f}s" for k, v in r["stages"].items()),
                      "snapshot": lambda: (f"  loaded: holds {r['held_mb']:,.0f} MiB; mapped ({r['folder_mb']:,.0f} MiB of "
                                           f"files, written in {r['write_s']:.1f}s): {r['mapped_s']:.2f}s, holds {r['mapped_held_mb']:,.0f} MiB"),
                      "text": lambda: f"  {r['texts']:,} texts"}.get(stage, lambda: "")()
            limit = (f", in a {r['cgroup_limit_mb']:,.0f} MiB cgroup: its peak {r['cgroup_peak_mb']:,.0f} MiB"
                     if "cgroup_limit_mb" in r else "")
            print(f"  {stage:<9} {r['seconds']:8.1f}s  peak {r['peak_mb']:8,.0f} MiB (anonymous {r['peak_anonymous_mb']:,.0f}"
                  f"{limit}){detail}", flush=True)
        sizes.append({"events": events, **world, "train_window_days": a.train_window_days, "figures": figures})
        if not a.keep and not reuse:
            shutil.rmtree(home, ignore_errors=True)
    if len(sizes) > 1 and a.stages == STAGES:
        lo, hi = sizes[0], sizes[-1]
        print(f"exponent b (seconds ~ plays^b) from {lo['plays']:,} to {hi['plays']:,} plays:")
        for stage in STAGES:
            b = exponent((lo["plays"], lo["figures"][stage]["seconds"]), (hi["plays"], hi["figures"][stage]["seconds"]))
            m = exponent((lo["plays"], lo["figures"][stage]["peak_mb"]), (hi["plays"], hi["figures"][stage]["peak_mb"]))
            print(f"  {stage:<9} seconds {b:5.2f}   peak memory {m:5.2f}")
        held = exponent((lo["plays"], lo["figures"]["snapshot"]["held_mb"]), (hi["plays"], hi["figures"]["snapshot"]["held_mb"]))
        print(f"  snapshot memory held {held:5.2f}")
    print(json.dumps({"sizes": sizes, "at": dt.datetime.now(dt.UTC).isoformat()}, default=float))


if __name__ == "__main__":
    main()
