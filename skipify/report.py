"""Tables and figures for the notebooks (and anyone reading a training run): no model logic here.

    split_table(splits)                  rows, days, dislike rate and new ids per split
    plot_daily(splits)                   plays and dislike rate per day, coloured by split
    plot_training(deep.history)          train / validation loss per epoch of both deep stages
    plot_importance(lgbm)                LightGBM's top features by split gain
    scorecard_table(evaluation)          every model's test metrics, oracle lift share included
    segment_table(evaluation)            ROC AUC per model and segment, with the oracle's
    plot_roc(preds), plot_calibration(preds)   from ``skipify.train.test_predictions``

Figures are matplotlib ``Figure`` objects (a notebook shows them; ``fig.savefig`` writes them).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from skipify.data import Splits
from skipify.metrics import curves
from skipify.scorecard import scorecard_table, segment_table  # noqa: F401 - the notebooks' tables, beside the figures



def split_table(splits: Splits) -> pl.DataFrame:
    """One row per split: first and last day, rows, listeners, dislike rate, share of rows from new listeners."""
    seen = splits.train["user_id"].unique()
    out = []
    for name, rows in (("train", splits.train), ("valid", splits.valid), ("test", splits.test)):
        days = rows["ts"].dt.date()
        out.append({
            "split": name, "from": days.min(), "to": days.max(), "rows": rows.height,
            "listeners": rows["user_id"].n_unique(), "dislike_rate": round(float(rows["label"].mean()), 4),
            "new_listener_rows": round(float((~rows["user_id"].is_in(seen)).mean()), 4),
        })
    return pl.DataFrame(out)


def plot_daily(splits: Splits) -> Figure:
    """Plays per day (bars) and dislike rate per day (line), by split."""
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    ax2 = ax.twinx()
    for (name, rows), colour in zip((("train", splits.train), ("valid", splits.valid), ("test", splits.test)), ("C0", "C1", "C2")):
        daily = rows.group_by(pl.col("ts").dt.date().alias("day")).agg(pl.len().alias("plays"), pl.col("label").mean().alias("rate")).sort("day")
        ax.bar(daily["day"].to_list(), daily["plays"].to_list(), color=colour, alpha=0.35, label=f"{name} plays")
        ax2.plot(daily["day"].to_list(), daily["rate"].to_list(), color=colour, marker=".", label=f"{name} dislike rate")
    ax.set_ylabel("plays per day")
    ax2.set_ylabel("dislike rate")
    ax.set_title("Time splits: train < validation < test")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return fig


def plot_training(history: list[dict]) -> Figure:
    """Loss per epoch of the two deep stages (two-tower, then MLP end to end)."""
    stages = list(dict.fromkeys(h["stage"] for h in history))
    fig = Figure(figsize=(4.5 * max(len(stages), 1), 3.5))
    axes = np.atleast_1d(fig.subplots(1, max(len(stages), 1)))
    for ax, stage in zip(axes, stages):
        rows = [h for h in history if h["stage"] == stage]
        epochs = [h["epoch"] for h in rows]
        ax.plot(epochs, [h["train_loss"] for h in rows], marker="o", label="train")
        ax.plot(epochs, [h["valid_loss"] for h in rows], marker="o", label="validation")
        ax.set_title(f"{stage}: log loss per epoch")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    return fig


def plot_importance(lgbm, top: int = 20) -> Figure:
    """LightGBM's features by total split gain (the ``top`` largest)."""
    imp = lgbm.importance().head(top).reverse()
    fig = Figure(figsize=(7, 0.28 * imp.height + 1))
    ax = fig.subplots()
    ax.barh(imp["feature"].to_list(), imp["gain"].to_list(), color="C0")
    ax.set_xlabel("total gain")
    ax.set_title(f"LightGBM: top {imp.height} features")
    fig.tight_layout()
    return fig


def _kinds(preds: pl.DataFrame) -> list[str]:
    """The model kinds with a column in ``preds`` (train.test_predictions), in KINDS' order."""
    from skipify.models.kinds import KINDS

    return [k for k in KINDS if k in preds.columns]


def plot_roc(preds: pl.DataFrame, models: tuple[str, ...] | None = None) -> Figure:
    """ROC curves on the test rows (default: every model kind, then two simple baselines), with the oracle
    (true probability) when the truth is known."""
    y = preds["label"].to_numpy()
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    shown = [m for m in (models or (*_kinds(preds), "previous_in_session", "user_rate")) if m in preds.columns]
    if preds["p_true"].null_count() == 0:
        shown.append("p_true")
    for name in shown:
        roc = np.asarray(curves(y, preds[name].to_numpy())["roc"])
        fpr, tpr = roc[:, 0], roc[:, 1]
        ax.plot(fpr, tpr, label="oracle" if name == "p_true" else name, linestyle="--" if name == "p_true" else "-")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC on the test split")
    ax.legend()
    return fig


def plot_calibration(preds: pl.DataFrame, models: tuple[str, ...] | None = None, bins: int = 15) -> Figure:
    """Mean predicted probability against the observed dislike rate, in equal-width bins (default: every model kind)."""
    y = preds["label"].to_numpy()
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    edges = np.linspace(0, 1, bins + 1)
    for name in [m for m in (models or _kinds(preds)) if m in preds.columns]:
        p = preds[name].to_numpy()
        idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        keep = [b for b in range(bins) if (idx == b).sum() >= 20]
        ax.plot([p[idx == b].mean() for b in keep], [y[idx == b].mean() for b in keep], marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.set_xlabel("predicted dislike probability")
    ax.set_ylabel("observed dislike rate")
    ax.set_title("Calibration on the test split")
    ax.legend()
    return fig
