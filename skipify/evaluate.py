"""Evaluation: every model and baseline on the same test rows, overall and by segment, and against
the planted truth's oracle when a truth file exists.

The result (also what ``skipify evaluate --json`` prints and models.registry stores), for each model kind
evaluated (``<kind>``: lightgbm, deep, ...; the first of them is the baseline the others are compared with)::

    {"summary": {"<kind>_roc_auc", "<kind>_valid_roc_auc", "<kind>_lift_share", "<kind>_log_loss",
                 "<kind>_minus_<first kind>_ci", "oracle_roc_auc", "n_test_rows", ...},
     "kinds": {kind: {"label", "explainer"}},
     "models": {name: {"threshold", "valid_roc_auc", "test": scorecard, "segments": {segment: scorecard}}},
     "oracle": {"test": roc_auc, "segments": {...}} | null,
     "curves": {kind | "oracle": {"roc", "pr", "calibration"}}}

docs/models.md describes every field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from skipify.config import logger
from skipify.data import Splits, segments
from skipify.metrics import best_threshold, curves, lift_share, paired_bootstrap_auc_diff, roc_auc, scorecard
from skipify.models.domains import JOINT
from skipify.models.kinds import KINDS

# Simple baselines: a feature of the rows used as the score (missing -> the global rate), except
# previous_in_session, which is fitted on the training rows: the dislike rate given the previous
# play of the session (disliked, not disliked, no previous play).
BASELINES = {
    "global_rate": "global_dislike_rate",
    "user_rate": "u_dislike_rate_all",
    "track_rate": "t_dislike_rate_all",
}


def baseline_scores(rows: pl.DataFrame, train: pl.DataFrame) -> dict[str, np.ndarray]:
    """Scores of the simple baselines for feature rows (``train``: the rows they may be fitted on)."""
    glob = rows["global_dislike_rate"].to_numpy().astype(np.float64)
    out = {}
    for name, col in BASELINES.items():
        v = rows[col].cast(pl.Float64).to_numpy()
        out[name] = np.where(np.isnan(v), glob, v)
    # the two columns first: grouped by an expression, a frame of many chunks is copied whole into one (a
    # training's mapped rows: 2.4 KiB a row of anonymous memory), not only the columns the grouping reads
    prev = train.select("s_prev_dislike", "label").group_by(pl.col("s_prev_dislike").fill_null(-1)).agg(pl.col("label").mean())
    rate = dict(zip(prev["s_prev_dislike"].to_list(), prev["label"].to_list()))
    fallback = float(train["label"].mean())  # once: inside the lookup it cost a pass over train per row
    out["previous_in_session"] = (
        rows["s_prev_dislike"].fill_null(-1).replace_strict(rate, default=fallback, return_dtype=pl.Float64).to_numpy()
    )
    return out


def truth_for(rows: pl.DataFrame, truth_path: Path | None) -> np.ndarray | None:
    """The true dislike probability of each row, or None without a truth file covering them all.

    A ts without a time zone is UTC (as ingest reads it); one in another zone is converted.
    """
    if truth_path is None or not Path(truth_path).exists():
        return None
    truth = pl.scan_parquet(truth_path).select("user_id", "track_id", "ts", "p_dislike")
    ts = (pl.col("ts").dt.replace_time_zone("UTC") if truth.collect_schema()["ts"].time_zone is None
          else pl.col("ts").dt.convert_time_zone("UTC"))
    # only the rows' time range is read into memory (a world's truth holds every play)
    truth = truth.with_columns(pl.col("user_id").cast(pl.String), pl.col("track_id").cast(pl.String),
                               ts.cast(rows.schema["ts"])).filter(pl.col("ts").is_between(rows["ts"].min(), rows["ts"].max())).collect()
    keyed = rows.select("user_id", "track_id", "ts").with_row_index("i").join(truth, on=["user_id", "track_id", "ts"], how="left")
    p = keyed.sort("i")["p_dislike"].to_numpy()
    return None if np.isnan(p).any() else p


def evaluate(
    valid_preds: dict[str, np.ndarray], test_preds: dict[str, np.ndarray], splits: Splits, truth_path: Path | None = None
) -> dict:
    """Score every model on the test split with a threshold chosen on validation.

    Args:
        valid_preds, test_preds: model kind -> probabilities for splits.valid / splits.test rows, in
            KINDS' order (the simple baselines are added here).
        splits: the time splits the models were trained on.
        truth_path: the world's truth file, if any.
    """
    kinds = list(valid_preds)
    valid_preds = {**valid_preds, **baseline_scores(splits.valid, splits.train)}
    test_preds = {**test_preds, **baseline_scores(splits.test, splits.train)}
    y_valid = splits.valid["label"].to_numpy()
    y = splits.test["label"].to_numpy()
    segs = segments(splits.test, splits)
    try:
        p_true, oracle_error = truth_for(splits.test, truth_path), None
    except Exception as exc:  # noqa: BLE001 - a broken truth file must never cost the trained models
        p_true, oracle_error = None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        logger.error("no oracle comparison: the truth file %s could not be used (%s); evaluating without it", truth_path, oracle_error)

    oracle = None
    if p_true is not None:
        oracle = {"test": roc_auc(y, p_true), "segments": {s: roc_auc(y[m], p_true[m]) for s, m in segs.items() if m.any()}}
    models = {}
    for name, p in test_preds.items():
        t = best_threshold(y_valid, valid_preds[name])
        entry = {"threshold": t, "valid_roc_auc": roc_auc(y_valid, valid_preds[name]), "test": scorecard(y, p, t), "segments": {s: scorecard(y[m], p[m], t) for s, m in segs.items() if m.any()}}
        if oracle:
            entry["test"]["lift_share"] = lift_share(entry["test"]["roc_auc"], oracle["test"])
            for s, card in entry["segments"].items():
                card["lift_share"] = lift_share(card["roc_auc"], oracle["segments"].get(s))
        models[name] = entry

    first = kinds[0] if kinds else None
    summary = {}
    for name in kinds:
        summary |= {f"{name}_roc_auc": models[name]["test"]["roc_auc"],
                    # on validation: the gate serves the kind that wins there (skipify.registry.served_kind)
                    f"{name}_valid_roc_auc": models[name]["valid_roc_auc"],
                    f"{name}_lift_share": models[name]["test"].get("lift_share"),
                    f"{name}_log_loss": models[name]["test"]["log_loss"]}
        if name != first:  # against the first kind on these rows, with a paired bootstrap 95% interval
            summary[f"{name}_minus_{first}_ci"] = paired_bootstrap_auc_diff(y, test_preds[name], test_preds[first])
    summary |= {
        "oracle_roc_auc": oracle["test"] if oracle else None,
        "n_test_rows": int(splits.test.height),
        "n_valid_rows": int(splits.valid.height),
        "n_train_rows": int(splits.train.height),
        **splits.dates,
        "split_notes": splits.notes,
        "oracle_error": oracle_error,
    }
    plotted = {name: curves(y, test_preds[name]) for name in kinds}
    if p_true is not None:
        plotted["oracle"] = curves(y, p_true)
    labels = {name: {"label": KINDS[name].label, "explainer": KINDS[name].explainer} for name in kinds if name in KINDS}
    return {"summary": summary, "kinds": labels, "models": models, "oracle": oracle, "curves": plotted}


def domain_figures(valid: dict[str, np.ndarray], test: dict[str, np.ndarray], own: dict[str, dict], splits: Splits,
                   served: str) -> dict[str, dict]:
    """Each domain's candidates on its own rows, what the gate chooses per domain from (skipify.registry.domain_choices).

    Args:
        valid, test: the joint models' (trained on every domain) probabilities on splits.valid / splits.test, by kind.
        own: domain -> kind -> the model trained on that domain alone (skipify.train; domains without: absent).
        splits: the splits they were trained on (``t_domain`` names each row's domain).
        served: the version's served kind (skipify.registry.served_kind), each domain's default.

    Returns:
        domain -> {"own": whether it has models of its own, "rows": {train, valid, test}, "valid" and "test":
        "<trained_on>/<kind>" -> ROC AUC on the domain's rows (trained_on "all": a joint model; None: one class
        only), the joint ones first; for a domain with its own models, "valid_minus_served": each other candidate's
        validation ROC AUC minus the served kind's on the same rows, with its paired bootstrap 95% interval}; empty
        when the rows hold one domain."""
    if "t_domain" not in splits.valid.columns:
        return {}
    names = splits.train["t_domain"].drop_nulls().unique().sort().to_list()
    if len(names) < 2:
        return {}

    def auc(y: np.ndarray, p: np.ndarray) -> float | None:
        got = roc_auc(y, p)
        return None if np.isnan(got) else got

    out = {}
    y_all = splits.valid["label"].to_numpy(), splits.test["label"].to_numpy()
    for domain in names:
        # masks, not copies: the rows of a domain are copied only for the models of its own to score
        mv, mt = (splits.valid["t_domain"] == domain).to_numpy(), (splits.test["t_domain"] == domain).to_numpy()
        y_valid, y_test = y_all[0][mv], y_all[1][mt]
        mine = own.get(domain, {})
        rows_valid, rows_test = (splits.valid.filter(pl.Series(mv)), splits.test.filter(pl.Series(mt))) if mine else (None, None)
        pv = {**{f"{JOINT}/{k}": p[mv] for k, p in valid.items()}, **{f"{domain}/{k}": m.predict(rows_valid) for k, m in mine.items()}}
        pt = {**{f"{JOINT}/{k}": p[mt] for k, p in test.items()}, **{f"{domain}/{k}": m.predict(rows_test) for k, m in mine.items()}}
        n_train = int((splits.train["t_domain"] == domain).sum())
        out[domain] = {"own": bool(mine), "rows": {"train": n_train, "valid": int(mv.sum()), "test": int(mt.sum())},
                       "valid": {n: auc(y_valid, p) for n, p in pv.items()}, "test": {n: auc(y_test, p) for n, p in pt.items()}}
        if mine and 0 < y_valid.sum() < len(y_valid):
            out[domain]["valid_minus_served"] = {n: paired_bootstrap_auc_diff(y_valid, p, pv[f"{JOINT}/{served}"])
                                                 for n, p in pv.items() if n != f"{JOINT}/{served}"}
    return out
