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
from pathlib import Path
from typing import Any

import optuna
import polars as pl

from skipify.config import Config, load_config, logger
from skipify.data import Splits, stream_rows, time_splits, window_start
from skipify.features import default_as_of
from skipify.metrics import roc_auc
from skipify.models.base import Resources
from skipify.models.kinds import KINDS
from skipify.warehouse import connect, run_sql, scratch_folder, transaction, with_retry

def tunable() -> tuple[str, ...]:
    """The kinds with a search space (``space`` in their module)."""
    return tuple(name for name, kind in KINDS.items() if kind.tunable)


def _objective(name: str, splits: Splits, resources: Resources, cfg: Config, device: str, trials: list[dict]):
    y = splits.valid["label"].to_numpy()
    kind = KINDS[name]

    def run(trial: optuna.Trial) -> float:
        t0 = time.perf_counter()
        conf = kind.configure(kind.space(trial, cfg), cfg, device, None)
        p = kind.fit(splits.train, splits.valid, conf, resources).predict(splits.valid)
        auc = roc_auc(y, p)
        seconds = time.perf_counter() - t0
        trials.append({"model": name, "trial": trial.number, "params": json.dumps(asdict(conf)), "valid_roc_auc": auc,
                       "seconds": round(seconds, 2)})
        logger.info("tune %s trial %d: valid ROC AUC %.4f (%.1fs) %s", name, trial.number, auc, seconds, trial.params)
        return auc

    return run


def tune(models: tuple[str, ...] | None = None, trials: int | None = None, timeout_s: int | None = None,
         device: str = "auto", cfg: Config | None = None) -> dict:
    """Search each model's hyperparameters on validation; record every trial; return the best per model.

    Args:
        models: which kinds (default: every kind with a search space: ``tunable()``); each kind's space is its own.
        trials, timeout_s: the budget per model (default: config ``tune_trials`` / ``tune_timeout_s``).
    """
    cfg = cfg or load_config()
    models = models or tunable()
    unknown = set(models) - set(tunable())
    if unknown:
        raise ValueError(f"unknown or untunable model kind(s) {sorted(unknown)}; choose from {', '.join(tunable())}")
    with scratch_folder(cfg) as scratch:  # the rows and the trials' inputs are mapped from files there, as training's
        return _tune(models, trials, timeout_s, device, cfg, scratch)


def _tune(models: tuple[str, ...] | list[str], trials: int | None, timeout_s: int | None, device: str, cfg: Config, scratch: Path) -> dict:
    """tune() with ``scratch`` the folder of its mapped files."""
    splits = time_splits(stream_rows(scratch / "rows", cfg, sequences=True, since=window_start(cfg, default_as_of(cfg))), cfg)
    resources = Resources(cfg, scratch)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done: list[dict] = []
    best: dict[str, dict] = {}
    for model in models:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed))
        trials_of_model: list[dict] = []
        study.optimize(_objective(model, splits, resources, cfg, device, trials_of_model), n_trials=trials or cfg.tune_trials,
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


def tuned_configs(cfg: Config | None = None) -> dict[str, tuple[str, Any]]:
    """model -> (tuning run_id, its chosen configuration), for the models tuned so far."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        rows = run_sql(con, "models/tuned_params").fetchall()
    finally:
        con.close()
    out: dict[str, tuple[str, Any]] = {}
    for model, run_id, params, _ in rows:
        if model in KINDS:
            out[model] = (run_id, KINDS[model].config_from_dict(json.loads(params)))
    return out
