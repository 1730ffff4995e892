"""The model registry (models.registry) and the champion gate.

A challenger is promoted only if its deep model beats LightGBM on test ROC AUC and does not fall
behind the current champion's deep test ROC AUC by more than ``gate_tolerance``; the verdict and
its reasons are recorded either way. On fewer than ``gate_min_test_rows`` test rows the gate does not
decide (verdict ``undecided``): the version is registered as a challenger and the champion stays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from skipify.warehouse import read_sql, run_sql


@dataclass
class Verdict:
    promoted: bool
    reasons: list[str]
    decided: bool = True  # False: too few test rows to decide on

    @property
    def text(self) -> str:
        return "; ".join(self.reasons)


def gate(challenger: dict, champion: dict | None, tolerance: float, min_test_rows: int = 0) -> Verdict:
    """Decide on a challenger from the evaluation summaries (``evaluate()["summary"]``)."""
    reasons = []
    deep, lgbm = challenger.get("deep_roc_auc"), challenger.get("lightgbm_roc_auc")
    ok = True
    n = challenger.get("n_test_rows") or 0
    if n < min_test_rows:
        return Verdict(False, [f"undecided: {n:,} test rows, the gate decides on at least {min_test_rows:,} "
                               "(gate_min_test_rows): a difference in ROC AUC on so few is noise"], decided=False)
    if deep is None or lgbm is None:
        return Verdict(False, ["missing deep or LightGBM test ROC AUC"])
    if deep > lgbm:
        reasons.append(f"deep beats LightGBM on test ROC AUC ({deep:.4f} > {lgbm:.4f})")
    else:
        ok = False
        reasons.append(f"deep does not beat LightGBM on test ROC AUC ({deep:.4f} <= {lgbm:.4f})")
    if champion is None:
        reasons.append("no champion yet")
    else:
        best = champion.get("deep_roc_auc")
        if best is not None and deep < best - tolerance:
            ok = False
            reasons.append(f"deep falls behind the champion beyond tolerance ({deep:.4f} < {best:.4f} - {tolerance})")
        elif best is not None:
            reasons.append(f"deep within tolerance of or above the champion ({deep:.4f} vs {best:.4f}, tolerance {tolerance})")
    return Verdict(ok, reasons)


def champion(con) -> dict | None:
    """The current champion's registry row (metrics parsed), or None."""
    cur = run_sql(con, "models/champion")
    row = cur.fetchone()
    if row is None:
        return None
    out = dict(zip([d[0] for d in cur.description], row))
    out["metrics"] = json.loads(out["metrics"])
    return out


def register(con, row: dict, verdict: Verdict) -> None:
    """Insert a version; when promoted, the previous champion becomes a challenger (same transaction)."""
    if verdict.promoted:
        run_sql(con, "models/demote_champion")
    status = "champion" if verdict.promoted else "rejected" if verdict.decided else "challenger"
    run_sql(con, "models/register", {**row, "status": status,
                                     "gate_verdict": "promoted" if verdict.promoted else "rejected" if verdict.decided else "undecided",
                                     "gate_reasons": verdict.text})


def versions(con) -> list[dict]:
    cur = con.execute(read_sql("models/versions"))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def version_table(cfg=None):
    """Every version as a Polars table: status, the gate's verdict and reasons, deep and LightGBM test ROC AUC."""
    import polars as pl

    from skipify.config import load_config
    from skipify.warehouse import connect

    con = connect(cfg or load_config(), read_only=True)
    try:
        rows = versions(con)
    finally:
        con.close()
    return pl.DataFrame([
        {"version": r["version"], "status": r["status"], "gate_verdict": r["gate_verdict"],
         "deep_roc_auc": json.loads(r["metrics"])["summary"]["deep_roc_auc"],
         "lightgbm_roc_auc": json.loads(r["metrics"])["summary"]["lightgbm_roc_auc"], "gate_reasons": r["gate_reasons"]}
        for r in rows
    ])
