"""``skipify train``: features, LightGBM baseline, deep model, evaluation, registry and gate.

    $ skipify train --as-of 2026-03-03 --device auto

Each stage prints its time; the version's artefacts land in ``<SKIPIFY_HOME>/models/<version>/``
and its row in models.registry, promoted to champion only if the gate says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from skipify.config import Config, cutoff_of, load_config, logger
from skipify.data import Splits, sample_rows, segments, stream_rows, time_splits, version_splits, window_start
from skipify.embeddings import tower_vectors, write_vectors
from skipify.evaluate import baseline_scores, domain_figures, evaluate, truth_for
from skipify.features import build_features, default_as_of
from skipify.metrics import roc_auc
from skipify.models.history import SEQUENCES
from skipify.models.base import Model, Resources, explain_each, predict_each, retriever
from skipify.models.domains import own_folder
from skipify.models.kinds import KINDS, load_models
from skipify.registry import SameRows, champion, gate, register, served_kind
from skipify.tune import tuned_configs
from skipify.versions import find_version, load_version, version_folder
from skipify.warehouse import connect, run_sql, scratch_folder, transaction, with_retry


def shap_importance(models: dict[str, Model], splits: Splits, cfg: Config) -> pl.DataFrame:
    """Global SHAP importances of every model on a seeded sample of test rows (model, rank, block, mean_abs_shap)."""
    from skipify.explain import global_importance

    sample = sample_rows(splits.test, cfg.shap_sample, cfg.seed, cfg.train_chunk_rows)
    background = sample_rows(splits.train, cfg.shap_background, cfg.seed, cfg.train_chunk_rows)
    t0 = time.perf_counter()
    out = [global_importance(*values).with_columns(pl.lit(name).alias("model"))
           for name, values in explain_each(models, sample, background, seed=cfg.seed).items()]
    logger.info("SHAP importances of %d models on %d test rows (%.1fs)", len(models), sample.height, time.perf_counter() - t0)
    return pl.concat(out).select("model", "rank", "block", "mean_abs_shap")


def _evaluate_models(models: dict[str, Model], splits: Splits, cfg: Config,
                     own: dict[str, dict[str, Model]] | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Every model (and the baselines) on validation (thresholds, the served kind) and test; also the test scores.
    With several domains in the rows, each domain's candidates (the joint models and its ``own``) on its rows
    (``domains``: skipify.evaluate.domain_figures)."""
    valid, test = predict_each(models, splits.valid), predict_each(models, splits.test)
    out = evaluate(valid, test, splits, cfg.truth_path)
    domains = domain_figures(valid, test, own or {}, splits, served_kind(out["summary"]))
    if domains:
        out["domains"] = domains
    return out, test


def champion_on_same_rows(current: dict | None, test: pl.DataFrame, scores: dict[str, np.ndarray], resources: Resources,
                          cfg: Config) -> SameRows | None:
    """The champion's models and the challenger's on the same rows: the challenger's test rows from the
    champion's own test window on (days the champion neither trained nor validated on), every kind.

    A champion that cannot be loaded or cannot read today's rows is reported with the error, not raised.
    """
    if current is None:
        return None
    since = cutoff_of(current["test_from"])
    keep = (test["ts"] >= since).to_numpy()
    first = keep.size - int(keep.sum())  # rows in time order: the days kept are the last ones, a slice (not a copy)
    rows = test.slice(first) if keep[first:].all() else test.filter(pl.Series(keep))
    same = SameRows(current["version"], current["served_model"], rows.height,
                    str(rows["ts"].min().astimezone(dt.UTC).date()) if rows.height else None)
    if rows.height == 0:
        return same
    y = rows["label"].to_numpy()
    try:
        champ = load_models(version_folder(current["version"], cfg), resources, current["kinds"])
        same.champion = {name: roc_auc(y, p) for name, p in predict_each(champ, rows).items()}
        same.challenger = {name: roc_auc(y, p[keep]) for name, p in scores.items()}
    except Exception as exc:  # noqa: BLE001 - a champion that cannot score today's rows must not cost the new version
        same.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        logger.error("the champion %s could not be scored on the challenger's test rows: %s", current["version"], same.error)
    return same


def train(
    as_of: dt.date | None = None,
    device: str = "auto",
    cfg: Config | None = None,
    configs: dict[str, Any] | None = None,
    epochs: int | None = None,
    warm_start: str | None = None,
    version: str | None = None,
    inputs_key: str | None = None,
) -> dict:
    """Train every model kind on the time splits, evaluate on test, register the version and run the gate.

    Args:
        as_of: feature cut-off (default: the day after the last play).
        device: auto | cpu | cuda for the deep model.
        cfg: configuration.
        configs: kind -> its hyperparameters (a kind not given: the chosen values of its latest
            `skipify tune` run, else its defaults, with epochs from the config).
        epochs: maximum epochs per stage of a kind trained in epochs, overriding its configuration's.
        warm_start: a version to start from ("" or "served": the one the night serves, the champion
            else the newest): its models are trained on, each kind its own way (more trees; the deep
            model's end-to-end stage for ``warm_start_epochs``), on the training plays since that
            version's training window ended; validation, test, evaluation and gate as for any version.
        version: the id to register it under (default: the clock's, ``%Y%m%d-%H%M%S``).
        inputs_key: what it was trained from (retrain_key), kept in its params.

    Returns:
        version, evaluation, the gate's verdict, reasons and served kind, seconds per stage.
    """
    cfg = cfg or load_config()
    lap = _Stages()
    as_of = as_of or default_as_of(cfg)
    # no version to start from ends a warm start here, before the features and rows are read
    source = _version_to_start_from(warm_start, cfg) if warm_start is not None else None
    build_features(as_of, cfg)
    lap("features")
    with scratch_folder(cfg) as scratch:  # the mapped rows and tensors of this training, removed when it ends
        return _train(as_of, cfg, lap, source, scratch, device, configs, epochs, version, inputs_key)


def _train(as_of: dt.date, cfg: Config, lap: "_Stages", source, scratch: Path, device: str, configs: dict[str, Any] | None,
           epochs: int | None, version: str | None, inputs_key: str | None) -> dict:
    """train() from the rows on, with ``scratch`` the folder of its mapped files."""
    # the history encoder reads the sequences; the rows are written in chunks and mapped (stream_rows)
    splits = time_splits(stream_rows(scratch / "rows", cfg, sequences=True, since=window_start(cfg, as_of), until=as_of), cfg)
    resources = Resources(cfg, scratch)
    lap("load")
    models, tuning, started = _fit_kinds(splits, resources, cfg, device, configs or {}, epochs, source, lap)
    own = _fit_domains(splits, resources, cfg, device, configs or {}, epochs, lap)
    evaluation, test_scores = _evaluate_models(models, splits, cfg, own)
    lap("evaluate")
    vectors = tower_vectors(retriever(models), as_of, cfg)  # the vectors that serve candidate retrieval
    lap("vectors")
    importance = shap_importance(models, splits, cfg)
    lap("shap")
    version = version or dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = cfg.models_dir / version
    artefacts = _save(models, evaluation, folder, own)
    params = {**{name: asdict(m.config) for name, m in models.items()}, "fitted": {name: m.fitted for name, m in models.items()},
              "domains": {d: {"fitted": {name: m.fitted for name, m in mine.items()}} for d, mine in own.items()},
              "tuning_run": tuning, "inputs_key": inputs_key,
              "warm_start": {"from": started[0]["version"], "rows": started[2].height} if started is not None else None}
    row = {"version": version, "as_of": as_of, **splits.dates, "params": json.dumps(params, default=str),
           "metrics": json.dumps(evaluation, default=float), "artefacts": json.dumps(artefacts), "kinds": list(models)}
    verdict = _register(row, evaluation, splits.test, test_scores, resources, vectors, importance, folder, cfg)
    lap("register")
    return {"version": version, "evaluation": evaluation, "promoted": verdict.promoted, "reasons": verdict.reasons,
            "served_model": verdict.served_model, "gate": verdict.figures, "stages": lap.seconds, "stage_peak_mb": lap.peak_mb, "folder": str(folder),
            "warm_start": params["warm_start"]}


class _Stages:
    """Times the stages of a training: ``lap(name)`` logs and keeps the seconds since the previous lap, and the
    process's peak memory so far (max RSS, MiB): the stage where it jumps is the one that holds the most."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        self.seconds[name] = round(time.perf_counter() - self.t, 2)
        self.peak_mb[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # Linux: KiB
        logger.info("stage %s: %.1fs, peak memory so far %s MiB", name, self.seconds[name], f"{self.peak_mb[name]:,.0f}")
        self.t = time.perf_counter()


def _save(models: dict[str, Model], evaluation: dict, folder: Path, own: dict[str, dict[str, Model]]) -> dict[str, str]:
    """Every model's artefacts (a domain's own models under domain-<name>/) and the evaluation in the version's
    folder; name -> path."""
    artefacts = {k: v for m in models.values() for k, v in m.save(folder).items()}
    artefacts |= {f"{d}/{k}": v for d, mine in own.items() for m in mine.values() for k, v in m.save(own_folder(folder, d)).items()}
    (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=1, default=float))
    return artefacts


def _register(row: dict, evaluation: dict, test: pl.DataFrame, test_scores: dict[str, np.ndarray], resources: Resources,
              vectors: tuple, importance: pl.DataFrame, folder: Path, cfg: Config):
    """The gate and the registration, in one transaction: the champion scored on this version's test rows (before
    the transaction: it takes seconds; again inside it if another version became champion meanwhile), the
    verdict, the registry row, the tower vectors, the artefacts' bytes and the SHAP importances."""
    version = row["version"]
    con = connect(cfg)
    con.register("new_shap_global", importance.to_arrow())
    try:
        def score_champion(current: dict | None) -> tuple[str | None, SameRows | None]:
            return (current or {}).get("version"), champion_on_same_rows(current, test, test_scores, resources, cfg)

        scored = score_champion(champion(con))

        def record():
            nonlocal scored
            with transaction(con):
                current = champion(con)
                if scored[0] != (current or {}).get("version"):  # a new champion meanwhile (rare): score that one
                    scored = score_champion(current)
                verdict = gate(evaluation["summary"], scored[1], cfg.gate_tolerance, cfg.gate_min_test_rows,
                               evaluation.get("domains"), row["kinds"])
                register(con, row, verdict)
                write_vectors(con, version, row["as_of"], *vectors)
                run_sql(con, "models/insert_artifacts", {"version": version, "files": str(folder / "**"), "folder": f"{folder}/"})
                run_sql(con, "models/insert_shap_global", {"version": version})
                return verdict

        return with_retry(record)
    finally:
        con.close()


def _fit_kinds(splits: Splits, resources: Resources, cfg: Config, device: str, configs: dict[str, Any], epochs: int | None,
               source: tuple[dict, dict[str, Model]] | None, lap: Callable[[str], None]):
    """Every kind of KINDS trained, in order: from scratch (the given configuration, else the latest tuning run's,
    else the defaults), or, with a version to start from (``source``), each of its kinds trained on from its
    weights (a kind it does not hold, from scratch). A kind may read the ones trained before it
    (``resources.trained``). Returns (models, the tuning run each configuration came from, the warm start)."""
    tuned = tuned_configs(cfg)
    tuning = {name: tuned[name][0] if name in tuned and configs.get(name) is None else None for name in KINDS}
    started = _warm_start_rows(*source, splits) if source is not None else None
    models: dict[str, Model] = {}
    resources.trained = models
    for name, kind in KINDS.items():
        if started is not None and name in started[1]:
            models[name] = kind.warm_start(started[1][name], started[2], splits.valid, resources, device)
        else:
            base = configs.get(name) or (tuned[name][1] if name in tuned else None)
            models[name] = kind.fit(splits.train, splits.valid, kind.configure(base, cfg, device, epochs), resources)
        lap(name)
    return models, tuning, started


def _fit_domains(splits: Splits, resources: Resources, cfg: Config, device: str, configs: dict[str, Any], epochs: int | None,
                 lap: Callable[[str], None]) -> dict[str, dict[str, Model]]:
    """Every kind trained on one domain's plays alone, for each domain but the one with the most training plays
    that has at least ``domain_models_min_rows`` training and validation plays (docs/domains.md: what the gate
    compares per domain); configured as the joint kinds (given, tuned or the defaults), always from scratch
    (a warm start goes on with the joint models only). Returns domain -> kind -> model."""
    if cfg.domain_models_min_rows <= 0 or "t_domain" not in splits.train.columns:
        return {}
    counts = dict(splits.train.select("t_domain").group_by("t_domain").len().iter_rows())
    largest = max(counts, key=lambda d: (counts[d], d), default=None)
    tuned = tuned_configs(cfg)
    out: dict[str, dict[str, Model]] = {}
    for i, domain in enumerate(sorted(counts)):
        part = (splits.of_domain(domain, None if resources.scratch is None else resources.scratch / f"domain-{i}",
                                 cfg.train_chunk_rows) if domain != largest else None)
        if part is None or min(part.train.height, part.valid.height) < cfg.domain_models_min_rows:
            continue
        logger.info("%s alone: %s training, %s validation rows", domain, f"{part.train.height:,}", f"{part.valid.height:,}")
        mine: dict[str, Model] = {}
        alone = Resources.like(resources)
        alone.trained = mine
        for name, kind in KINDS.items():
            base = configs.get(name) or (tuned[name][1] if name in tuned else None)
            mine[name] = kind.fit(part.train, part.valid, kind.configure(base, cfg, device, epochs), alone)
        out[domain] = mine
        lap(f"{domain} alone")
    return out


def outcome(result: dict) -> str:
    """One line on a training (train's or retrain's result): how, the verdict, each kind's test ROC AUC."""
    s, labels = result["evaluation"]["summary"], result["evaluation"].get("kinds", {})
    how = f"warm-started from {result['warm_start']['from']}" if result.get("warm_start") else "trained from scratch"
    aucs = ", ".join(f"{labels.get(k, {}).get('label', k)} {s[f'{k}_roc_auc']:.4f}" for k in labels)
    return (f"version {result['version']} ({how}) {'promoted to champion' if result['promoted'] else 'not promoted'}, "
            f"serves {result['served_model']}: test ROC AUC {aucs}; {'; '.join(result['reasons'])}")


class NothingToWarmStart(ValueError):
    """No version to start from, or no training plays after its window."""


# settings that say where things are or how the servers run, not what a training learns
_NOT_TRAINING = ("home", "world_dir", "models_dir", "serve_", "app_", "log_", "warehouse_", "catalog", "data_path", "s3_",
                 "nightly_", "sql_timeout", "duckdb_")


def retrain_key(as_of: dt.date, cfg: Config) -> str:
    """What a retrain as of ``as_of`` trains from, as a hash: the date, the plays before its cut-off (count,
    batches, newest ingest: sql/models/retrain_inputs.sql), every feature definition (its SQL and settings),
    the latest tuning run of each kind and the training settings. The same key: the same training."""
    from skipify.catalogue import families
    from skipify.features import definition_hash

    con = connect(cfg, read_only=True)
    try:
        plays = run_sql(con, "models/retrain_inputs", {"cutoff": cutoff_of(as_of)}).fetchone()
    finally:
        con.close()
    settings = {k: v for k, v in sorted(asdict(cfg).items()) if not k.startswith(_NOT_TRAINING) and not isinstance(v, Path)}
    what = {"as_of": as_of, "plays": plays, "features": sorted(definition_hash(d, cfg) for d in families()),
            "tuning": {name: run for name, (run, _) in sorted(tuned_configs(cfg).items())}, "settings": settings}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def retrain(as_of: dt.date, cfg: Config | None = None) -> dict:
    """What the retrain DAG runs each day: a full training on ``retrain_full_weekday`` (or every day when it
    is unset), else a warm start of the served version; a full one too when there is nothing to warm-start
    from (no version yet) or on (no plays after the served version's training window).

    Idempotent per date: the version's id is the date and the hash of what it trains from (retrain_key);
    when a version with that id is registered already (the DAG run again for the same date, nothing new
    since), it is returned as it was, nothing trained or registered."""
    cfg = cfg or load_config()
    key = retrain_key(as_of, cfg)
    version = f"{as_of:%Y%m%d}-{key[:8]}"
    done = _registered(version, cfg)
    if done is not None:
        logger.info("retrain %s: version %s is registered already from the same plays, features, tuning and settings: "
                    "nothing to train", as_of, version)
        return done
    if cfg.retrain_full_weekday is not None and as_of.weekday() != cfg.retrain_full_weekday:
        try:
            return train(as_of, cfg=cfg, warm_start="served", version=version, inputs_key=key)
        except NothingToWarmStart as exc:
            logger.info("retrain %s: no warm start (%s): training from scratch", as_of, exc)
    return train(as_of, cfg=cfg, version=version, inputs_key=key)


def _registered(version: str, cfg: Config) -> dict | None:
    """A registered version as train() reports it (the gate's verdict as it was), or None."""
    try:
        row = find_version(version, cfg)
    except ValueError:
        return None
    params = json.loads(row["params"] or "{}")
    figures = json.loads(row["gate_figures"]) if row.get("gate_figures") else {}
    return {"version": version, "evaluation": json.loads(row["metrics"]), "promoted": row["gate_verdict"] == "promoted",
            "reasons": [row["gate_reasons"]] if row["gate_reasons"] else [], "served_model": row["served_model"],
            "gate": figures, "stages": {}, "folder": str(cfg.models_dir / version), "warm_start": params.get("warm_start"),
            "already_trained": True}


def _version_to_start_from(version: str, cfg: Config) -> tuple[dict, dict[str, Model]]:
    """(the registry row, the models) of the version a warm start goes on from ("" or "served": the one the
    night serves).

    Raises:
        NothingToWarmStart: no such version (none trained yet).
    """
    try:
        return load_version(None if version in ("", "served") else version, cfg)
    except ValueError as exc:
        raise NothingToWarmStart(str(exc)) from exc


def _warm_start_rows(row: dict, models: dict[str, Model], splits: Splits) -> tuple[dict, dict[str, Model], pl.DataFrame]:
    """(the version started from, its models, the training rows since its training window ended).

    Raises:
        NothingToWarmStart: no training plays after its window.
    """
    since = (row["valid_from"] - dt.date(1970, 1, 1)).days  # its training window ended the day before
    new = splits.train.filter(pl.col("day") >= since)
    if new.is_empty():
        raise NothingToWarmStart(f"no training plays after version {row['version']}'s training window (it ended before "
                         f"{row['valid_from']}; this run's training window ends before {splits.dates['valid_from']}): "
                         "nothing to warm-start on")
    logger.info("warm start from version %s: %s training rows since %s", row["version"], f"{new.height:,}", row["valid_from"])
    return row, models, new


def _reads_sequences(models: dict[str, Model]) -> bool:
    return any(c in m.columns for m in models.values() for cols in SEQUENCES.values() for c in cols)


def _version_rows(chosen: dict, models: dict[str, Model], cfg: Config) -> pl.DataFrame:
    """The feature rows from the first day a version trained on: those its splits read (a version trained
    in a window is never evaluated by loading all history). Mapped, as training's (stream_rows): the file is
    removed at once, its pages stay mapped until the frame is gone."""
    with scratch_folder(cfg) as scratch:
        return stream_rows(scratch, cfg, sequences=_reads_sequences(models), since=dt.date.fromisoformat(str(chosen["train_from"])))


def evaluate_version(version: str | None = None, cfg: Config | None = None) -> dict:
    """Load a registered version's artefacts and evaluate it on the days after its validation ended.

    Never on the current configuration's test window: widened, it would reach into the version's own
    training or validation days and inflate its figures. The days used are in the summary (test_from,
    test_to) and its split_notes.

    Args:
        version: a registered version (default: the champion, else the newest).
    """
    cfg = cfg or load_config()
    chosen, models = load_version(version, cfg)
    splits = version_splits(_version_rows(chosen, models, cfg), chosen)
    out, _ = _evaluate_models(models, splits, cfg, chosen.get("domain_models"))
    out["version"] = chosen["version"]
    out["status"] = chosen["status"]
    out["served_model"] = chosen["served_model"]
    return out


def test_predictions(version: str | None = None, cfg: Config | None = None) -> pl.DataFrame:
    """The test rows with every model's and baseline's score (and ``p_true`` when a truth file exists).

    Columns: user_id, track_id, ts, label, segment flags, one column per model, p_true.
    """
    cfg = cfg or load_config()
    chosen, models = load_version(version, cfg)
    splits = version_splits(_version_rows(chosen, models, cfg), chosen)
    test = splits.test
    scores = {**{name: m.predict(test) for name, m in models.items()}, **baseline_scores(test, splits.train)}
    out = test.select("user_id", "track_id", "ts", "label").with_columns(
        *[pl.Series(name, p) for name, p in scores.items()],
        *[pl.Series(s, m) for s, m in segments(test, splits).items()],
    )
    p_true = truth_for(test, cfg.truth_path)
    return out.with_columns(pl.Series("p_true", p_true) if p_true is not None else pl.lit(None, pl.Float64).alias("p_true"))
