"""The nightly run: ingest, features, candidates, scoring by user shard, checked atomic publish.

    $ skipify nightly --date 2026-03-02
    $ skipify backfill --start 2026-02-20 --end 2026-03-02

Night D scores what listeners may meet on day D, with everything known before D 00:00 UTC:

1. ``ingest_landing``   landing files dated before D (already-ingested batches are skipped);
2. ``build_night_features``   features as of D, MiniLM vectors for new track texts only;
3. the serving snapshot as of D (skipify.serving, written once on the machine: skipify.snapshots), which the
   shards and the API's workers map;
4. per shard of listeners (``nightly_shards``, crc32 of the id; Airflow maps one task per shard, ``night_shard``):
   ``make_candidates``  the supplied candidates for D, else per active listener the ``candidates_k`` tracks
   nearest to their taste (lowest two-tower dislike interaction, the vectors from the snapshot) not played in
   the last ``candidates_fresh_days`` days, plus their ``rotation_k`` most played tracks of those days; then
   ``score_shard``  the champion's served model (``p_dislike``: the kind the gate chose, models.registry.served_model)
   and its baseline kind (``p_dislike_baseline``: baseline_model), in batches, into scores.staged_scores (each
   shard its own partition);
5. ``publish``          checks on the staged night; if they pass, one transaction replaces the night
   in scores.dislike_scores / track_dislike_profile / user_risk and records it in ops.runs; if not,
   the previous night stays, the run is recorded as failed with the reason, and NightFailed is raised.

``run_night`` is the five in order (``skipify nightly``), the shards in ``nightly_workers`` processes side by side
(:class:`ShardWorkers`); the Airflow DAG calls the same functions.

A night is recorded in ops.runs as ``running`` when it starts (:func:`begin_run`), with its owner (this
process, or the Airflow DAG); its end replaces that row (published, failed). A night killed on the way
(kill -9, a lost machine) leaves its row ``running``: the next night to start marks it ``abandoned``, once
its owner is known to be gone, and clears what it had staged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from skipify.config import Config, cutoff_of, load_config, logger
from skipify.models.base import explain_each, predict_pair, read_columns, retriever
from skipify.models.kinds import served_and_baseline
from skipify.warehouse import connect, insert_sql, process_alive, run_sql, transaction, with_retry

if TYPE_CHECKING:
    from skipify.serving import Snapshot

PUBLISHED = ("dislike_scores", "track_dislike_profile", "user_risk", "shap_local")  # the tables a night replaces
DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


class NightFailed(RuntimeError):
    """A night did not pass its checks (or a stage failed); the previous night stays published."""


@dataclass
class NightReport:
    run_id: str
    run_date: dt.date
    status: str
    model_version: str | None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    risk_threshold: float | None = None  # the threshold its at_risk flags were set with (published nights)

    def lines(self) -> list[str]:
        threshold = "" if self.risk_threshold is None else f", at risk from p = {self.risk_threshold:.3f}"
        out = [f"night {self.run_date}: {self.status} (run {self.run_id}, model {self.model_version}{threshold})"]
        out += [f"  {k:<24} {v:>11,}" for k, v in self.rows.items()]
        out.append("  seconds: " + ", ".join(f"{k} {v}" for k, v in self.seconds.items()))
        if self.reason:
            out.append(f"  reason: {self.reason}")
        return out


def this_process() -> str:
    """The owner of a night run from this process (``skipify nightly``): 'pid:<host>:<pid>'."""
    return f"pid:{socket.gethostname()}:{os.getpid()}"


def _owner_gone(owner: str | None, me: str) -> bool:
    """Whether the owner of a running night can no longer finish it.

    A process on this host that no longer exists; an Airflow DAG run when another run of the same DAG starts
    (max_active_runs=1: runs of skipify_nightly never overlap). A process on another host, a night without
    an owner, or an Airflow run seen from the CLI: not known, left running.
    """
    if not owner:
        return False
    if owner.startswith("pid:"):
        _, host, pid = owner.split(":", 2)
        if host != socket.gethostname():
            return False
        return not process_alive(int(pid))
    return owner.startswith("airflow:") and owner == me


def begin_run(run_date: dt.date, run_id: str, owner: str, cfg: Config | None = None,
              started_at: dt.datetime | None = None) -> list[str]:
    """Record a night as running; first mark abandoned the running nights whose owner is gone, clearing
    their staged scores. Starting again with the same run_id (an Airflow retry) changes nothing.

    Returns:
        The run ids marked abandoned.
    """
    cfg = cfg or load_config()
    con = connect(cfg)
    try:
        def write() -> list[str]:
            abandoned = []
            with transaction(con):
                for other, other_date, other_start, other_owner in run_sql(con, "nightly/running_runs", {"run_id": run_id}).fetchall():
                    if not _owner_gone(other_owner, owner):
                        logger.warning("night %s (run %s, %s) is still running or cannot be checked; left as it is",
                                       other_date, other, other_owner)
                        continue
                    reason = f"abandoned: started {other_start:%Y-%m-%d %H:%M} UTC by {other_owner}, which is gone; found by run {run_id}"
                    run_sql(con, "nightly/abandon_run", {"run_id": other, "reason": reason})
                    run_sql(con, "nightly/clear_staging", {"run_date": other_date})
                    run_sql(con, "nightly/clear_staged_shap", {"run_date": other_date})
                    abandoned.append(other)
                run_sql(con, "nightly/start_run", {"run_id": run_id, "run_date": run_date, "owner": owner,
                                                   "started_at": started_at or dt.datetime.now(dt.UTC)})
            return abandoned

        abandoned = with_retry(write)
    finally:
        con.close()
    for other in abandoned:
        logger.warning("night run %s was interrupted (its owner is gone): recorded as abandoned, its staging cleared", other)
    return abandoned


def shard_of(user_id: str, shards: int) -> int:
    """Stable user -> shard (crc32; Python's hash() changes between processes)."""
    return zlib.crc32(user_id.encode()) % shards


def _replace(cfg: Config, frames: dict[str, pl.DataFrame], statements: list[tuple[str, dict]]) -> None:
    """Register ``frames`` under their names, then run the SQL files in one retried transaction
    (a delete of what is being rewritten, then its insert from the frames)."""
    con = connect(cfg)
    try:
        for name, frame in frames.items():
            con.register(name, frame.to_arrow())

        def write():
            with transaction(con):
                for sql_name, params in statements:
                    run_sql(con, sql_name, params)

        with_retry(write)
    finally:
        con.close()


# --- 1. ingest --------------------------------------------------------------------------------


def landing_files(run_date: dt.date, cfg: Config) -> list[Path]:
    """Landing files for night D: those dated (in their name) before D, and any without a date (hidden files,
    such as the event log's mark, are not landing data)."""
    if not cfg.landing.exists():
        return []
    out = []
    for path in sorted(p for p in cfg.landing.rglob("*") if p.is_file() and not p.name.startswith(".")):  # hidden: not data
        m = DATE_IN_NAME.search(path.name)
        if m is None or dt.date.fromisoformat(m.group(1)) < run_date:
            out.append(path)
    return out


def ingest_landing(run_date: dt.date, cfg: Config | None = None) -> int:
    """Ingest the night's landing files; returns rows loaded (0 when all were ingested before)."""
    from skipify.ingest import ingest_paths

    cfg = cfg or load_config()
    files = landing_files(run_date, cfg)
    if not files:
        logger.info("night %s: no landing files under %s", run_date, cfg.landing)
        return 0
    reports = ingest_paths(files, cfg=cfg)
    loaded = sum(r.rows_loaded for r in reports)
    logger.info("night %s: %d landing files, %d rows loaded", run_date, len(files), loaded)
    return loaded


# --- 2. features ------------------------------------------------------------------------------


def build_night_features(run_date: dt.date, cfg: Config | None = None) -> None:
    """The features as of the night (never rewound: a night before the last build reads the state by day).

    Raises:
        ValueError: the warehouse holds no play before the night (nothing was changed).
    """
    from skipify.features import build_features

    cfg = cfg or load_config()
    con = connect(cfg, read_only=True)
    try:
        first = run_sql(con, "nightly/first_play").fetchone()[0]
    finally:
        con.close()
    if first is None or first >= cutoff_of(run_date):
        since = f"the first is on {first.astimezone(dt.UTC):%Y-%m-%d}" if first is not None else "it holds none"
        raise ValueError(f"night {run_date}: the warehouse holds no play before it ({since}): nothing to score")
    build_features(run_date, cfg)


# --- 3. candidates ----------------------------------------------------------------------------


def champion_models(cfg: Config):
    """(registry row, models by kind) of the champion, else of the newest version (logged)."""
    from skipify.versions import load_version

    chosen, models = load_version(None, cfg)
    _say_if_no_champion(chosen)
    return chosen, models


def _say_if_no_champion(chosen: dict) -> None:
    if chosen["status"] != "champion":
        logger.warning("no champion yet (the gate promoted no version): scoring with the newest version %s", chosen["version"])


TASTE_CHUNK = 32  # listeners per matrix product: their (listeners x tracks) scores stay in the cache (2,048: 2.2x slower)


def taste_candidates(users: pl.DataFrame, tracks: pl.DataFrame, recent: pl.DataFrame, k: int) -> pl.DataFrame:
    """Per user, the k tracks with the lowest dislike interaction ⟨user, track⟩ not in ``recent``.

    Args:
        users, tracks: id and ``vector`` columns (two-tower vectors as of the night).
        recent: user_id, track_id pairs to leave out.
    """
    import torch

    if users.is_empty() or tracks.is_empty() or k <= 0:
        return pl.DataFrame(schema={"user_id": pl.String, "track_id": pl.String})
    U = torch.tensor(np.stack(users["vector"].to_numpy()), dtype=torch.float32)
    T = torch.tensor(np.stack(tracks["vector"].to_numpy()), dtype=torch.float32)
    # the recent pairs as (user row, track row), ordered by user row: each chunk of listeners masks a slice of them
    pairs = (recent.select("user_id", "track_id")
             .join(users.select("user_id").with_row_index("u"), on="user_id")
             .join(tracks.select("track_id").with_row_index("t"), on="track_id")
             .sort("u"))
    ru, rt = pairs["u"].to_numpy().astype(np.int64), pairs["t"].to_numpy().astype(np.int64)
    k = min(k, T.shape[0])
    picked_u, picked_t = [], []
    for lo in range(0, U.shape[0], TASTE_CHUNK):
        scores = U[lo : lo + TASTE_CHUNK] @ T.T
        a, b = np.searchsorted(ru, [lo, lo + TASTE_CHUNK])
        scores[torch.from_numpy(ru[a:b] - lo), torch.from_numpy(rt[a:b])] = float("inf")
        top = torch.topk(scores, k, dim=1, largest=False)
        ok = torch.isfinite(top.values)
        rows = torch.arange(lo, lo + scores.shape[0]).unsqueeze(1).expand_as(top.indices)
        picked_u.append(rows[ok].numpy())
        picked_t.append(top.indices[ok].numpy())
    return pl.DataFrame({"user_id": users["user_id"].cast(pl.String).gather(np.concatenate(picked_u)),
                         "track_id": tracks["track_id"].cast(pl.String).gather(np.concatenate(picked_t))})


def in_shard(frame: pl.DataFrame, shard: int | None, shards: int) -> pl.DataFrame:
    """The rows of ``frame`` whose user_id falls in ``shard`` (every row: None), with their shard (``shard_of``)."""
    users = frame["user_id"].unique()
    of = pl.DataFrame({"user_id": users, "shard": [shard_of(u, shards) for u in users.to_list()]},
                      schema={"user_id": pl.String, "shard": pl.Int32})
    out = frame.join(of, on="user_id", how="left", maintain_order="left")
    return out if shard is None else out.filter(pl.col("shard") == shard)


def snapshot_vectors(model, snapshot: "Snapshot", users: pl.Series, tracks: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(users, tracks) as skipify.embeddings.tower_vectors gives them, for these ids, from the night's serving
    snapshot instead of the feature SQL (the reference night's candidates: 23 s before, 15 s over its four shards
    after). A probe per id, paired off row by row as in models/embedding_probes.sql (no ids: the unknown id): a
    user's vector reads only the user's columns and listening history, a track's only the track's, and the
    snapshot's rows carry the SQL's (tests/api/test_serving.py; the vectors: tests/model/test_nightly.py)."""
    from skipify.embeddings import lists
    from skipify.serving import request_frame

    n = max(len(users), len(tracks))
    if n == 0:
        return pl.DataFrame(schema={"user_id": pl.String, "vector": pl.List(pl.Float32)}), \
            pl.DataFrame(schema={"track_id": pl.String, "vector": pl.List(pl.Float32)})
    wrap = pl.int_range(n, eager=True)

    def ids(values: pl.Series) -> pl.Series:
        return values.cast(pl.String).gather(wrap % len(values)) if len(values) else pl.repeat(None, n, dtype=pl.String, eager=True)

    probes = pl.DataFrame({"user_id": ids(users), "track_id": ids(tracks)}).with_columns(pl.lit(snapshot.cutoff).alias("ts"))
    rows, _ = snapshot.rows(request_frame(probes), model.columns)
    u, t = model.vectors(rows)
    out_users = pl.DataFrame({"user_id": rows["user_id"], "vector": lists(u)}).head(len(users))
    out_tracks = pl.DataFrame({"track_id": rows["track_id"], "vector": lists(t)}).head(len(tracks))
    return out_users, out_tracks


def make_candidates(run_date: dt.date, cfg: Config | None = None, shard: int | None = None, snapshot=None, models=None) -> int:
    """Write the night's candidates of the listeners of ``shard`` (all: None) to scores.candidates, replacing what
    that shard (the night) had; returns their count. Taste candidates read the retrieving model's vectors from the
    night's serving snapshot (``snapshot``, else the one shared on this machine, else built): the listeners' of the
    shard, and every track's, made once per night and machine (``snapshots.kept_frame``) for all shards."""
    from skipify import snapshots

    cfg = cfg or load_config()
    cutoff = cutoff_of(run_date)
    params = {"run_date": run_date, "cutoff": cutoff, "active_days": cfg.active_days, "fresh_days": cfg.candidates_fresh_days,
              "shard": shard}
    con = connect(cfg, read_only=True)
    try:
        supplied = run_sql(con, "nightly/supplied_candidates", params).pl()
        if supplied.is_empty():
            active = in_shard(run_sql(con, "nightly/active_users", params).pl(), shard, cfg.nightly_shards)
            con.register("night_users", active.select("user_id").to_arrow())
            recent = run_sql(con, "nightly/recent_pairs", params).pl()
    finally:
        con.close()
    of_shard = f" shard {shard}" if shard is not None else ""
    if not supplied.is_empty():
        cands = in_shard(supplied, shard, cfg.nightly_shards).with_columns(pl.lit("supplied").alias("source"))
        logger.info("night %s%s: %d supplied candidates", run_date, of_shard, cands.height)
    else:
        chosen, models = models or champion_models(cfg)
        model = retriever(models)  # the retrieving model's vectors, whichever kind is served
        snapshot = snapshot or snapshots.shared(run_date, cfg, chosen["version"], read_columns(models))

        def track_vectors() -> pl.DataFrame:  # once per night and machine, for every shard
            con = connect(cfg, read_only=True)
            try:
                known = run_sql(con, "nightly/known_tracks", params).pl()["track_id"]
            finally:
                con.close()
            return snapshot_vectors(model, snapshot, pl.Series("user_id", [], dtype=pl.String), known)[1]

        tracks = snapshots.kept_frame(run_date, cfg, chosen["version"], "track_vectors", track_vectors)
        users, _ = snapshot_vectors(model, snapshot, active["user_id"], tracks["track_id"].head(1))
        taste = taste_candidates(users, tracks, recent, cfg.candidates_k).with_columns(pl.lit("taste").alias("source"))
        rotation = (
            recent.sort(["user_id", "plays", "last_ts", "track_id"], descending=[False, True, True, False])
            .group_by("user_id", maintain_order=True).head(cfg.rotation_k)
            .select("user_id", "track_id", pl.lit("rotation").alias("source"))
        )
        cands = in_shard(pl.concat([taste, rotation]).unique(["user_id", "track_id"], keep="first", maintain_order=True),
                         None, cfg.nightly_shards)
        logger.info("night %s%s: %d active listeners, %d taste + %d rotation candidates", run_date, of_shard, active.height,
                    taste.height, rotation.height)
    clear = ("nightly/delete_candidates", params) if shard is None else ("nightly/delete_shard_candidates", params)
    _replace(cfg, {"new_candidates": cands.select("shard", "user_id", "track_id", "source")},
             [clear, ("nightly/insert_candidates", params)])
    return cands.height


# --- 4. scoring -------------------------------------------------------------------------------


def score_rows(rows: pl.DataFrame, served, baseline, batch_rows: int, label: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The served model's and the baseline's probabilities for feature rows, in batches, logging progress."""
    p_served, p_base = [], []
    t0 = time.perf_counter()
    for lo in range(0, rows.height, batch_rows):
        part = rows.slice(lo, batch_rows)
        served_part, base_part = predict_pair(served, baseline, part)
        p_served.append(served_part)
        p_base.append(base_part)
        done = min(lo + batch_rows, rows.height)
        logger.info("%sscored %d/%d rows (%.0f rows/s)", label, done, rows.height, done / max(time.perf_counter() - t0, 1e-9))
    if not p_served:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(p_served), np.concatenate(p_base)


SHAP_SCHEMA = {"user_id": pl.String, "track_id": pl.String, "model": pl.String, "rank": pl.Int64, "block": pl.String, "shap": pl.Float64}


def explain_sample(rows: pl.DataFrame | None, models: dict, k: int, seed: int, top: int = 10) -> pl.DataFrame:
    """SHAP reasons (top blocks per pair, every model) for a seeded sample of k scored rows; the
    background of an explainer that needs one is another seeded sample of the same rows."""
    from skipify.explain import local_reasons

    if rows is None or rows.is_empty() or k <= 0:
        return pl.DataFrame(schema=SHAP_SCHEMA)
    rng = np.random.default_rng(seed)
    sample = rows[np.sort(rng.choice(rows.height, min(k, rows.height), replace=False))]
    background = rows[np.sort(rng.choice(rows.height, min(100, rows.height), replace=False))]
    keys = sample.select("user_id", "track_id")
    parts = [local_reasons(*values, keys, top).with_columns(pl.lit(name).alias("model"))
             for name, values in explain_each(models, sample, background, seed=seed).items()]
    return pl.concat(parts).select(list(SHAP_SCHEMA)).cast(SHAP_SCHEMA)


def share_snapshot(run_date: dt.date, cfg: Config | None = None) -> Path:
    """Build the night's serving snapshot once and write it on this machine for every shard task of the night
    and the API's workers to map (skipify.snapshots; the Airflow DAG's candidates task calls it).

    Returns:
        The snapshot's folder.
    """
    from skipify import snapshots

    cfg = cfg or load_config()
    chosen, models = champion_models(cfg)
    snapshots.shared(run_date, cfg, chosen["version"], read_columns(models), fresh=True)
    return snapshots.folder(run_date, chosen["version"], cfg)


def night_shard(run_date: dt.date, shard: int, cfg: Config | None = None, snapshot=None, models=None) -> int:
    """One shard of the night's listeners: their candidates (:func:`make_candidates`), then their scores
    (:func:`score_shard`), on the night's shared snapshot; returns the rows scored. The Airflow DAG maps it
    over the shards; ``run_night`` runs it for each, in its worker processes or in turn."""
    from skipify import snapshots

    cfg = cfg or load_config()
    models = models or champion_models(cfg)
    # mapped once for both steps (its lookups are made on first use, per process)
    snapshot = snapshot or snapshots.shared(run_date, cfg, models[0]["version"], read_columns(models[1]))
    make_candidates(run_date, cfg, shard, snapshot, models)
    return score_shard(run_date, shard, cfg, snapshot, models)


def score_shard(run_date: dt.date, shard: int, cfg: Config | None = None, snapshot=None, models=None) -> int:
    """Score one shard's candidates into scores.staged_scores (replacing that shard); returns rows.

    Feature rows come from the serving snapshot as of the night (skipify.serving, what the API
    uses): the history folded once, each candidate in the listener's habitual context as the first
    play of a session on the night's day. They equal the training SQL's rows for the same probes
    (tests/api/test_serving.py). ``snapshot`` and ``models`` (champion_models' pair): already
    loaded by the caller for every shard of the night (run_night); an Airflow task maps the night's
    shared snapshot (:func:`share_snapshot`), or builds it when this machine has none.
    """
    from skipify import snapshots
    from skipify.serving import request_frame

    cfg = cfg or load_config()
    params = {"run_date": run_date, "shard": shard}
    chosen, models = models or champion_models(cfg)
    served, baseline = served_and_baseline(chosen, models)
    con = connect(cfg, read_only=True)
    try:
        cands = run_sql(con, "nightly/shard_candidates", params).pl()
    finally:
        con.close()
    rows = None
    if cands.height:
        features = read_columns(models)  # what the models read: families without them are skipped
        snapshot = snapshot or snapshots.shared(run_date, cfg, chosen["version"], features)
        rows, _ = snapshot.rows(request_frame(cands.select("user_id", "track_id")), features)
    if rows is None:
        out = pl.DataFrame(schema={"user_id": pl.String, "track_id": pl.String, "source": pl.String,
                                   "p_dislike": pl.Float64, "p_dislike_baseline": pl.Float64})
    else:
        p_served, p_base = score_rows(rows, served, baseline, cfg.scoring_batch_rows, f"night {run_date} shard {shard}: ")
        out = cands.with_columns(pl.Series("p_dislike", p_served), pl.Series("p_dislike_baseline", p_base))
    reasons = explain_sample(rows, models, -(-cfg.shap_night_sample // cfg.nightly_shards), seed=cfg.seed + shard)
    _replace(cfg, {"new_scores": out, "new_shap": reasons},
             [("nightly/delete_staged", params), ("nightly/insert_staged", {**params, "model_version": chosen["version"]}),
              ("nightly/delete_staged_shap", params), ("nightly/insert_staged_shap", params)])
    return out.height


# --- 5. publish -------------------------------------------------------------------------------


def night_checks(con, run_date: dt.date, cfg: Config) -> list[str]:
    """The failed checks of the staged night, as 'name: detail' (empty: all passed)."""
    rows = run_sql(con, "nightly/checks", {"run_date": run_date, "min_ratio": cfg.row_count_min_ratio,
                                           "max_ratio": cfg.row_count_max_ratio}).fetchall()
    return [f"{name}: {detail}" for name, failed, detail in rows if failed]


def _record_run(con, report: NightReport, started_at: dt.datetime) -> None:
    """The end of a run: its final row replaces its running row (same transaction as the caller's)."""
    run_sql(con, "nightly/record_run", {
        "run_id": report.run_id, "run_date": report.run_date, "started_at": started_at, "status": report.status,
        "model_version": report.model_version, "rows": json.dumps(report.rows), "seconds": json.dumps(report.seconds),
        "reason": report.reason, "risk_threshold": report.risk_threshold,
    })
    run_sql(con, "nightly/end_running", {"run_id": report.run_id})


def record_failure(run_date: dt.date, reason: str, cfg: Config, run_id: str | None = None,
                   started_at: dt.datetime | None = None, seconds: dict | None = None) -> NightReport:
    """Record a failed attempt in ops.runs (the published night is left as it was)."""
    report = NightReport(run_id or uuid.uuid4().hex[:12], run_date, "failed", None, {}, seconds or {}, reason)
    con = connect(cfg)
    try:
        def write():
            with transaction(con):
                _record_run(con, report, started_at or dt.datetime.now(dt.UTC))

        with_retry(write)
    finally:
        con.close()
    return report


def publish(run_date: dt.date, cfg: Config | None = None, run_id: str | None = None,
            started_at: dt.datetime | None = None, seconds: dict | None = None) -> NightReport:
    """Check the staged night and, if it passes, replace the published night in one transaction.

    Raises:
        NightFailed: a check failed; the run is recorded as failed in ops.runs, nothing else changes.
    """
    cfg = cfg or load_config()
    run_id = run_id or uuid.uuid4().hex[:12]
    started_at = started_at or dt.datetime.now(dt.UTC)
    seconds = dict(seconds or {})
    t0 = time.perf_counter()
    from skipify.guard import backtest_on, in_force, nights_before
    from skipify.versions import find_version

    chosen = find_version(None, cfg)  # the registry row is enough: the models were used by the shards
    # at risk from the threshold in force: the one a product manager chose last, else the config's, else validation's
    params = {"run_date": run_date, "cutoff": cutoff_of(run_date), "threshold": in_force(cfg, chosen).threshold,
              "min_listeners": cfg.profile_min_listeners}
    con = connect(cfg)
    try:
        failed = night_checks(con, run_date, cfg)
        if failed:
            reason = "; ".join(failed)
            report = NightReport(run_id, run_date, "failed", chosen["version"], {}, seconds, reason)

            def write_failure():
                with transaction(con):
                    _record_run(con, report, started_at)

            with_retry(write_failure)
            logger.error("night %s failed its checks: %s", run_date, reason)
            raise NightFailed(f"night {run_date} not published: {reason}")

        def write():
            with transaction(con):
                for table in PUBLISHED:
                    run_sql(con, f"nightly/delete_{table}", params)
                for table in PUBLISHED:
                    insert_sql(con, f"scores.{table}", f"nightly/publish_{table}", params)
                counts = run_sql(con, "nightly/night_counts", params).pl().row(0, named=True)
                run_sql(con, "nightly/clear_staging", params)
                run_sql(con, "nightly/clear_staged_shap", params)
                # the nights before this one, their days' plays now in: what the guard would have done (skipify.guard)
                counts["backtested_plays"] = sum(backtest_on(con, nights_before(run_date, cfg, con), cfg).values())
                seconds["publish"] = round(time.perf_counter() - t0, 2)
                report = NightReport(run_id, run_date, "published", chosen["version"], counts, seconds,
                                     risk_threshold=params["threshold"])
                _record_run(con, report, started_at)
                return report

        report = with_retry(write)
    finally:
        con.close()
    logger.info("night %s published: %s", run_date, report.rows)
    return report


# --- the whole night ------------------------------------------------------------------------


_worker: dict = {}  # in a process of ShardWorkers: its configuration, models and mapped snapshot


def _worker_start(cfg: Config, version: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from skipify.versions import load_version

    _worker.update(cfg=cfg, models=load_version(version, cfg))


def _worker_columns() -> set[str]:
    return read_columns(_worker["models"][1])


def _worker_shard(run_date: dt.date, shard: int) -> int:
    from skipify import snapshots

    cfg, models = _worker["cfg"], _worker["models"]
    if _worker.get("night") != run_date:  # mapped once per process, not once per shard
        _worker.update(night=run_date, snapshot=snapshots.shared(run_date, cfg, models[0]["version"], read_columns(models[1])))
    return night_shard(run_date, shard, cfg, _worker["snapshot"], models)


class ShardWorkers:
    """``workers`` processes that run ``night_shard`` side by side (spawned: Polars' and torch's threads do not
    survive a fork), each loading the version's models once and mapping the night's snapshot, which must be
    written on this machine (:func:`share_snapshot`); the machine's cores are split between them (torch's
    threads). Started first thing in the night (``run_night``), so that their start and their loading the models
    go on while the night ingests, builds the features and the snapshot.

        with ShardWorkers(cfg, version, 2) as pool:
            ...
            rows = pool.run(run_date, shards)
    """

    def __init__(self, cfg: Config, version: str, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.version, self.workers, self.threads = version, workers, max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                                        initargs=(cfg, version, self.threads))
        for _ in range(workers):  # one process started per task waiting
            self.pool.submit(int)

    def __enter__(self) -> "ShardWorkers":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(cancel_futures=True)

    def columns(self) -> set[str]:
        """The feature columns the version's models read, from a worker (which holds them: this process need not)."""
        return self.pool.submit(_worker_columns).result()

    def run(self, run_date: dt.date, shards: list[int]) -> list[int]:
        """The rows each shard scored; the first failure is raised."""
        logger.info("night %s: %d shards in %d processes of %d thread(s)", run_date, len(shards), self.workers, self.threads)
        return list(self.pool.map(_worker_shard, [run_date] * len(shards), shards))


def run_night(run_date: dt.date, cfg: Config | None = None) -> NightReport:
    """One night end to end (``skipify nightly``); a failure is recorded in ops.runs and re-raised."""
    cfg = cfg or load_config()
    run_id = uuid.uuid4().hex[:12]
    started_at = dt.datetime.now(dt.UTC)
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:  # a stage run once per shard adds up
        nonlocal t
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - t, 2)
        logger.info("night %s stage %s: %.1fs", run_date, name, seconds[name])
        t = time.perf_counter()

    shards = list(range(cfg.nightly_shards))
    try:
        with contextlib.ExitStack() as stack:
            pool = _shard_workers(cfg, min(cfg.nightly_workers, len(shards)), stack)
            begin_run(run_date, run_id, this_process(), cfg, started_at)
            ingest_landing(run_date, cfg)
            lap("ingest")
            build_night_features(run_date, cfg)
            lap("features")
            from skipify import snapshots

            if pool is not None:  # the workers hold the version's models (loaded meanwhile): this process does not
                models, version, columns = None, pool.version, pool.columns()
            else:
                models = champion_models(cfg)
                version, columns = models[0]["version"], read_columns(models[1])
            # once for all shards, and written for the API's workers to map
            snapshot = snapshots.shared(run_date, cfg, version, columns, fresh=True)
            lap("snapshot")
            if pool is not None and snapshots.existing(run_date, cfg, version, columns) is not None:
                pool.run(run_date, shards)
            else:  # one process (or a snapshot held in this one's memory only: the workers could not map it)
                models = models or champion_models(cfg)
                for shard in shards:
                    night_shard(run_date, shard, cfg, snapshot, models)
            lap("shards")
    except NightFailed:
        raise
    except Exception as exc:
        record_failure(run_date, f"{type(exc).__name__}: {exc}", cfg, run_id, started_at, seconds)
        raise
    return publish(run_date, cfg, run_id, started_at, seconds)


def _shard_workers(cfg: Config, workers: int, stack: contextlib.ExitStack) -> ShardWorkers | None:
    """The night's worker processes, started now for the version that will score it (None: one process, or no
    version yet: the night then fails where it loads the models, as it would without workers)."""
    if workers <= 1:
        return None
    from skipify.versions import find_version

    try:
        chosen = find_version(None, cfg)  # the version champion_models loads
    except ValueError as exc:  # no version yet: champion_models says so, later in the night
        logger.info("no version to start the night's workers with (%s): the shards run in this process", exc)
        return None
    _say_if_no_champion(chosen)
    return stack.enter_context(ShardWorkers(cfg, chosen["version"], workers))


def backfill(start: dt.date, end: dt.date, cfg: Config | None = None) -> list[NightReport]:
    """Nights start..end (inclusive) in order; stops at the first failure."""
    if end < start:
        raise ValueError(f"backfill end {end} is before its start {start}")
    cfg = cfg or load_config()
    out = []
    day = start
    while day <= end:
        out.append(run_night(day, cfg))
        day += dt.timedelta(days=1)
    return out
