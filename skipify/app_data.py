"""What the Streamlit app reads: one function per question, SQL in ``sql/app/`` and ``sql/guard/``, read-only but
for one write: the threshold a product manager chooses on the Guard page (:func:`choose_threshold`).

Every call opens a connection, runs one query and closes it, so the app never holds the warehouse (the nightly
run is never blocked) and a new night is visible on the next read. The app caches the results for
``app_cache_ttl_s`` seconds. :func:`readable` is how a table is shown: columns by their labels, ids last.
"""

from __future__ import annotations

import json

import polars as pl

from skipify import guard
from skipify.catalogue import label as feature_label  # noqa: F401 - the app's names of features (skipify features --list)
from skipify.config import Config, load_config
from skipify.warehouse import WarehouseError, connect, run_script, run_sql


class NoWarehouse(RuntimeError):
    """There is no warehouse (or no such table) yet: the app shows what to run."""


def query(name: str, cfg: Config | None = None, **params) -> pl.DataFrame:
    """Rows of ``sql/app/<name>.sql`` as Polars (the label's macros loaded: fx_label, fx_abandon_ms)."""
    cfg = cfg or load_config()
    try:
        con = connect(cfg, read_only=True)
    except WarehouseError as exc:
        raise NoWarehouse(str(exc)) from exc
    try:
        run_script(con, "features/play_macros")
        return run_sql(con, f"app/{name}", params).pl()
    finally:
        con.close()


def nights(cfg: Config | None = None) -> pl.DataFrame:
    return query("nights", cfg)


def versions(cfg: Config | None = None) -> list[dict]:
    """Registered versions, newest first, metrics parsed; ``labels``: kind -> {"label", "explainer"} of the kinds
    it holds, as its evaluation recorded them (the app names kinds from the warehouse, not from the code)."""
    out = []
    for row in query("versions", cfg).iter_rows(named=True):
        metrics = json.loads(row["metrics"])
        recorded = metrics.get("kinds") or {}
        labels = {k: recorded.get(k, {"label": k, "explainer": "SHAP"}) for k in row["kinds"]}
        out.append({**row, "metrics": metrics, "labels": labels})
    return out


def title(label: str) -> str:
    """A kind's label as a heading ("deep model" -> "Deep model"; "LightGBM" stays)."""
    return label[:1].upper() + label[1:]


def kind_titles(version: dict) -> dict[str, str]:
    """kind -> how the app names it ("blend" -> "Blend", "deep" -> "Deep model")."""
    return {k: title(v["label"]) for k, v in version["labels"].items()}


def _titled(frame: pl.DataFrame, version: dict) -> pl.DataFrame:
    """The ``model`` column with each kind by its title (the simple baselines keep their names)."""
    return frame.with_columns(pl.col("model").replace(kind_titles(version)))


def scorecard(version: dict) -> pl.DataFrame:
    """One row per model of a version: its test metrics (lift share when truth existed); kinds by their titles."""
    from skipify.scorecard import scorecard_table

    return _titled(scorecard_table(version["metrics"]), version)


def version_table(known: list[dict]) -> pl.DataFrame:
    """The versions of ``versions()`` as a table: each kind's test ROC AUC, the gate's verdict and reasons."""
    from skipify.scorecard import version_rows

    return version_rows(known)


def segments(version: dict) -> pl.DataFrame:
    from skipify.scorecard import segment_table

    return _titled(segment_table(version["metrics"]), version)


def night_outcomes(cfg: Config | None = None) -> pl.DataFrame:
    """Per published night: its scored pairs that were then played that day, their dislike rate, the
    kind served that night, and the ROC AUC of its p_dislike and of p_dislike_baseline (its baseline kind)
    on them (null while the day's plays have not arrived)."""
    from skipify.metrics import roc_auc

    cfg = cfg or load_config()
    rows = query("night_outcomes", cfg, **cfg.label_params())
    out = []
    for (day, served), g in rows.group_by("run_date", "served_model", maintain_order=True):
        y = g["label"].to_numpy()
        out.append({"run_date": day, "served_model": served, "pairs_played": g.height, "dislike_rate": float(y.mean()),
                    "served_roc_auc": roc_auc(y, g["p_dislike"].to_numpy()),
                    "baseline_roc_auc": roc_auc(y, g["p_dislike_baseline"].to_numpy())})
    schema = {"run_date": pl.Date, "served_model": pl.String, "pairs_played": pl.Int64, "dislike_rate": pl.Float64,
              "served_roc_auc": pl.Float64, "baseline_roc_auc": pl.Float64}
    return pl.DataFrame(out, schema=schema).sort("run_date", descending=True).fill_nan(None)


# --- tables as people read them -------------------------------------------------------------------

LABELS = {
    "run_date": "Night", "title": "Title", "artist": "Artist", "genre": "Genre", "domain": "Medium",
    "category": "Category", "n_listeners": "Listeners", "mean_p_dislike": "Mean p(dislike)",
    "share_at_risk": "Share of listeners at risk", "at_risk_pairs": "At-risk pairs", "scored_pairs": "Pairs scored",
    "rank_in_user": "Rank", "source": "Candidate from", "p_dislike": "p(dislike)", "p_dislike_baseline": "p(dislike), baseline",
    "at_risk": "At risk", "ts": "Played at (UTC)", "context_type": "Context", "ms_played": "Played (ms)",
    "feedback": "Feedback", "disliked": "Disliked or skipped early", "side": "Side", "interaction": "Dislike interaction",
    "served_model": "Served model", "pairs_played": "Pairs then played", "dislike_rate": "Dislike rate",
    "served_roc_auc": "ROC AUC, served", "baseline_roc_auc": "ROC AUC, baseline", "model": "Model", "roc_auc": "ROC AUC",
    "lift_share": "Lift share", "pr_auc": "PR AUC", "log_loss": "Log loss", "brier": "Brier", "ece": "Calibration error",
    "threshold": "Threshold", "recall": "Recall", "false_positive_rate": "False-positive rate", "all": "All",
    "heavy_users": "Heavy listeners", "light_users": "Light listeners", "new_tracks": "New tracks", "new_users": "New listeners",
    "status": "Status", "gate_verdict": "Gate", "gate_reasons": "Gate's reasons", "chosen_at": "Chosen at (UTC)",
    "chosen_by": "Chosen by", "goal": "Goal", "nights": "Nights read", "note": "Note",
    "track_id": "Track id", "user_id": "Listener id", "version": "Version",
}
IDS = ("track_id", "user_id", "version")  # shown last: people read titles, the ids are there to look up
# values that are codes, as people read them: the simple baselines (skipify.evaluate) and the track categories
VALUES = {
    "model": {"previous_in_session": "Baseline: the session's previous play", "user_rate": "Baseline: the listener's dislike rate",
              "track_rate": "Baseline: the track's dislike rate", "global_rate": "Baseline: the overall dislike rate",
              "oracle": "Oracle (the world's own probability)"},
    "category": {"broad_dislike": "Broad dislike", "polarising": "Polarising", "mixed": "Mixed", "safe": "Safe", "niche": "Niche"},
}


def readable(frame: pl.DataFrame, titles: dict[str, str] | None = None) -> pl.DataFrame:
    """``frame`` as the app shows it: the id columns last, every column by its label (``<kind>_roc_auc``: "<Kind's
    title> ROC AUC", ``titles``: kind -> title), coded values in words (:data:`VALUES`)."""
    titles = titles or {}
    order = [c for c in frame.columns if c not in IDS] + [c for c in IDS if c in frame.columns]

    def named(column: str) -> str:
        if column.endswith("_roc_auc") and column not in LABELS:
            kind = column.removesuffix("_roc_auc")
            return f"{titles.get(kind, kind)} ROC AUC"
        return LABELS.get(column, column.replace("_", " ").capitalize())

    coded = [pl.col(c).replace(VALUES[c]) for c in order if c in VALUES and frame.schema[c] == pl.String]
    return frame.with_columns(coded).select(order).rename({c: named(c) for c in order})


# --- the guard (skipify.guard) ----------------------------------------------------------------------


def guard_tradeoff(cfg: Config | None = None, nights: int | None = None) -> pl.DataFrame:
    """The trade-off over the latest ``nights`` backtested nights, per segment and threshold."""
    return guard.tradeoff(cfg, nights)


def guard_nights(cfg: Config | None = None, nights: int | None = None) -> pl.DataFrame:
    """Each of the latest backtested nights' curve (all plays): run_date, threshold, share_caught, withheld_per_1000."""
    return guard.night_curves(cfg, nights)


def guard_tonight(threshold: float, cfg: Config | None = None) -> pl.DataFrame:
    """What ``threshold`` flags on the latest night, per segment."""
    return guard.tonight(threshold, cfg)


def threshold_in_force(version: dict | None, cfg: Config | None = None) -> guard.InForce:
    return guard.in_force(cfg or load_config(), version)


def choose_threshold(threshold: float, chosen_by: str, goal: str | None, nights: int | None,
                     cfg: Config | None = None) -> guard.InForce:
    """The app's one write: a product manager puts ``threshold`` in force (ops.guard_thresholds)."""
    return guard.choose(threshold, chosen_by, cfg, goal=goal, nights=nights)


def threshold_choices(cfg: Config | None = None) -> pl.DataFrame:
    return guard.choices(cfg)
