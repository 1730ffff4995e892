"""The model registry (models.registry) and the champion gate.

The gate decides two things for a newly trained version (the challenger):

* **which kind it serves** (``served_model``): the model kind with the best validation ROC AUC (the deep
  model when it wins there, else LightGBM; a tie goes to the baseline). The night's ``p_dislike`` and
  the API's come from that kind, ``p_dislike_baseline`` from the other.
* **whether it replaces the champion**: the challenger's and the champion's models are scored **on the
  same rows** (the challenger's test rows from the champion's own test window on: days the champion
  neither trained nor validated on), every kind. The challenger is promoted unless its served kind's
  ROC AUC there falls behind the champion's served kind's by more than ``gate_tolerance``. With no
  champion yet it is promoted.

A version trained on several domains also gets **a choice per domain** (``domain_served``,
:func:`domain_choices`): for a domain with models of its own (trained on its plays alone,
skipify.models.domains), the candidate, joint or own, with the best ROC AUC on that domain's validation rows
serves its rows; the other domains are served by the served kind. The promotion above compares the versions'
joint served kinds.

The verdict's reasons and figures (every kind's ROC AUC of both versions on the shared rows, each domain's
candidates on its validation and test rows) are recorded either way. On fewer than ``gate_min_test_rows`` rows (test rows, or rows shared with the
champion) the gate does not decide (``undecided``): the version is registered as a challenger and the
champion stays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from skipify.models.domains import JOINT
from skipify.models.kinds import KINDS, baseline_of
from skipify.warehouse import read_sql, run_sql


@dataclass
class SameRows:
    """The champion and the challenger scored on the same rows (skipify.train.champion_on_same_rows)."""

    champion_version: str
    champion_served: str  # the kind the champion serves
    n_rows: int
    rows_from: str | None  # the first day of the shared rows
    champion: dict[str, float] = field(default_factory=dict)  # kind -> ROC AUC on the shared rows
    challenger: dict[str, float] = field(default_factory=dict)
    error: str | None = None  # the champion could not be scored


@dataclass
class Verdict:
    promoted: bool
    reasons: list[str]
    decided: bool = True  # False: too few rows to decide on
    served_model: str = ""
    figures: dict = field(default_factory=dict)  # what the verdict rests on (models.registry.gate_figures)
    domain_served: dict = field(default_factory=dict)  # domain -> {trained_on, served_model, baseline_model}

    @property
    def text(self) -> str:
        return "; ".join(self.reasons)


def served_kind(summary: dict) -> str:
    """The kind with the best validation ROC AUC (``<kind>_valid_roc_auc``); a tie goes to the first of KINDS."""
    scored = [(summary.get(f"{name}_valid_roc_auc"), name) for name in KINDS]
    scored = [(auc, name) for auc, name in scored if auc is not None]
    if not scored:
        return next(iter(KINDS))
    best = max(auc for auc, _ in scored)
    return next(name for auc, name in scored if auc == best)


def domain_choices(domains: dict[str, dict], served: str, held: list[str]) -> dict[str, dict]:
    """Which model serves each domain's rows: domain -> {trained_on, served_model, baseline_model}.

    Every domain is served by the version's served kind unless the domain has models of its own and a candidate (one
    of its own, or another joint kind) beats the served kind on the domain's validation rows **beyond the noise**: its
    paired bootstrap 95% interval of the difference (``valid_minus_served``, skipify.evaluate.domain_figures) above 0;
    of those, the one with the largest difference, with the baseline trained on the same rows. The joint model has the
    benefit of the doubt: it learned from every domain's plays, and a domain's few validation rows rank candidates
    within a hundredth by chance."""
    out = {}
    for domain, got in domains.items():
        better = {k: ci["diff"] for k, ci in got.get("valid_minus_served", {}).items() if ci["lo"] > 0}
        trained_on, kind = max(better, key=better.get).split("/") if got.get("own") and better else (JOINT, served)
        kinds = [k.split("/")[1] for k in got.get("valid", {}) if k.startswith(f"{trained_on}/")] or list(held)
        out[domain] = {"trained_on": trained_on, "served_model": kind, "baseline_model": baseline_of(kind, kinds)}
    return out


def _aucs(figures: dict[str, float]) -> str:
    return ", ".join(f"{KINDS[k].label} {v:.4f}" for k, v in figures.items() if k in KINDS)


def gate(challenger: dict, same: SameRows | None, tolerance: float, min_test_rows: int = 0,
         domains: dict[str, dict] | None = None, held: list[str] | None = None) -> Verdict:
    """Decide on a challenger from its evaluation summary (``evaluate()["summary"]``) and, when there is a
    champion, both versions' figures on the same rows; with ``domains`` (skipify.evaluate.domain_figures), the
    model of each domain (``held``: the kinds the version holds)."""
    served = served_kind(challenger)
    valid = {k: challenger.get(f"{k}_valid_roc_auc") for k in KINDS if challenger.get(f"{k}_valid_roc_auc") is not None}
    figures: dict = {"served_model": served, "valid_roc_auc": valid,
                     "test_roc_auc": {k: challenger[f"{k}_roc_auc"] for k in KINDS if challenger.get(f"{k}_roc_auc") is not None}}
    reasons = [f"serves the {KINDS[served].label}: best on validation (ROC AUC {_aucs(valid)})"]
    chosen = domain_choices(domains or {}, served, list(held or valid))
    if domains:
        figures["domains"] = {d: {**domains[d], **chosen[d]} for d in domains}
        reasons += [f"{d}: served by the {KINDS[c['served_model']].label} trained on {c['trained_on']} "
                    + (f"(the served kind; none of the other {len(domains[d]['valid']) - 1} beat it beyond the noise "
                       if (c["trained_on"], c["served_model"]) == (JOINT, served) else "(better than the served kind beyond the noise ")
                    + f"on its {domains[d]['rows']['valid']:,} validation rows)"
                    for d, c in chosen.items() if domains[d].get("own")]

    def verdict(promoted: bool, reason: str, decided: bool = True) -> Verdict:
        return Verdict(promoted, [*reasons, reason], decided, served, figures, chosen)

    n = challenger.get("n_test_rows") or 0
    if n < min_test_rows:
        return verdict(False, f"undecided: {n:,} test rows, the gate decides on at least {min_test_rows:,} "
                              "(gate_min_test_rows): a difference in ROC AUC on so few is noise", decided=False)
    if challenger.get(f"{served}_roc_auc") is None:
        return verdict(False, f"no test ROC AUC of the {KINDS[served].label}")
    if same is None:
        return verdict(True, "no champion yet")
    figures["champion"] = {"version": same.champion_version, "served_model": same.champion_served, "rows": same.n_rows,
                           "rows_from": same.rows_from, "roc_auc": same.champion, "challenger_roc_auc": same.challenger,
                           "error": same.error}
    if same.error:
        return verdict(True, f"the champion {same.champion_version} could not be scored on this version's test rows "
                             f"({same.error}): decided as if there were none")
    if same.n_rows < min_test_rows:
        return verdict(False, f"undecided: {same.n_rows:,} test rows fall after the champion {same.champion_version}'s "
                              f"training and validation, the gate decides on at least {min_test_rows:,}", decided=False)
    mine, theirs = same.challenger[served], same.champion[same.champion_served]
    where = (f"on the same {same.n_rows:,} rows from {same.rows_from}: this version {_aucs(same.challenger)}; "
             f"champion {same.champion_version} (serves the {KINDS[same.champion_served].label}) {_aucs(same.champion)}")
    if mine < theirs - tolerance:
        return verdict(False, f"falls behind the champion beyond tolerance ({mine:.4f} < {theirs:.4f} - {tolerance}) {where}")
    return verdict(True, f"within tolerance of or above the champion ({mine:.4f} vs {theirs:.4f}, tolerance {tolerance}) {where}")


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
    """Insert a version (``row["kinds"]``: the kinds it holds); when promoted, the previous champion becomes a
    challenger (same transaction). Its baseline kind is the first other kind it holds (baseline_of)."""
    if verdict.promoted:
        run_sql(con, "models/demote_champion")
    status = "champion" if verdict.promoted else "rejected" if verdict.decided else "challenger"
    run_sql(con, "models/register", {**row, "status": status,
                                     "gate_verdict": "promoted" if verdict.promoted else "rejected" if verdict.decided else "undecided",
                                     "gate_reasons": verdict.text, "served_model": verdict.served_model,
                                     "gate_figures": json.dumps(verdict.figures, default=float),
                                     "baseline_model": baseline_of(verdict.served_model, row["kinds"]),
                                     "domain_served": json.dumps(verdict.domain_served) if verdict.domain_served else None})


def versions(con) -> list[dict]:
    cur = con.execute(read_sql("models/versions"))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def version_table(cfg=None):
    """Every version as a Polars table: status, the served kind, the gate's verdict and reasons, each kind's test
    ROC AUC (``<kind>_roc_auc``; null for a kind the version does not hold)."""
    from skipify.config import load_config
    from skipify.scorecard import version_rows
    from skipify.warehouse import connect

    con = connect(cfg or load_config(), read_only=True)
    try:
        rows = versions(con)
    finally:
        con.close()
    return version_rows([{**r, "metrics": json.loads(r["metrics"])} for r in rows])
