"""``skipify tune``: a small budgeted hyperparameter search on the validation split (Optuna TPE).

    $ skipify tune --model lightgbm --trials 12 --timeout 900

Each trial trains on the training split and is scored by its ROC AUC on validation; the test split
is never looked at. Every trial goes to models.tuning, the best per model marked ``chosen``;
``skipify train`` then trains with the chosen values of the latest run and records them with the
version. The search is seeded, so the same data and seed try the same values.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict

import numpy as np
import optuna
import polars as pl

from skipify.config import Config, load_config, logger
from skipify.data import Splits, load_rows, time_splits
from skipify.metrics import roc_auc
from skipify.models.deep import DeepConfig, train_deep
from skipify.models.lgbm import LGBMConfig, train_lgbm
from skipify.models.mlp import MLPConfig
from skipify.models.two_tower import TwoTowerConfig
from skipify.warehouse import connect, run_sql, transaction, with_retry

MODELS = ("lightgbm", "deep")


def lgbm_space(trial: optuna.Trial, cfg: Config) -> LGBMConfig:
    return LGBMConfig(
        num_leaves=trial.suggest_int("num_leaves", 15, 255, log=True),
        learning_rate=trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
        feature_fraction=trial.suggest_float("feature_fraction", 0.5, 1.0),
        lambda_l2=trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        seed=cfg.seed,
        threads=cfg.duckdb_threads,
    )


def deep_space(trial: optuna.Trial, cfg: Config) -> DeepConfig:
    width = trial.suggest_categorical("mlp_width", [64, 128, 256])
    return DeepConfig(
        tower=TwoTowerConfig(
            dim=trial.suggest_categorical("tower_dim", [16, 32, 64]),
            id_dropout=trial.suggest_float("id_dropout", 0.05, 0.4),
            dropout=trial.suggest_float("tower_dropout", 0.0, 0.3),
        ),
        mlp=MLPConfig(hidden=[width, width // 2, width // 4], dropout=trial.suggest_float("mlp_dropout", 0.0, 0.4)),
        lr=trial.suggest_float("lr", 3e-4, 5e-3, log=True),
        weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-2, log=True),
        epochs=cfg.train_epochs,
        seed=cfg.seed,
    )


def _objective(model: str, splits: Splits, text: dict[str, np.ndarray], cfg: Config, device: str, trials: list[dict]):
    y = splits.valid["label"].to_numpy()

    def run(trial: optuna.Trial) -> float:
        t0 = time.perf_counter()
        if model == "lightgbm":
            conf = lgbm_space(trial, cfg)
            p = train_lgbm(splits.train, splits.valid, conf).predict(splits.valid)
        else:
            conf = deep_space(trial, cfg)
            conf.device = device
            p = train_deep(splits.train, splits.valid, text, conf).predict(splits.valid)
        auc = roc_auc(y, p)
        seconds = time.perf_counter() - t0
        trials.append({"model": model, "trial": trial.number, "params": json.dumps(asdict(conf)), "valid_roc_auc": auc,
                       "seconds": round(seconds, 2)})
        logger.info("tune %s trial %d: valid ROC AUC %.4f (%.1fs) %s", model, trial.number, auc, seconds, trial.params)
        return auc

    return run


def tune(models: tuple[str, ...] = MODELS, trials: int | None = None, timeout_s: int | None = None,
         device: str = "auto", cfg: Config | None = None) -> dict:
    """Search each model's hyperparameters on validation; record every trial; return the best per model.

    Args:
        models: which of ``lightgbm``, ``deep``.
        trials, timeout_s: the budget per model (default: config ``tune_trials`` / ``tune_timeout_s``).
    """
    from skipify.train import track_vectors

    cfg = cfg or load_config()
    unknown = set(models) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown model(s) {sorted(unknown)}; choose from {', '.join(MODELS)}")
    splits = time_splits(load_rows(cfg, sequences=True), cfg)
    text = track_vectors(cfg) if "deep" in models else {}
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done: list[dict] = []
    best: dict[str, dict] = {}
    for model in models:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed))
        trials_of_model: list[dict] = []
        study.optimize(_objective(model, splits, text, cfg, device, trials_of_model), n_trials=trials or cfg.tune_trials,
                       timeout=timeout_s or cfg.tune_timeout_s)
        for t in trials_of_model:
            t["chosen"] = t["trial"] == study.best_trial.number
        done += trials_of_model
        best[model] = {"valid_roc_auc": study.best_value, "trial": study.best_trial.number, "trials": len(trials_of_model),
                       "params": json.loads(next(t["params"] for t in trials_of_model if t["chosen"]))}
    frame = pl.DataFrame(done).with_columns(pl.lit(run_id).alias("run_id"))
    con = connect(cfg)
    try:
        con.register("new_tuning", frame.to_arrow())

        def record():
            with transaction(con):
                run_sql(con, "models/insert_tuning")

        with_retry(record)
    finally:
        con.close()
    return {"run_id": run_id, "best": best}


def tuned_configs(cfg: Config | None = None) -> dict[str, tuple[str, LGBMConfig | DeepConfig]]:
    """model -> (tuning run_id, its chosen configuration), for the models tuned so far."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        rows = run_sql(con, "models/tuned_params").fetchall()
    finally:
        con.close()
    out: dict[str, tuple[str, LGBMConfig | DeepConfig]] = {}
    for model, run_id, params, _ in rows:
        raw = json.loads(params)
        out[model] = (run_id, LGBMConfig(**raw) if model == "lightgbm" else DeepConfig.from_dict(raw))
    return out
