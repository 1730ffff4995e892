"""Point-in-time features: one definition, two uses.

    $ skipify features --as-of 2026-03-01

Every feature table is one SQL file in ``sql/features/`` that reads the temp table ``fx_rows``:
all plays before the cut-off plus *probe* rows (pairs to score, carrying no outcome). The same SQL
gives

* **training rows**: one per play, built for the plays before ``--as-of`` (``features.*`` tables,
  joined by the view ``features.training_rows``);
* **scoring rows**: one per (user, track) probe at a cut-off (:func:`scoring_rows`), for the nightly
  scores and the API.

What a row may see (docs/warehouse.md, "features"): history features (user, track, user x artist /
genre / track) are as of the **start of the row's day** (UTC), exactly what a nightly run at that
cut-off knows; session features see the earlier plays of the same session; no feature reads the
row's own outcome (ms_played, skipped, feedback, reason_end).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import duckdb
import polars as pl

from skipify.config import Config, load_config, logger
from skipify.warehouse import connect, create_temp, insert_sql, migrate, read_sql, run_sql, transaction, with_retry

FAMILIES = ("user_history", "track_history", "user_affinity", "session_context")
PROBE_COLUMNS = {
    "probe_id": "BIGINT",
    "user_id": "VARCHAR",
    "track_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "session_id": "VARCHAR",
    "session_position": "INTEGER",
    "context_type": "VARCHAR",
    "platform": "VARCHAR",
    "shuffle": "BOOLEAN",
    "reason_start": "VARCHAR",
}


@dataclass
class FeatureReport:
    """What one ``skipify features`` run did."""

    as_of: dt.date
    rebuilt_from: dt.datetime | None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    texts_encoded: int = 0

    def lines(self) -> list[str]:
        if self.rebuilt_from is None:
            return [f"features as of {self.as_of}: up to date, nothing rebuilt"]
        out = [f"features as of {self.as_of}: rebuilt rows from {self.rebuilt_from:%Y-%m-%d %H:%M}"]
        out += [f"  features.{t:<18} {self.rows[t]:>11,} new rows  {self.seconds[t]:6.1f}s" for t in self.rows]
        return out


def _cutoff(as_of: dt.date) -> dt.datetime:
    return dt.datetime.combine(as_of, dt.time(), dt.UTC)


def _params(cfg: Config, cutoff: dt.datetime) -> dict:
    return {"cutoff": cutoff, "threshold_ms": cfg.label_skip_threshold_ms, "smoothing": cfg.feature_smoothing}


def _prepare(con: duckdb.DuckDBPyConnection, cfg: Config, cutoff: dt.datetime, probes: pl.DataFrame | None) -> int:
    """Temp tables ``probes``, ``fx_rows`` and ``fx_global_prior`` for a cut-off; returns the rows in fx_rows."""
    cols = ", ".join(f"{c} {t}" for c, t in PROBE_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE probes ({cols})")
    if probes is not None and probes.height:
        frame = probes.select([pl.col(c) if c in probes.columns else pl.lit(None).alias(c) for c in PROBE_COLUMNS]).to_arrow()
        con.register("probes_in", frame)
        casts = ", ".join(f"CAST({c} AS {t})" for c, t in PROBE_COLUMNS.items())
        con.execute(f"INSERT INTO probes SELECT {casts} FROM probes_in")
        con.unregister("probes_in")
    n = create_temp(con, "fx_rows", "features/fx_rows", _params(cfg, cutoff))
    create_temp(con, "fx_global_prior", "features/fx_global_prior", _params(cfg, cutoff))
    return n


def prepare_history(con: duckdb.DuckDBPyConnection, cfg: Config, cutoff: dt.datetime) -> int:
    """Temp table ``fx_rows``: every play before ``cutoff`` with its label, day, artist and genre (the
    input of every feature SQL; the serving snapshot folds it). Returns its row count."""
    return _prepare(con, cfg, cutoff, probes=None)


def _rebuild_from(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime) -> dt.datetime | None:
    """Earliest play whose feature row must be (re)built for this cut-off; None if up to date."""
    return run_sql(con, "features/rebuild_from", {"cutoff": cutoff}).fetchone()[0]


def build_features(as_of: dt.date, cfg: Config | None = None, with_text: bool = True) -> FeatureReport:
    """Build the training feature tables for the plays before ``as_of`` (00:00 UTC).

    Incremental: only rows from the earliest new play on are rebuilt; rows at or after the cut-off
    are removed. The same date twice gives identical tables.

    Args:
        as_of: cut-off date; plays before its midnight (UTC) get feature rows.
        cfg: configuration (default: load_config()).
        with_text: also embed new or changed track texts (skipify.text).

    Returns:
        Rows written and seconds per table.
    """
    cfg = cfg or load_config()
    migrate(cfg)
    cutoff = _cutoff(as_of)
    con = connect(cfg)
    try:
        report = with_retry(lambda: _build(con, cfg, as_of, cutoff))
    finally:
        con.close()
    if with_text:
        from skipify.text import embed_tracks

        report.texts_encoded = embed_tracks(cfg)
    return report


def _build(con: duckdb.DuckDBPyConnection, cfg: Config, as_of: dt.date, cutoff: dt.datetime) -> FeatureReport:
    t0 = time.perf_counter()
    start = _rebuild_from(con, cutoff)
    report = FeatureReport(as_of=as_of, rebuilt_from=start)
    if start is not None:
        # Temp tables are made before the transaction: made inside one, DuckDB scans them far slower
        # (user_affinity at 1M plays: 80 s against 2 s).
        n = _prepare(con, cfg, cutoff, probes=None)
        # a view, not a copy: at 10M plays fx_rows is the biggest thing in memory
        con.execute(
            "CREATE OR REPLACE TEMP VIEW fx_rows_out AS SELECT * FROM fx_rows "
            f"WHERE is_event AND ts >= '{start.isoformat()}'::TIMESTAMPTZ"
        )
        logger.info("features: %s plays before %s, %s rows to build (%.1fs)", f"{n:,}", as_of, f"{_count(con, 'fx_rows_out'):,}", time.perf_counter() - t0)
    # rows at or after the cut-off do not belong to this date; rows from `start` on are rebuilt
    # (start, when there is one, is a play before the cut-off, so one delete covers both)
    delete_from = start if start is not None else cutoff
    with transaction(con):
        existing = {r[0] for r in run_sql(con, "features/existing_tables").fetchall()}
        for table in ("labels", *FAMILIES):
            if table in existing:
                con.execute(f"DELETE FROM features.{table} WHERE ts >= $d", {"d": delete_from})
        if start is not None:
            for table in ("labels", *FAMILIES):
                t1 = time.perf_counter()
                rows = insert_sql(con, f"features.{table}", f"features/{table}", _params(cfg, cutoff))
                report.rows[table] = rows
                report.seconds[table] = time.perf_counter() - t1
                logger.info("features.%s: %s rows (%.1fs)", table, f"{rows:,}", report.seconds[table])
            con.execute(read_sql("features/training_rows"))
        run_sql(con, "features/record_build", {"as_of": as_of, "rebuilt_from": start, "rows": sum(report.rows.values())})
    return report


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def scoring_rows(con: duckdb.DuckDBPyConnection, probes: pl.DataFrame, cutoff: dt.datetime, cfg: Config | None = None) -> pl.DataFrame:
    """Feature rows for (user, track) probes at ``cutoff``, from the same SQL as the training rows.

    Args:
        con: an open warehouse connection (read-only is enough).
        probes: columns probe_id, user_id, track_id and optionally the context (session_id,
            session_position, context_type, platform, shuffle, reason_start); ``ts`` defaults to the cut-off.
        cutoff: only plays strictly before it are history.

    Returns:
        One row per probe: probe_id, user_id, track_id and every feature column of features.training_rows.
    """
    cfg = cfg or load_config()
    if "ts" not in probes.columns:
        probes = probes.with_columns(pl.lit(cutoff).alias("ts"))
    _prepare(con, cfg, cutoff, probes)
    con.execute("CREATE OR REPLACE TEMP VIEW fx_rows_out AS SELECT * FROM fx_rows WHERE NOT is_event")
    params = _params(cfg, cutoff)
    for table in FAMILIES:
        create_temp(con, f"new_{table}", f"features/{table}", params)
    return con.execute(read_sql("features/scoring_rows")).pl()


def default_as_of(cfg: Config | None = None) -> dt.date:
    """The day after the last play: every play gets a feature row."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        last = run_sql(con, "features/last_play").fetchone()[0]
    finally:
        con.close()
    if last is None:
        raise ValueError("no plays in raw.events yet: run `skipify ingest` first")
    return last.astimezone(dt.UTC).date() + dt.timedelta(days=1)
