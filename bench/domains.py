"""Beyond music (issue 30): does what a listener did in music help predict their podcast dislikes?

    $ .venv/bin/python bench/domains.py --rho 0.6 0 --plays 5 20 100 --seeds 0 1 2 --work /tmp/domains

For each coupling rho, podcast plays per listener and seed: a two-domain world (`skipify generate --domains
music,podcast --coupling RHO --other-plays N --seed SEED`, --users/--tracks/--days) in a home of its own under
--work (kept: a second run reuses it), ingested and its features built; then each kind (--kinds) trained with
its configured defaults on the time splits `skipify train` uses, three times: on both domains (**joint**), on
the podcast plays alone (**podcast only**), on the music plays alone (**music only**). Printed per world, one
JSON line: on the podcast test plays, each kind's ROC AUC joint and podcast-only, joint minus podcast-only with
a paired bootstrap 95% interval, the oracle (the world's true probability) on the same rows, the validation
figures a per-domain gate would compare; on the music test plays, joint minus music-only. Then one summary
line: mean and standard deviation over the seeds per (rho, plays, kind).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import polars as pl


def world_home(work: Path, rho: float, plays: float, seed: int, args: argparse.Namespace) -> Path:
    """The home of one world, generated, ingested and with its features built (once: a later run reuses it)."""
    from skipify.config import load_config
    from skipify.features import build_features, default_as_of
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths
    from skipify.warehouse import migrate

    home = work / f"rho{rho:g}_plays{plays:g}_seed{seed}_u{args.users}"
    if (home / "built").exists():
        return home
    cfg = load_config(home=home)
    generate(home / "world", WorldParams(users=args.users, tracks=args.tracks, days=args.days, seed=seed, start=cfg.world_start,
                                         domains=("music", "podcast"), coupling=rho, other_plays_per_user=plays))
    migrate(cfg)
    ingest_paths([home / "world" / "landing"], cfg=cfg)
    build_features(default_as_of(cfg), cfg)
    (home / "built").write_text("ok\n")
    return home


def measure(home: Path, kinds: list[str], device: str, seed: int) -> dict:
    from skipify.config import load_config
    from skipify.data import load_rows, time_splits, window_start
    from skipify.features import default_as_of
    from skipify.metrics import paired_bootstrap_auc_diff, roc_auc
    from skipify.models.base import Resources
    from skipify.models.kinds import KINDS

    cfg = dataclasses.replace(load_config(home=home), seed=seed)
    as_of = default_as_of(cfg)
    splits = time_splits(load_rows(cfg, sequences=True, since=window_start(cfg, as_of), until=as_of), cfg)
    truth = pl.read_parquet(home / "world" / "truth" / "truth.parquet").select("user_id", "track_id", "ts", "p_dislike")

    def part(frame: pl.DataFrame, domain: str | None) -> pl.DataFrame:
        return frame if domain is None else frame.filter(pl.col("t_domain") == domain)

    test = {d: part(splits.test, d) for d in ("music", "podcast")}
    valid = {d: part(splits.valid, d) for d in ("music", "podcast")}
    y = {d: test[d]["label"].to_numpy() for d in test}
    yv = {d: valid[d]["label"].to_numpy() for d in valid}
    oracle = test["podcast"].select("user_id", "track_id", "ts").join(truth, on=["user_id", "track_id", "ts"], how="left")
    train_pod = part(splits.train, "podcast")
    out: dict = {"home": str(home), "seed": seed,
                 "rows": {"train": {d: part(splits.train, d).height for d in test}, "test": {d: test[d].height for d in test}},
                 "podcast_train_plays_per_listener": round(train_pod.height / max(train_pod["user_id"].n_unique(), 1), 1),
                 "oracle_podcast_roc_auc": roc_auc(y["podcast"], oracle["p_dislike"].to_numpy()), "kinds": {}}
    for name in kinds:
        kind = KINDS[name]
        got: dict = {}
        for trained_on in ("joint", "podcast", "music"):
            t0 = time.perf_counter()
            domain = None if trained_on == "joint" else trained_on
            model = kind.fit(part(splits.train, domain), part(splits.valid, domain), kind.configure(None, cfg, "cpu" if device is None else device, None),
                             Resources(cfg))
            got[trained_on] = {"seconds": round(time.perf_counter() - t0, 1)}
            for d in ("music", "podcast") if trained_on == "joint" else (trained_on,):
                got[trained_on][f"{d}_test"] = model.predict(test[d])
                got[trained_on][f"{d}_valid_roc_auc"] = roc_auc(yv[d], model.predict(valid[d]))
        k = {
            "podcast_joint_roc_auc": roc_auc(y["podcast"], got["joint"]["podcast_test"]),
            "podcast_alone_roc_auc": roc_auc(y["podcast"], got["podcast"]["podcast_test"]),
            "podcast_joint_minus_alone_ci": paired_bootstrap_auc_diff(y["podcast"], got["joint"]["podcast_test"], got["podcast"]["podcast_test"]),
            "podcast_valid": {"joint": got["joint"]["podcast_valid_roc_auc"], "alone": got["podcast"]["podcast_valid_roc_auc"]},
            "music_joint_roc_auc": roc_auc(y["music"], got["joint"]["music_test"]),
            "music_alone_roc_auc": roc_auc(y["music"], got["music"]["music_test"]),
            "music_joint_minus_alone_ci": paired_bootstrap_auc_diff(y["music"], got["joint"]["music_test"], got["music"]["music_test"]),
            "seconds": {t: got[t]["seconds"] for t in got},
        }
        out["kinds"][name] = k
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rho", type=float, nargs="+", default=[0.6, 0.0])
    ap.add_argument("--plays", type=float, nargs="+", default=[5, 20, 100])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--kinds", nargs="+", default=["lightgbm", "deep"])
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--tracks", type=int, default=1500)
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--device", default=None)
    ap.add_argument("--work", type=Path, default=Path("/tmp/skipify-domains"))
    args = ap.parse_args()
    results = []
    for rho in args.rho:
        for plays in args.plays:
            for seed in args.seeds:
                home = world_home(args.work, rho, plays, seed, args)
                r = {"rho": rho, "plays": plays, **measure(home, args.kinds, args.device, seed)}
                print(json.dumps(r, default=float), flush=True)
                results.append(r)
    summary = []
    for rho in args.rho:
        for plays in args.plays:
            mine = [r for r in results if r["rho"] == rho and r["plays"] == plays]
            for name in args.kinds:
                diffs = [r["kinds"][name]["podcast_joint_minus_alone_ci"] for r in mine]
                music = [r["kinds"][name]["music_joint_minus_alone_ci"]["diff"] for r in mine]
                summary.append({
                    "rho": rho, "plays": plays, "kind": name, "seeds": len(mine),
                    "podcast_joint": float(np.mean([r["kinds"][name]["podcast_joint_roc_auc"] for r in mine])),
                    "podcast_alone": float(np.mean([r["kinds"][name]["podcast_alone_roc_auc"] for r in mine])),
                    "joint_minus_alone": {"mean": float(np.mean([d["diff"] for d in diffs])),
                                          "sd": float(np.std([d["diff"] for d in diffs], ddof=1)) if len(diffs) > 1 else None,
                                          "each": [(d["lo"], d["hi"]) for d in diffs]},
                    "music_joint_minus_alone": {"mean": float(np.mean(music)),
                                                "sd": float(np.std(music, ddof=1)) if len(music) > 1 else None},
                    "oracle_podcast": float(np.mean([r["oracle_podcast_roc_auc"] for r in mine])),
                })
    print(json.dumps({"summary": summary}, default=float), flush=True)


if __name__ == "__main__":
    main()
