"""The guard: the at-risk threshold's trade-off, backtested on the plays that followed, and the threshold chosen.

A night flags a pair at risk when its p_dislike reaches the threshold in force, and the music service keeps
at-risk tracks out of the listener's queue. What that costs is read from the published nights once the plays of
their day are in (docs/guard.md):

- :func:`backtest` writes ``scores.guard_backtest``: per night, segment and threshold of :data:`GRID`, the dislikes
  the guard would have caught and the good plays it would have withheld, among the night's scored pairs that were
  then played. The night that ingests a day restates the latest ``guard_backtest_nights`` published nights
  (skipify.nightly.publish, in its transaction); ``skipify backfill --backtest`` writes older ones.
- :func:`tradeoff` sums them over the latest nights; :func:`meet` finds the threshold that meets a goal (a share of
  dislikes caught, or a ceiling of good plays withheld per 1,000 plays).
- :func:`choose` saves a product manager's threshold (``ops.guard_thresholds``); :func:`in_force` is the one
  reading of the threshold for the night's flags, the API and the app: the latest chosen, else the config's
  ``risk_threshold``, else the served model's threshold chosen on validation.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import polars as pl

from skipify.config import Config, cutoff_of, load_config, logger
from skipify.warehouse import connect, insert_sql, run_script, run_sql, transaction, with_retry

GRID: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(1, 100))  # the thresholds backtested
SEGMENTS = {"all": "All plays", "listener": "Listeners", "track": "Tracks", "platform": "Platform", "domain": "Medium"}


@dataclass(frozen=True)
class InForce:
    """The at-risk threshold in force and where it comes from: ``chosen`` (by a product manager), ``config``
    (Config.risk_threshold) or ``validation`` (the served model's, chosen on validation by the training run)."""

    threshold: float
    source: str
    chosen_by: str | None = None
    chosen_at: dt.datetime | None = None
    goal: str | None = None

    def describe(self) -> str:
        if self.source == "chosen":
            goal = f" ({self.goal})" if self.goal else ""
            return f"{self.threshold:.2f}, chosen by {self.chosen_by} on {self.chosen_at:%Y-%m-%d %H:%M} UTC{goal}"
        if self.source == "config":
            return f"{self.threshold:.3f}, the configuration's risk_threshold"
        return f"{self.threshold:.3f}, the served model's threshold chosen on validation"


def validation_threshold(version: dict) -> float:
    """The served kind's threshold chosen on validation (maximum F1) by the version's training run."""
    metrics = version["metrics"]
    metrics = json.loads(metrics) if isinstance(metrics, str) else metrics  # the registry's JSON, or parsed (app_data)
    return float(metrics["models"][version["served_model"]]["threshold"])


def in_force_on(con, cfg: Config, version: dict | None) -> InForce:
    """:func:`in_force` on an open connection."""
    row = run_sql(con, "guard/in_force").fetchone()
    if row is not None:
        threshold, by, at, goal = row
        return InForce(float(threshold), "chosen", by, at, goal)
    if cfg.risk_threshold is not None:
        return InForce(cfg.risk_threshold, "config")
    if version is None:
        raise ValueError("no threshold chosen and no model version to take one from: run `skipify train`")
    return InForce(validation_threshold(version), "validation")


def in_force(cfg: Config, version: dict | None) -> InForce:
    """The at-risk threshold from now on: the latest a product manager chose, else the config's
    ``risk_threshold``, else ``version``'s validation threshold."""
    con = connect(cfg, read_only=True)
    try:
        return in_force_on(con, cfg, version)
    finally:
        con.close()


def choose(threshold: float, chosen_by: str, cfg: Config | None = None, goal: str | None = None,
           nights: int | None = None, note: str | None = None) -> InForce:
    """Save a product manager's threshold: in force for every night published from now on, the API's
    ``at_risk`` and the app. Returns it as in force."""
    if not 0 < threshold < 1:
        raise ValueError(f"a threshold is a probability between 0 and 1 (exclusive), not {threshold}")
    if not chosen_by.strip():
        raise ValueError("say who chooses the threshold (a name)")
    cfg = cfg or load_config()
    con = connect(cfg)
    try:
        def write():
            with transaction(con):
                run_sql(con, "guard/choose", {"threshold": float(threshold), "chosen_by": chosen_by.strip(), "goal": goal,
                                              "nights": nights, "note": note})
        with_retry(write)
        chosen = in_force_on(con, cfg, None)
    finally:
        con.close()
    logger.info("guard: threshold %s", chosen.describe())
    return chosen


def choices(cfg: Config | None = None) -> pl.DataFrame:
    """Every threshold chosen, newest first."""
    return _read(cfg, "guard/choices")


# --- the backtest --------------------------------------------------------------------------------


def _night_params(run_date: dt.date, cfg: Config) -> dict:
    cutoff = cutoff_of(run_date)
    return {"run_date": run_date, "cutoff": cutoff, "day_end": cutoff + dt.timedelta(days=1),
            "new_since": cutoff - dt.timedelta(days=cfg.guard_new_days), **cfg.label_params()}


def backtest_on(con, nights: list[dt.date], cfg: Config) -> dict[dt.date, int]:
    """Write the backtests of ``nights`` (published, their day's plays in) on an open connection, in the caller's
    transaction: each night's rows replaced. Returns the plays backtested per night (0: none of its scored
    pairs was played that day, nothing written for it)."""
    run_script(con, "features/play_macros")
    run_script(con, "guard/macros")
    out = {}
    for night in nights:
        params = {**_night_params(night, cfg), "grid": list(GRID)}
        run_sql(con, "guard/delete_backtest", params)
        insert_sql(con, "scores.guard_backtest", "guard/backtest", params)
        out[night] = int(run_sql(con, "guard/backtested_plays", params).fetchone()[0])
    return out


def nights_before(run_date: dt.date, cfg: Config, con) -> list[dt.date]:
    """The published nights a run of ``run_date`` restates: those of the ``guard_backtest_nights`` days before it
    (their days' plays are in once that run has ingested its landing files)."""
    if cfg.guard_backtest_nights == 0:
        return []
    rows = run_sql(con, "guard/published_nights", {"first": run_date - dt.timedelta(days=cfg.guard_backtest_nights),
                                                   "last": run_date - dt.timedelta(days=1)}).fetchall()
    return [d for (d,) in rows]


def backtest(first: dt.date, last: dt.date, cfg: Config | None = None) -> dict[dt.date, int]:
    """Backtest the published nights first..last (``skipify backfill --backtest``), in one transaction: the nights
    are not run again, their published scores are judged on the plays of their days. Only nights before the
    latest play's day can be judged."""
    if last < first:
        raise ValueError(f"backtest end {last} is before its start {first}")
    cfg = cfg or load_config()
    con = connect(cfg)
    try:
        nights = [d for (d,) in run_sql(con, "guard/published_nights", {"first": first, "last": last}).fetchall()]

        def write():
            with transaction(con):
                return backtest_on(con, nights, cfg)

        done = with_retry(write)
    finally:
        con.close()
    for night, plays in done.items():
        logger.info("guard: night %s backtested on %d plays", night, plays)
    return done


# --- reading it ----------------------------------------------------------------------------------


def _read(cfg: Config | None, name: str, params: dict | None = None) -> pl.DataFrame:
    con = connect(cfg or load_config(), read_only=True)
    try:
        run_script(con, "guard/macros")
        return run_sql(con, name, params).pl()
    finally:
        con.close()


def recent_nights(cfg: Config | None = None, nights: int | None = None) -> list[dt.date]:
    """The latest ``nights`` backtested nights (default ``guard_nights``), oldest first."""
    cfg = cfg or load_config()
    return sorted(_read(cfg, "guard/recent_nights", {"nights": nights or cfg.guard_nights})["run_date"].to_list())


def tradeoff(cfg: Config | None = None, nights: int | None = None, run_dates: list[dt.date] | None = None) -> pl.DataFrame:
    """The trade-off over ``run_dates`` (default: the latest ``nights`` backtested nights, :func:`recent_nights`): per
    segment and threshold, summed over them (sql/guard/tradeoff.sql). Empty before a night has been backtested."""
    run_dates = recent_nights(cfg, nights) if run_dates is None else run_dates
    return _read(cfg, "guard/tradeoff", {"run_dates": run_dates})


def night_curves(cfg: Config | None = None, nights: int | None = None) -> pl.DataFrame:
    """Each of the latest backtested nights' curve over all plays: run_date, threshold, share_caught, withheld_per_1000."""
    return _read(cfg, "guard/night_curves", {"run_dates": recent_nights(cfg, nights)})


def meet(curve: pl.DataFrame, catch: float | None = None, max_withheld: float | None = None) -> dict | None:
    """The threshold of ``curve`` (tradeoff's rows of one segment) that meets the goal: with ``catch``, the
    highest threshold that catches at least that share of dislikes (the fewest good plays withheld); with
    ``max_withheld``, the lowest that withholds at most that many good plays per 1,000 plays (the most dislikes
    caught). None when no threshold of the grid meets it."""
    if (catch is None) == (max_withheld is None):
        raise ValueError("state one goal: a share of dislikes to catch, or a ceiling of good plays withheld per 1,000")
    if catch is not None:
        ok = curve.filter(pl.col("share_caught") >= catch).sort("threshold", descending=True)
    else:
        ok = curve.filter(pl.col("withheld_per_1000") <= max_withheld).sort("threshold")
    return ok.row(0, named=True) if ok.height else None


def goal_text(catch: float | None = None, max_withheld: float | None = None) -> str:
    return f"catch {catch:.0%} of dislikes" if catch is not None else f"withhold at most {max_withheld:g} good plays per 1,000"


def latest_night(cfg: Config | None = None) -> dt.date | None:
    return _read(cfg, "guard/latest_night").item()


def tonight(threshold: float, cfg: Config | None = None, run_date: dt.date | None = None) -> pl.DataFrame:
    """What ``threshold`` would flag on a published night (default: the latest): per segment, the pairs and
    listeners at risk (sql/guard/tonight.sql)."""
    cfg = cfg or load_config()
    if run_date is None:
        run_date = latest_night(cfg)
        if run_date is None:
            return pl.DataFrame()
    return _read(cfg, "guard/tonight", {**_night_params(run_date, cfg), "threshold": float(threshold)})


def nearest(curve: pl.DataFrame, threshold: float) -> dict | None:
    """The grid's row nearest ``threshold`` (the backtest is on the grid)."""
    if curve.is_empty():
        return None
    return curve.with_columns((pl.col("threshold") - threshold).abs().alias("_d")).sort("_d", "threshold").drop("_d").row(0, named=True)


def report(version: dict | None, cfg: Config | None = None, nights: int | None = None, catch: float | None = None,
           max_withheld: float | None = None, threshold: float | None = None) -> dict:
    """What `skipify guard` prints: the threshold in force, the trade-off over the latest backtested nights (all
    plays), the threshold looked at (the goal's, else ``threshold``, else the one in force) with its figures per
    segment and what it would flag on the latest night. ``version``: the registry row the validation threshold
    comes from when none was chosen (the one the night scores with; None: no model yet)."""
    cfg = cfg or load_config()
    current = in_force(cfg, version)
    read = recent_nights(cfg, nights)
    table = tradeoff(cfg, run_dates=read)
    curve = table.filter(pl.col("segment") == "all")
    out: dict = {"in_force": {"threshold": current.threshold, "source": current.source, "chosen_by": current.chosen_by,
                              "chosen_at": current.chosen_at, "goal": current.goal, "text": current.describe()},
                 "nights": read, "nights_read": len(read), "curve": curve.to_dicts()}
    if catch is not None or max_withheld is not None:
        met = meet(curve, catch, max_withheld)
        out["goal"] = {"text": goal_text(catch, max_withheld), "catch": catch, "max_withheld": max_withheld,
                       "threshold": None if met is None else met["threshold"]}
        looked_at = None if met is None else met["threshold"]
    else:
        looked_at = threshold if threshold is not None else current.threshold
    out["threshold"] = looked_at
    out["at_threshold"] = []
    if looked_at is not None and curve.height:
        grid_t = nearest(curve, looked_at)["threshold"]
        out["at_threshold"] = table.filter(pl.col("threshold") == grid_t).to_dicts()
    if looked_at is not None:
        night = latest_night(cfg)
        out["tonight"] = {"run_date": night, "segments": tonight(looked_at, cfg, night).to_dicts() if night else []}
    return out


def report_lines(out: dict) -> list[str]:
    """:func:`report` as text (`skipify guard`)."""
    lines = [f"threshold in force: {out['in_force']['text']}"]
    if not out["curve"]:
        lines.append("no night backtested yet: a night is backtested by the run that ingests its day's plays "
                     "(or `skipify backfill --start D --end D --backtest`)")
    else:
        nights = out["nights"]
        lines.append(f"the trade-off over {out['nights_read']} backtested night(s), {nights[0]} .. {nights[-1]}: "
                     "of the scored pairs then played,")
        lines.append(f"  {'threshold':>9} {'plays':>8} {'dislikes':>8} {'caught':>7} {'share':>6} {'caught/1000':>11} "
                     f"{'withheld/1000':>13} {'nightly share':>15}")
        shown = {round(t, 2) for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)}
        if out["threshold"] is not None:
            shown.add(nearest(pl.DataFrame(out["curve"]), out["threshold"])["threshold"])
        for r in out["curve"]:
            if round(r["threshold"], 2) in shown:
                share = "—" if r["share_caught"] is None else f"{r['share_caught']:.1%}"
                spread = ("—" if r["lowest_night_share_caught"] is None
                          else f"{r['lowest_night_share_caught']:.0%}..{r['highest_night_share_caught']:.0%}")
                lines.append(f"  {r['threshold']:>9.2f} {r['plays']:>8,} {r['dislikes']:>8,} {r['caught']:>7,} {share:>6} "
                             f"{r['caught_per_1000']:>11.1f} {r['withheld_per_1000']:>13.1f} {spread:>15}")
    goal = out.get("goal")
    if goal is not None:
        lines.append(f"goal: {goal['text']}: " + ("no threshold of the grid meets it" if goal["threshold"] is None
                                                   else f"threshold {goal['threshold']:.2f}"))
    if out["at_threshold"]:
        lines.append(f"at {out['threshold']:.2f}, by segment:")
        for r in out["at_threshold"]:
            if r["segment"] == "all":
                continue
            share = "—" if r["share_caught"] is None else f"{r['share_caught']:.1%}"
            lines.append(f"  {SEGMENTS[r['segment']] + ' ' + r['segment_value']:<22} {r['plays']:>8,} plays, caught {share:>6} "
                         f"of {r['dislikes']:,} dislikes, withheld {r['withheld_per_1000']:.1f} good plays per 1,000")
    tonight_ = out.get("tonight")
    if tonight_ and tonight_["segments"]:
        a = next(r for r in tonight_["segments"] if r["segment"] == "all")
        lines.append(f"night {tonight_['run_date']} at {out['threshold']:.2f}: {a['pairs_at_risk']:,} of {a['pairs']:,} pairs at risk, "
                     f"{a['listeners_at_risk']:,} of {a['listeners']:,} listeners")
    if out.get("saved"):
        s = out["saved"]
        lines.append(f"saved: {s['threshold']:.2f} in force from now on, chosen by {s['chosen_by']}")
    return lines
