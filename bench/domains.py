"""Beyond music (issue 30): does what a listener did in music help predict their podcast dislikes?

    $ .venv/bin/python bench/domains.py --rho 0.6 0 --plays 5 20 100 --seeds 0 1 2 --work /tmp/domains

For each coupling rho, podcast plays per listener and seed: a two-domain world (`skipify generate --domains
music,podcast --coupling RHO --other-plays N --seed SEED`, --users/--tracks/--days) in a home of its own under
--work (kept: a second run reuses it), ingested and its features built; then the kinds (--kinds) trained with
their configured defaults on the time splits `skipify train` uses, three times: on both domains (**joint**), on
the podcast plays alone (**podcast only**, as `skipify train` trains a domain's own models); and, once per seed,
on the world of music only with that seed (the same music plays, bit for bit; --no-music-world skips it). Printed per world, one JSON line: on the podcast test plays,
each kind's ROC AUC joint and podcast-only, joint minus podcast-only with a paired bootstrap 95% interval, the
oracle (the world's true probability) on the same rows and the oracle as far as music tells (p_from_music: the
listener's traits in the podcasts at what their music says of them; at rho 0, what the items alone say), the
validation figures; what the per-domain gate serves
for the podcasts (skipify.registry.domain_choices, as `skipify train` decides) against the best podcast-only kind
on validation; on the music test plays, the joint kinds minus those of the world of music only. Then one summary line: mean and standard
deviation over the seeds per (rho, plays, kind), and of the gate's choice.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import polars as pl


def world_home(work: Path, rho: float | None, plays: float, seed: int, args: argparse.Namespace) -> Path:
    """The home of one world, generated, ingested and with its features built (once: a later run reuses it);
    ``rho`` None: the world of music only with the same seed (the same music plays, bit for bit)."""
    from skipify.config import load_config
    from skipify.features import build_features, default_as_of
    from skipify.generate import WorldParams, generate
    from skipify.ingest import ingest_paths
    from skipify.warehouse import migrate

    home = work / (f"music_seed{seed}_u{args.users}" if rho is None else f"rho{rho:g}_plays{plays:g}_seed{seed}_u{args.users}")
    if (home / "built").exists():
        return home
    cfg = load_config(home=home)
    other = {} if rho is None else {"domains": ("music", "podcast"), "coupling": rho, "other_plays_per_user": plays}
    generate(home / "world", WorldParams(users=args.users, tracks=args.tracks, days=args.days, seed=seed, start=cfg.world_start, **other))
    migrate(cfg)
    ingest_paths([home / "world" / "landing"], cfg=cfg)
    build_features(default_as_of(cfg), cfg)
    (home / "built").write_text("ok\n")
    return home


def world_truth(home: Path) -> pl.DataFrame:
    """user_id, track_id, ts, p_dislike, p_from_music of every play of a home's world (a world generated before
    p_from_music was written: drawn again from its world.json, the same plays)."""
    from skipify.generate import WorldParams, build_world

    truth = pl.read_parquet(home / "world" / "truth" / "truth.parquet")
    if "p_from_music" not in truth.columns:
        params = json.loads((home / "world" / "truth" / "world.json").read_text())["params"]
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        params["start"] = dt.date.fromisoformat(params["start"])
        events = build_world(WorldParams(**params)).events
        truth = truth.join(events.select("user_id", "track_id", "ts", "p_from_music"), on=["user_id", "track_id", "ts"], how="left")
    return truth.select("user_id", "track_id", "ts", "p_dislike", "p_from_music")


def oracles(home: Path) -> dict:
    """The two oracles on a world's podcast test plays (the splits `skipify train` makes), without training."""
    from skipify.config import load_config
    from skipify.data import load_rows, time_splits, window_start
    from skipify.features import default_as_of
    from skipify.metrics import roc_auc

    cfg = load_config(home=home)
    as_of = default_as_of(cfg)
    test = time_splits(load_rows(cfg, since=window_start(cfg, as_of), until=as_of), cfg).of_domain("podcast").test
    got = test.select("user_id", "track_id", "ts", "label").join(world_truth(home), on=["user_id", "track_id", "ts"], how="left")
    y = got["label"].to_numpy()
    return {"home": str(home), "podcast_test_rows": got.height, "oracle_podcast_roc_auc": roc_auc(y, got["p_dislike"].to_numpy()),
            "oracle_from_music_podcast_roc_auc": roc_auc(y, got["p_from_music"].to_numpy())}


def music_world(work: Path, seed: int, args: argparse.Namespace) -> pl.DataFrame:
    """The kinds trained on the world of music only with this seed, their scores on its test plays (user_id,
    track_id, ts, label, one column per kind) and ``served`` (the kind best on its validation rows); kept in its
    home, computed once."""
    from skipify.config import load_config
    from skipify.data import load_rows, time_splits, window_start
    from skipify.features import default_as_of
    from skipify.metrics import roc_auc
    from skipify.models.base import Resources
    from skipify.models.kinds import KINDS
    from skipify.registry import served_kind

    home = world_home(work, None, 0, seed, args)
    path = home / "music_test_scores.parquet"
    if path.exists():
        return pl.read_parquet(path)
    cfg = dataclasses.replace(load_config(home=home), seed=seed)
    as_of = default_as_of(cfg)
    splits = time_splits(load_rows(cfg, sequences=True, since=window_start(cfg, as_of), until=as_of), cfg)
    resources = Resources(cfg)
    for name in args.kinds:
        kind = KINDS[name]
        resources.trained[name] = kind.fit(splits.train, splits.valid, kind.configure(None, cfg, args.device or "cpu", None), resources)
    y = splits.valid["label"].to_numpy()
    served = served_kind({f"{k}_valid_roc_auc": roc_auc(y, m.predict(splits.valid)) for k, m in resources.trained.items()})
    out = splits.test.select("user_id", "track_id", "ts", "label").with_columns(
        *[pl.Series(k, m.predict(splits.test)) for k, m in resources.trained.items()], served=pl.lit(served))
    out.write_parquet(path)
    return out


def measure(home: Path, kinds: list[str], device: str, seed: int, music: pl.DataFrame | None = None) -> dict:
    """One world: the kinds trained joint and on the podcasts alone (as `skipify train` does:
    skipify.train._fit_domains); each domain's figures and the per-domain gate's choice; with ``music`` (music_world:
    the scores of the kinds trained on the world of music only, same seed), the music test plays of both."""
    from skipify.config import load_config
    from skipify.data import load_rows, time_splits, window_start
    from skipify.evaluate import domain_figures
    from skipify.features import default_as_of
    from skipify.metrics import paired_bootstrap_auc_diff, roc_auc
    from skipify.models.base import Resources
    from skipify.models.kinds import KINDS
    from skipify.registry import domain_choices, served_kind
    from skipify.train import _fit_domains

    cfg = dataclasses.replace(load_config(home=home), seed=seed, domain_models_min_rows=100)
    as_of = default_as_of(cfg)
    splits = time_splits(load_rows(cfg, sequences=True, since=window_start(cfg, as_of), until=as_of), cfg)
    truth = world_truth(home)
    seconds: dict[str, float] = {}
    t0 = [time.perf_counter()]

    def lap(name: str) -> None:
        seconds[name] = round(time.perf_counter() - t0[0], 1)
        t0[0] = time.perf_counter()

    def fit_all(part) -> dict:
        resources = Resources(cfg)
        for name in kinds:
            kind = KINDS[name]
            resources.trained[name] = kind.fit(part.train, part.valid, kind.configure(None, cfg, device or "cpu", None), resources)
        return resources.trained

    joint = fit_all(splits)
    lap("joint")
    own = _fit_domains(splits, Resources(cfg), cfg, device or "cpu", {}, None, lap)
    valid = {k: m.predict(splits.valid) for k, m in joint.items()}
    test = {k: m.predict(splits.test) for k, m in joint.items()}
    y_all = splits.valid["label"].to_numpy()
    served = served_kind({f"{k}_valid_roc_auc": roc_auc(y_all, p) for k, p in valid.items()})
    figures = domain_figures(valid, test, own, splits, served)
    chosen = domain_choices(figures, served, kinds)

    pod, mus = splits.of_domain("podcast"), splits.of_domain("music")
    y, ym = pod.test["label"].to_numpy(), mus.test["label"].to_numpy()
    in_pod = (splits.test["t_domain"] == "podcast").to_numpy()
    in_mus = ~in_pod
    oracle = pod.test.select("user_id", "track_id", "ts").join(truth, on=["user_id", "track_id", "ts"], how="left")
    # the podcasts' own models; when the podcasts are the largest domain (100 plays a listener), `skipify train` gives
    # the music its own models instead, and the podcast-only models compared here are trained for the bench alone
    podcast_only = own.get("podcast") or fit_all(pod)
    lap("podcast only")
    alone = {k: m.predict(pod.test) for k, m in podcast_only.items()}
    yv = pod.valid["label"].to_numpy()
    valid_pod = {"all": {k: roc_auc(yv, p[(splits.valid["t_domain"] == "podcast").to_numpy()]) for k, p in valid.items()},
                 "podcast": {k: roc_auc(yv, m.predict(pod.valid)) for k, m in podcast_only.items()}}

    def pick(trained_on: str) -> str:  # the best kind of one training on the podcast validation rows
        return max(valid_pod[trained_on], key=valid_pod[trained_on].get)

    c = chosen["podcast"]
    p_served = test[c["served_model"]][in_pod] if c["trained_on"] == "all" else alone[c["served_model"]]
    best_joint, best_alone = pick("all"), pick("podcast")
    out: dict = {
        "home": str(home), "seed": seed, "rows": figures and {d: figures[d]["rows"] for d in figures},
        "podcast_train_plays_per_listener": round(pod.train.height / max(pod.train["user_id"].n_unique(), 1), 1),
        "oracle_podcast_roc_auc": roc_auc(y, oracle["p_dislike"].to_numpy()),
        "oracle_from_music_podcast_roc_auc": roc_auc(y, oracle["p_from_music"].to_numpy()),
        "gate": {"podcast": c, "music": chosen["music"], "own_models": sorted(own), "served_roc_auc": roc_auc(y, p_served),
                 "best_joint_on_valid": best_joint, "best_alone_on_valid": best_alone,
                 "served_minus_best_alone_ci": paired_bootstrap_auc_diff(y, p_served, alone[best_alone]),
                 "best_joint_minus_best_alone_ci": paired_bootstrap_auc_diff(y, test[best_joint][in_pod], alone[best_alone])},
        "seconds": seconds, "kinds": {}}
    for name in kinds:
        k = {"podcast_joint_roc_auc": roc_auc(y, test[name][in_pod]), "podcast_alone_roc_auc": roc_auc(y, alone[name]),
             "podcast_joint_minus_alone_ci": paired_bootstrap_auc_diff(y, test[name][in_pod], alone[name]),
             "podcast_valid": {"joint": valid_pod["all"][name], "alone": valid_pod["podcast"][name]},
             "music_joint_roc_auc": roc_auc(ym, test[name][in_mus])}
        out["kinds"][name] = k
    if music is not None:  # the same music plays in the world of music only: its test plays, scored by its kinds
        cm = chosen["music"]  # the gate's choice for the music: the music's own model when they are the smaller domain and it won
        p_mus = own["music"][cm["served_model"]].predict(mus.test) if cm["trained_on"] == "music" else test[cm["served_model"]][in_mus]
        joint_music = mus.test.select("user_id", "track_id", "ts", "label").with_columns(
            *[pl.Series(f"joint_{k}", test[k][in_mus]) for k in kinds], pl.Series("served_here", p_mus)).join(
            music, on=["user_id", "track_id", "ts"], how="inner")
        ym2 = joint_music["label"].to_numpy()
        assert (ym2 == joint_music["label_right"].to_numpy()).all()
        alone_served = joint_music["served"][0]
        out["music"] = {"rows": joint_music.height, "of": mus.test.height, "served_two_domains": cm, "served_music_world": alone_served,
                        **{f"{k}_two_domains_minus_music_world_ci": paired_bootstrap_auc_diff(ym2, joint_music[f"joint_{k}"].to_numpy(),
                                                                                              joint_music[k].to_numpy()) for k in kinds},
                        "served_two_domains_minus_music_world_ci": paired_bootstrap_auc_diff(
                            ym2, joint_music["served_here"].to_numpy(), joint_music[alone_served].to_numpy())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rho", type=float, nargs="+", default=[0.6, 0.0])
    ap.add_argument("--plays", type=float, nargs="+", default=[5, 20, 100])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--kinds", nargs="+", default=["lightgbm", "deep", "blend"])
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--tracks", type=int, default=1500)
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-music-world", action="store_true", help="skip the world of music only (its training per seed)")
    ap.add_argument("--oracles-only", action="store_true", help="only the two oracles on each world's podcast test plays")
    ap.add_argument("--work", type=Path, default=Path("/tmp/skipify-domains"))
    args = ap.parse_args()
    results = []
    for rho in args.rho:
        for plays in args.plays:
            for seed in args.seeds:
                home = world_home(args.work, rho, plays, seed, args)
                if args.oracles_only:
                    print(json.dumps({"rho": rho, "plays": plays, "seed": seed, **oracles(home)}), flush=True)
                    continue
                music = None if args.no_music_world else music_world(args.work, seed, args)
                r = {"rho": rho, "plays": plays, **measure(home, args.kinds, args.device, seed, music)}
                print(json.dumps(r, default=float), flush=True)
                results.append(r)
    if args.oracles_only:
        return
    summary = []
    for rho in args.rho:
        for plays in args.plays:
            mine = [r for r in results if r["rho"] == rho and r["plays"] == plays]
            for name in args.kinds:
                diffs = [r["kinds"][name]["podcast_joint_minus_alone_ci"] for r in mine]
                music = [r["music"][f"{name}_two_domains_minus_music_world_ci"]["diff"] for r in mine if "music" in r]
                summary.append({
                    "rho": rho, "plays": plays, "kind": name, "seeds": len(mine),
                    "podcast_joint": float(np.mean([r["kinds"][name]["podcast_joint_roc_auc"] for r in mine])),
                    "podcast_alone": float(np.mean([r["kinds"][name]["podcast_alone_roc_auc"] for r in mine])),
                    "joint_minus_alone": {"mean": float(np.mean([d["diff"] for d in diffs])),
                                          "sd": float(np.std([d["diff"] for d in diffs], ddof=1)) if len(diffs) > 1 else None,
                                          "each": [(d["lo"], d["hi"]) for d in diffs]},
                    "music_two_domains_minus_music_world": {"mean": float(np.mean(music)),
                                                "sd": float(np.std(music, ddof=1)) if len(music) > 1 else None} if music else None,
                    "oracle_podcast": float(np.mean([r["oracle_podcast_roc_auc"] for r in mine])),
                    "oracle_from_music_podcast": float(np.mean([r["oracle_from_music_podcast_roc_auc"] for r in mine])),
                })
            gates = [r["gate"] for r in mine]

            def spread(key: str) -> dict:
                d = [g[key]["diff"] for g in gates]
                return {"mean": float(np.mean(d)), "sd": float(np.std(d, ddof=1)) if len(d) > 1 else None,
                        "each": [(g[key]["lo"], g[key]["hi"]) for g in gates]}

            summary.append({"rho": rho, "plays": plays, "kind": "served by the per-domain gate", "seeds": len(mine),
                            "choices": [f"{g['podcast']['served_model']} trained on {g['podcast']['trained_on']}" for g in gates],
                            "podcast_served": float(np.mean([g["served_roc_auc"] for g in gates])),
                            "served_minus_best_alone": spread("served_minus_best_alone_ci"),
                            "best_joint_minus_best_alone": spread("best_joint_minus_best_alone_ci"),
                            "music_served_two_domains_minus_music_world": {
                                "each": [r["music"]["served_two_domains_minus_music_world_ci"] for r in mine if "music" in r]}})
    print(json.dumps({"summary": summary}, default=float), flush=True)


if __name__ == "__main__":
    main()
