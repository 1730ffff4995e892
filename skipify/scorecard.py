"""A version's scorecard as tables: every model's test metrics, and one metric per model and segment.

Polars only (no plotting): the app's Scorecard page and the notebooks (through skipify.report) read them.
"""

from __future__ import annotations

import polars as pl

BASELINE_ORDER = ("previous_in_session", "user_rate", "track_rate", "global_rate")  # skipify.evaluate's simple baselines
METRICS = ("roc_auc", "lift_share", "pr_auc", "log_loss", "brier", "ece", "threshold", "recall", "false_positive_rate")


def _ordered(models: dict) -> list[str]:
    """The model kinds as evaluated, then the simple baselines."""
    return [m for m in models if m not in BASELINE_ORDER] + [m for m in BASELINE_ORDER if m in models]


def scorecard_table(evaluation: dict) -> pl.DataFrame:
    """One row per model: its test metrics (threshold chosen on validation)."""
    rows = []
    for name in _ordered(evaluation["models"]):
        card = evaluation["models"][name]["test"]
        rows.append({"model": name, **{m: card.get(m) for m in METRICS}})
    return pl.DataFrame(rows)


def segment_table(evaluation: dict, metric: str = "roc_auc") -> pl.DataFrame:
    """``metric`` per model (rows) and segment (columns), with the oracle's ROC AUC as a last row."""
    segs = sorted({s for m in evaluation["models"].values() for s in m["segments"]})
    rows = [{"model": name, "all": evaluation["models"][name]["test"][metric],
             **{s: evaluation["models"][name]["segments"].get(s, {}).get(metric) for s in segs}}
            for name in _ordered(evaluation["models"])]
    if evaluation.get("oracle") and metric == "roc_auc":
        rows.append({"model": "oracle", "all": evaluation["oracle"]["test"], **{s: evaluation["oracle"]["segments"].get(s) for s in segs}})
    return pl.DataFrame(rows)


def version_rows(versions: list[dict]) -> pl.DataFrame:
    """One row per registered version (metrics parsed): status, the served kind, the gate's verdict, each kind's test
    ROC AUC (``<kind>_roc_auc``; null for a kind the version does not hold) and the gate's reasons."""
    held = list(dict.fromkeys(k for v in versions for k in v["kinds"]))
    return pl.DataFrame([
        {"version": v["version"], "status": v["status"], "served_model": v["served_model"], "gate_verdict": v["gate_verdict"],
         **{f"{k}_roc_auc": v["metrics"]["summary"].get(f"{k}_roc_auc") for k in held}, "gate_reasons": v["gate_reasons"]}
        for v in versions
    ], infer_schema_length=None)
