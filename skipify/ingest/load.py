"""Load landing files into ``raw.*``: validate, quarantine, de-duplicate, all in one transaction.

A whole ``skipify ingest`` run is one DuckLake transaction: every file goes in, or, when any file
cannot be read (missing column, empty, corrupt), nothing at all. Readers in other processes keep
seeing the previous snapshot until the commit. Within a good file, each bad record goes to
``quarantine.rows`` with its reason; nothing is dropped silently.

Per file and target table the steps are the same (SQL in ``sql/ingest/``)::

    src  --adapter SQL-->  stage  --validate_<table>-->  checked  --new_<table>-->  fresh  --> raw.<table>
     |                       | excluded rows                | bad rows
     +-- unparsed records ---+------------------------------+--> quarantine.rows
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from skipify.config import Config, load_config, logger
from skipify.ingest import rules
from skipify.ingest.sources import (CONTRACT_COLUMNS, KNOWN_COLUMNS, SPOTIFY_PERSONAL, IngestError, SourceFile, discover, plain_name,
                                     printable, read_src)
from skipify.warehouse import connect, create_temp, migrate, read_sql, run_sql, transaction, with_retry


@dataclass(frozen=True)
class Target:
    """How one raw table is loaded from a contract-shaped ``stage``: its new rows (``fresh``) are written by
    ``sql/ingest/insert_<schema>_<table>.sql``, after ``delete_<schema>_<table>.sql`` for a table whose rows a
    later batch may change (``replaces``: tracks and listeners, by their id)."""

    table: str  # raw.events
    kind: str  # contract table whose columns ``stage`` must have
    replaces: bool = False

    def write(self, con: duckdb.DuckDBPyConnection, step: str) -> None:
        """Run the table's ``insert`` (or ``delete``) statement on the temp table ``fresh``."""
        run_sql(con, f"ingest/{step}_{self.table.replace('.', '_')}")


TARGETS = {
    "events": Target("raw.events", "events"),
    "tracks": Target("raw.tracks", "tracks", replaces=True),
    "users": Target("raw.users", "users", replaces=True),
    "candidates": Target("raw.candidates", "candidates"),
}


@dataclass
class BatchReport:
    """What happened to one (file, table)."""

    source_file: str
    table_name: str
    batch_id: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    rows_excluded: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    already_ingested: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        name = Path(self.source_file).name
        if self.already_ingested:
            return f"{name}: already ingested (batch {self.batch_id}), nothing added"
        parts = [
            f"read {self.rows_read:,}",
            f"loaded {self.rows_loaded:,}",
            f"duplicate {self.rows_duplicate:,}",
            f"quarantined {self.rows_quarantined:,}",
        ]
        if self.rows_excluded:
            parts.append(f"excluded {self.rows_excluded:,}")
        extra = "".join(f"; {n}" for n in self.notes)
        if self.ignored_columns:
            extra += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return f"{name} -> {self.table_name}: {', '.join(parts)}{extra}"


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


def _complete_stage(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Give ``stage`` every contract column of ``kind`` (absent optional ones as NULL)."""
    have = {r[0] for r in con.execute("DESCRIBE stage").fetchall()}
    for col in CONTRACT_COLUMNS[kind]:
        if col not in have:
            con.execute(f'ALTER TABLE stage ADD COLUMN "{col}" VARCHAR')


def _load_target(con: duckdb.DuckDBPyConnection, target: Target, params: dict, report: BatchReport) -> None:
    """Validate ``stage`` and write its new rows to ``target.table``; fill the report's counts."""
    has_excluded = "excluded" in {r[0] for r in con.execute("DESCRIBE stage").fetchall()}
    if has_excluded:
        report.rows_excluded = _count(con, "SELECT count(*) FROM stage WHERE excluded IS NOT NULL")
        run_sql(con, "ingest/quarantine_excluded", params)
        con.execute("DELETE FROM stage WHERE excluded IS NOT NULL")
    _complete_stage(con, target.kind)
    n_checked = create_temp(con, "checked", f"ingest/validate_{target.kind}", params)
    n_bad = _count(con, "SELECT count(*) FROM checked WHERE reason IS NOT NULL")
    run_sql(con, "ingest/quarantine_invalid", params)
    if target.kind == "events":  # bound the duplicate check to the batch's time range
        lo, hi = con.execute("SELECT min(ts), max(ts) FROM checked WHERE reason IS NULL").fetchone()
        params = {**params, "batch_min_ts": lo, "batch_max_ts": hi}
    n_new = create_temp(con, "fresh", f"ingest/new_{target.kind}", params)
    if target.replaces:
        target.write(con, "delete")
    if n_new:
        target.write(con, "insert")
    report.rows_read += n_checked + report.rows_excluded
    report.rows_quarantined += n_bad
    report.rows_loaded += n_new
    report.rows_duplicate += n_checked - n_bad - n_new


def _record(con: duckdb.DuckDBPyConnection, sf: SourceFile, report: BatchReport) -> None:
    run_sql(
        con,
        "ingest/record_batch",
        {
            "batch_id": report.batch_id,
            "table_name": report.table_name,
            "source_format": sf.fmt,
            "source_file": report.source_file,
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_duplicate": report.rows_duplicate,
            "rows_quarantined": report.rows_quarantined,
            "rows_excluded": report.rows_excluded,
            "ignored_columns": report.ignored_columns,
        },
    )


def _unparsed_to_quarantine(con: duckdb.DuckDBPyConnection, params: dict, report: BatchReport) -> None:
    n = _count(con, "SELECT count(*) FROM unparsed")
    if n:
        run_sql(con, "ingest/quarantine_unparsed", params)
        report.rows_read += n
        report.rows_quarantined += n


def _ingest_file(con: duckdb.DuckDBPyConnection, sf: SourceFile, batch_id: str, known: list[str], user: str | None,
                 cfg: Config) -> list[BatchReport]:
    """Ingest one file inside the caller's transaction; returns one report per target table.

    ``known``: the tables the batch was loaded into already (then nothing is read)."""
    if known:
        return [BatchReport(str(sf.path), t, batch_id, already_ingested=True) for t in known]

    drop = SPOTIFY_PERSONAL if sf.kind == "spotify_history" else []
    cols = read_src(con, sf, drop=drop, tmp_dir=cfg.home / ".tmp")
    ignored = sorted(printable(c) for c in set(cols) - set(KNOWN_COLUMNS[sf.kind]))  # recorded: no control character
    base = {
        "batch_id": batch_id,
        "source_file": str(sf.path),
        "source_format": sf.fmt,
        "min_ts": cfg.ingest_min_ts,
        "max_ts": dt.datetime.now(dt.UTC) + dt.timedelta(hours=cfg.ingest_max_future_hours),
        "skip_threshold_ms": cfg.label_skip_threshold_ms,
        **cfg.label_params(),  # the domains items may belong to
        "video_file": fnmatch.fnmatch(plain_name(sf.path), "Streaming_History_Video_*"),
        "user": user,
        **rules.params(),  # what an id or a label may hold
    }

    def make_report(table: str) -> BatchReport:
        return BatchReport(str(sf.path), table, batch_id, ignored_columns=ignored)

    def src_columns(names: list[str]) -> None:  # adapters may read columns the file lacks: make them NULL
        for c in names:
            if c not in cols:
                con.execute(f'ALTER TABLE src ADD COLUMN "{c}" VARCHAR')

    def load(kind: str, stage_sql: str | None = None, own_records: bool = True) -> BatchReport:
        """Load ``stage`` (built by ``stage_sql`` when given) into TARGETS[kind].

        own_records: the stage holds the file's records themselves (so records that could not be
        parsed are this table's quarantine), not rows derived from them (a Spotify export's tracks).
        """
        target = TARGETS[kind]
        report = make_report(target.table)
        params = {**base, "table_name": target.table}
        if own_records:
            _unparsed_to_quarantine(con, params, report)
        if stage_sql is not None:
            create_temp(con, "stage", stage_sql, base)
        _load_target(con, target, params, report)
        return report

    def load_side(table: str, new_rows_sql: str, main: BatchReport) -> BatchReport:
        """Source-specific columns for the records ``main`` accepted (MSSD extras)."""
        report = make_report(table)
        report.rows_read = main.rows_read - main.rows_quarantined
        report.rows_loaded = create_temp(con, "fresh", new_rows_sql, base)
        report.rows_duplicate = report.rows_read - report.rows_loaded
        Target(table, table.rsplit(".", 1)[1]).write(con, "insert")
        return report

    if sf.fmt == "contract":
        keep = ", ".join('"' + c + '"' for c in cols if c in CONTRACT_COLUMNS[sf.kind])
        con.execute(f"CREATE OR REPLACE TEMP TABLE stage AS SELECT record_number, {keep} FROM src")
        reports = [load(sf.kind)]
    elif sf.kind == "spotify_history":
        src_columns(KNOWN_COLUMNS["spotify_history"])
        if user is None and _count(con, "SELECT count(*) FROM src WHERE nullif(trim(username), '') IS NOT NULL") == 0:
            raise IngestError(f"{sf.path}: no username in the export; pass --user to say whose history this is")
        create_temp(con, "plays", "ingest/spotify_history_events", base)
        reports = [
            load("users", "ingest/spotify_history_users", own_records=False),
            load("tracks", "ingest/spotify_history_tracks", own_records=False),
        ]
        con.execute("CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM plays")
        reports.append(load("events"))
    elif sf.kind == "mssd_log":
        src_columns(KNOWN_COLUMNS["mssd_log"])
        form = run_sql(con, "ingest/mssd_date_form").pl().row(0, named=True)
        base.update(form)  # the file's date form, for the events and the side table
        logger.info("%s: dates read as %s (%d of them)", sf.path.name, form["date_form"], form["n_read"])
        events = load("events", "ingest/mssd_log_events")
        reports = [
            events,
            load_side("raw.mssd_session_logs", "ingest/new_mssd_session_logs", events),
            load("users", "ingest/mssd_log_users", own_records=False),
        ]
    elif sf.kind == "mssd_tf":
        src_columns(KNOWN_COLUMNS["mssd_tf"])
        tracks = load("tracks", "ingest/mssd_tf_tracks")
        reports = [tracks, load_side("raw.mssd_track_features", "ingest/new_mssd_track_features", tracks)]
    else:  # pragma: no cover - discover() only yields the kinds above
        raise IngestError(f"{sf.path}: no loader for {sf.kind}")

    for r in reports:
        _record(con, sf, r)
    return reports


def _note_orphans(con: duckdb.DuckDBPyConnection, reports: list[BatchReport]) -> None:
    """Count, once per run, the new events whose track or user is not known (yet); note it on their reports."""
    loaded = {r.batch_id: r for r in reports if r.table_name == "raw.events" and r.rows_loaded}
    if not loaded:
        return
    for batch_id, tracks, users in run_sql(con, "ingest/orphan_events", {"batch_ids": sorted(loaded)}).fetchall():
        loaded[batch_id].notes.append(f"{tracks:,} events of unknown tracks, {users:,} of unknown users (loaded)")


def ingest_paths(
    paths: list[Path], fmt: str | None = None, user: str | None = None, cfg: Config | None = None
) -> list[BatchReport]:
    """Ingest files and folders into the warehouse, all or nothing.

    Args:
        paths: landing files or folders (searched recursively).
        fmt: contract | spotify-history | mssd; detected per file when None.
        user: user id for Spotify history files (default: the export's username).
        cfg: configuration (default: load_config()).

    Returns:
        One report per (file, target table), in load order.

    Raises:
        IngestError: a file that cannot be ingested; nothing is written then.
    """
    cfg = cfg or load_config()
    files = discover(paths, fmt)
    con = connect(cfg)
    migrate(cfg, con)
    con.execute(read_sql("ingest/macros"))  # how text, numbers and dates of landing files are read
    t0 = time.perf_counter()

    batch_ids = [sf.batch_id(user) for sf in files]

    def run() -> list[BatchReport]:
        reports: list[BatchReport] = []
        with transaction(con):
            known: dict[str, list[str]] = {}
            for batch_id, table in run_sql(con, "ingest/known_batch", {"batch_ids": sorted(set(batch_ids))}).fetchall():
                known.setdefault(batch_id, []).append(table)
            for i, (sf, batch_id) in enumerate(zip(files, batch_ids), 1):
                file_reports = _ingest_file(con, sf, batch_id, sorted(known.get(batch_id, [])), user, cfg)
                known.setdefault(batch_id, [r.table_name for r in file_reports])  # the same content twice in one run
                reports.extend(file_reports)
                loaded = sum(r.rows_loaded for r in file_reports)
                logger.info(
                    "[%d/%d] %s: %s new rows (%.1fs elapsed)", i, len(files), sf.path.name, f"{loaded:,}", time.perf_counter() - t0
                )
            _note_orphans(con, reports)
        return reports

    try:
        return with_retry(run)
    finally:
        con.close()
