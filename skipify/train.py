"""``skipify train``: features, LightGBM baseline, deep model, evaluation, registry and gate.

    $ skipify train --as-of 2026-03-03 --device auto

Each stage prints its time; the version's artefacts land in ``<SKIPIFY_HOME>/models/<version>/``
and its row in models.registry, promoted to champion only if the gate says so.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from dataclasses import asdict

import numpy as np
import polars as pl

from skipify.config import Config, load_config, logger
from skipify.data import Splits, load_rows, segments, time_splits, version_splits
from skipify.embeddings import tower_vectors, write_vectors
from skipify.evaluate import baseline_scores, evaluate, truth_for
from skipify.features import build_features, default_as_of
from skipify.models.history import TEXT_DIM
from skipify.models.deep import DeepConfig, DeepModel, load_deep, save_deep, train_deep
from skipify.models.lgbm import LGBMConfig, LGBMModel, train_lgbm
from skipify.registry import champion, gate, register
from skipify.tune import tuned_configs
from skipify.warehouse import connect, run_sql, transaction, with_retry


def track_vectors(cfg: Config) -> dict[str, np.ndarray]:
    """track_id -> its content vector: the MiniLM vector of its current text (zeros while not embedded),
    then its audio descriptors (sql/models/track_vectors.sql). The towers read the text part, the
    history encoder all of it."""
    con = connect(cfg, read_only=True)
    try:
        rows = run_sql(con, "models/track_vectors", {"model_name": cfg.text_model_name}).fetchall()
    finally:
        con.close()
    zero = np.zeros(TEXT_DIM, dtype=np.float32)
    return {k: np.concatenate([np.asarray(v, dtype=np.float32) if v is not None else zero, np.asarray(a, dtype=np.float32)])
            for k, v, a in rows}


def shap_importance(lgbm: LGBMModel, deep: DeepModel, splits: Splits, cfg: Config) -> pl.DataFrame:
    """Global SHAP importances of both models on a seeded sample of test rows (model, rank, block, mean_abs_shap)."""
    from skipify.explain import explain_deep, explain_lightgbm, global_importance

    sample = splits.test.sample(min(cfg.shap_sample, splits.test.height), seed=cfg.seed)
    background = splits.train.sample(min(cfg.shap_background, splits.train.height), seed=cfg.seed)
    t0 = time.perf_counter()
    out = []
    for name, (blocks, values) in (("deep", explain_deep(deep, sample, background, seed=cfg.seed)),
                                   ("lightgbm", explain_lightgbm(lgbm, sample))):
        out.append(global_importance(blocks, values).with_columns(pl.lit(name).alias("model")))
    logger.info("SHAP importances of both models on %d test rows (%.1fs)", sample.height, time.perf_counter() - t0)
    return pl.concat(out).select("model", "rank", "block", "mean_abs_shap")


def _evaluate_models(lgbm: LGBMModel, deep: DeepModel, splits: Splits, cfg: Config) -> dict:
    """Both models (and the baselines) on validation (thresholds) and test."""
    valid = {"lightgbm": lgbm.predict(splits.valid), "deep": deep.predict(splits.valid)}
    test = {"lightgbm": lgbm.predict(splits.test), "deep": deep.predict(splits.test)}
    return evaluate(valid, test, splits, cfg.truth_path)


def train(
    as_of: dt.date | None = None,
    device: str = "auto",
    cfg: Config | None = None,
    deep_config: DeepConfig | None = None,
    lgbm_config: LGBMConfig | None = None,
    epochs: int | None = None,
) -> dict:
    """Train every model on the time splits, evaluate on test, register the version and run the gate.

    Args:
        as_of: feature cut-off (default: the day after the last play).
        device: auto | cpu | cuda for the deep model.
        cfg: configuration.
        deep_config, lgbm_config: hyperparameters (default: the chosen values of the latest
            `skipify tune` run, else the dataclasses' defaults with epochs from the config).
        epochs: maximum epochs per deep stage, overriding the deep configuration's.

    Returns:
        version, evaluation, gate verdict and reasons, seconds per stage.
    """
    cfg = cfg or load_config()
    stages: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        stages[name] = round(time.perf_counter() - t, 2)
        logger.info("stage %s: %.1fs", name, stages[name])
        t = time.perf_counter()

    as_of = as_of or default_as_of(cfg)
    build_features(as_of, cfg)
    lap("features")
    splits = time_splits(load_rows(cfg, sequences=True), cfg)  # the history encoder reads the sequences
    text = track_vectors(cfg)
    lap("load")
    tuned = tuned_configs(cfg)
    tuning = {m: tuned[m][0] if m in tuned and c is None else None for m, c in (("lightgbm", lgbm_config), ("deep", deep_config))}
    if lgbm_config is None:
        lgbm_config = tuned["lightgbm"][1] if "lightgbm" in tuned else LGBMConfig(seed=cfg.seed, threads=cfg.duckdb_threads)
    if deep_config is None:
        deep_config = tuned["deep"][1] if "deep" in tuned else DeepConfig(epochs=cfg.train_epochs, seed=cfg.seed)
    deep_config = copy.deepcopy(deep_config)
    deep_config.device = device
    deep_config.history_len = cfg.history_len  # the sequences are as long as the features make them
    if epochs:
        deep_config.epochs = epochs
    lgbm = train_lgbm(splits.train, splits.valid, lgbm_config)
    lap("lightgbm")
    deep = train_deep(splits.train, splits.valid, text, deep_config)
    lap("deep")
    evaluation = _evaluate_models(lgbm, deep, splits, cfg)
    lap("evaluate")
    user_vecs, track_vecs = tower_vectors(deep, as_of, cfg)
    lap("vectors")
    importance = shap_importance(lgbm, deep, splits, cfg)
    lap("shap")

    version = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = cfg.models_dir / version
    artefacts = {**lgbm.save(folder), **save_deep(deep, folder)}
    (folder / "evaluation.json").write_text(json.dumps(evaluation, indent=1, default=float))
    params = {"lightgbm": asdict(lgbm.config), "lightgbm_best_iteration": lgbm.best_iteration, "deep": asdict(deep.config),
              "temperature": deep.temperature, "tuning_run": tuning}
    con = connect(cfg)
    con.register("new_shap_global", importance.to_arrow())
    try:
        def record():
            with transaction(con):
                current = champion(con)
                verdict = gate(evaluation["summary"], current["metrics"]["summary"] if current else None, cfg.gate_tolerance,
                               cfg.gate_min_test_rows)
                d = splits.dates
                register(con, {
                    "version": version, "as_of": as_of, "train_from": d["train_from"], "valid_from": d["valid_from"],
                    "test_from": d["test_from"], "test_to": d["test_to"], "params": json.dumps(params, default=str),
                    "metrics": json.dumps(evaluation, default=float), "artefacts": json.dumps(artefacts),
                }, verdict)
                write_vectors(con, version, as_of, user_vecs, track_vecs)
                run_sql(con, "models/insert_shap_global", {"version": version})
                return verdict

        verdict = with_retry(record)
    finally:
        con.close()
    lap("register")
    return {"version": version, "evaluation": evaluation, "promoted": verdict.promoted, "reasons": verdict.reasons,
            "stages": stages, "folder": str(folder)}


def find_version(version: str | None = None, cfg: Config | None = None) -> dict:
    """A registered version's registry row (default: the champion, else the newest).

    Raises:
        ValueError: no version trained yet, or an unknown version.
    """
    from skipify.registry import versions

    cfg = cfg or load_config()
    con = connect(cfg, read_only=True)
    try:
        known = versions(con)
    finally:
        con.close()
    if not known:
        raise ValueError("no trained model yet: run `skipify train`")
    if version is None:
        return next((v for v in known if v["status"] == "champion"), known[0])
    chosen = next((v for v in known if v["version"] == version), None)
    if chosen is None:
        raise ValueError(f"unknown model version {version!r}; known: {', '.join(v['version'] for v in known)}")
    return chosen


def load_version(version: str | None = None, cfg: Config | None = None) -> tuple[dict, LGBMModel, DeepModel]:
    """A registered version's registry row and its two models, loaded from the artefacts (see find_version)."""
    cfg = cfg or load_config()
    chosen = find_version(version, cfg)
    folder = cfg.models_dir / chosen["version"]
    return chosen, LGBMModel.load(folder), load_deep(folder, track_vectors(cfg))


def evaluate_version(version: str | None = None, cfg: Config | None = None) -> dict:
    """Load a registered version's artefacts and evaluate it on the days after its validation ended.

    Never on the current configuration's test window: widened, it would reach into the version's own
    training or validation days and inflate its figures. The days used are in the summary (test_from,
    test_to) and its split_notes.

    Args:
        version: a registered version (default: the champion, else the newest).
    """
    cfg = cfg or load_config()
    chosen, lgbm, deep = load_version(version, cfg)
    splits = version_splits(load_rows(cfg, sequences=deep.config.reads_sequences), chosen)
    out = _evaluate_models(lgbm, deep, splits, cfg)
    out["version"] = chosen["version"]
    out["status"] = chosen["status"]
    return out


def test_predictions(version: str | None = None, cfg: Config | None = None) -> pl.DataFrame:
    """The test rows with every model's and baseline's score (and ``p_true`` when a truth file exists).

    Columns: user_id, track_id, ts, label, segment flags, one column per model, p_true.
    """
    cfg = cfg or load_config()
    chosen, lgbm, deep = load_version(version, cfg)
    splits = version_splits(load_rows(cfg, sequences=deep.config.reads_sequences), chosen)
    test = splits.test
    scores = {"deep": deep.predict(test), "lightgbm": lgbm.predict(test), **baseline_scores(test, splits.train)}
    out = test.select("user_id", "track_id", "ts", "label").with_columns(
        *[pl.Series(name, p) for name, p in scores.items()],
        *[pl.Series(s, m) for s, m in segments(test, splits).items()],
    )
    p_true = truth_for(test, cfg.truth_path)
    return out.with_columns(pl.Series("p_true", p_true) if p_true is not None else pl.lit(None, pl.Float64).alias("p_true"))
