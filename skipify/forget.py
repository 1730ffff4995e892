"""A listener forgotten: ``skipify forget --user ID`` (or ``--file ids.txt``), the right to erasure.

Listening histories are personal data. Forgetting a listener removes them from everything Skipify keeps
under its home, then records that it was done, without their id in clear:

1. **Files outside the lake** that hold their plays are rewritten without them: the event log of
   ``POST /v1/events`` (each file under its append lock, swapped whole: an appender waiting on the old file
   writes to the new one), the landing files in the contract's formats (Parquet, CSV, JSON lines) and the
   generated world's truth file. The night's shared serving snapshots (caches) are deleted.
2. **The lake**, in one transaction: their rows of every table with a ``user_id`` column (raw, features,
   scores, staging, tower vectors of every version) and their quarantined records; ``ops.erasures`` gets
   who, when, how many rows per table and the SHA-256 of each id.
3. **The lake's files**: the rows deleted in 2 are still in the Parquet files of earlier snapshots, so
   inlined rows are flushed, every file with deleted rows is rewritten without them, every earlier snapshot
   is expired (time travel to before the erasure ends) and the files only they used are deleted; the SQLite
   catalog is vacuumed (its free pages and write-ahead log held the old files' statistics).

What remains: models trained before the erasure learned from their plays (their weights, not their id:
no model file holds an id in clear); they go when those versions are retrained and their folders removed.
Aggregates over many listeners (a track's dislike rate) keep what their plays added until they are rebuilt.
A reader holding a transaction open on a snapshot older than the erasure gets an error on its next read
of that snapshot and reads the new one when it asks again. A running API forgets them at its next reload.
Landing files in other formats (a Spotify export, gzip-compressed files) are named in the log, not rewritten.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from skipify import snapshots
from skipify.config import Config, load_config, logger
from skipify.ingest.rules import CONTROL, MAX_ID_CHARS
from skipify.ingest.sources import data_suffix
from skipify.warehouse import connect, read_sql, run_sql, transaction, with_retry


@dataclass
class Erasure:
    """What one ``skipify forget`` removed."""

    erasure_id: str
    users: int
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    files: list[str] = field(default_factory=list)  # files outside the lake rewritten or deleted
    skipped: list[str] = field(default_factory=list)  # landing files in a format not rewritten (named)

    def lines(self) -> list[str]:
        out = [f"erasure {self.erasure_id}: {self.users} listener(s), {sum(self.rows.values()):,} rows removed"]
        out += [f"  {t}: {n:,}" for t, n in sorted(self.rows.items()) if n]
        out.append(f"  {len(self.files)} file(s) outside the lake rewritten or deleted")
        out += [f"  not rewritten (remove it yourself if it holds them): {p}" for p in self.skipped]
        return out


def read_ids(users: list[str], file: Path | None) -> list[str]:
    """The ids given (``--user``) and those of ``file`` (one per line, blank lines and # comments skipped).

    Raises:
        ValueError: no id, or one no play could hold (empty, a control character, too long).
    """
    ids = list(users)
    if file is not None:
        ids += [line.strip() for line in file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    ids = sorted({i.strip() for i in ids})
    if not ids:
        raise ValueError("give the listeners to forget: --user ID (repeatable) or --file with one id per line")
    bad = [i for i in ids if not i or re.search(CONTROL, i) or len(i) > MAX_ID_CHARS]
    if bad:
        raise ValueError(f"{len(bad)} id(s) no play could hold (empty, a control character, over {MAX_ID_CHARS} characters)")
    return ids


def forget(user_ids: list[str], cfg: Config | None = None, by: str | None = None) -> Erasure:
    """Remove ``user_ids`` from everything under the warehouse's home (the module's docstring says what and how)."""
    cfg = cfg or load_config()
    erasure = Erasure(uuid.uuid4().hex[:12], len(user_ids))
    ids = set(user_ids)
    t0 = time.perf_counter()
    for path in _data_files(cfg):
        if _rewrite_without(path, ids, cfg):
            erasure.files.append(str(path))
        elif path.name.endswith(".gz") or (data_suffix(path) == ".json" and _is_array(path)):
            erasure.skipped.append(str(path))
    kept = snapshots.root(cfg)
    for cached in sorted(p for p in kept.iterdir() if p.is_dir()) if kept.exists() else []:
        shutil.rmtree(cached, ignore_errors=True)  # a night's serving snapshot (skipify.snapshots): made again when needed
        erasure.files.append(str(cached))
    logger.info("forget: %d file(s) outside the lake rewritten or deleted (%.1fs)", len(erasure.files), time.perf_counter() - t0)

    con = connect(cfg)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE forgotten AS SELECT unnest($ids::VARCHAR[]) AS user_id", {"ids": sorted(ids)})
        tables = run_sql(con, "forget/user_tables").fetchall()

        def write() -> dict[str, int]:
            rows = {}
            with transaction(con):
                for schema, table in tables:
                    rows[f"{schema}.{table}"] = con.execute(
                        f'DELETE FROM "{schema}"."{table}" WHERE user_id IN (SELECT user_id FROM forgotten)').fetchone()[0]
                rows["quarantine.rows"] = run_sql(con, "forget/quarantine").fetchone()[0]
                run_sql(con, "forget/record", {
                    "erasure_id": erasure.erasure_id, "erased_by": by or _who(), "users": len(ids),
                    "user_hashes": [hashlib.sha256(i.encode()).hexdigest() for i in sorted(ids)],
                    "rows_removed": sum(rows.values()), "rows": json.dumps(rows), "files_rewritten": len(erasure.files)})
            return rows

        erasure.rows = with_retry(write)
        logger.info("forget: %s rows removed from %d tables (%.1fs)", f"{sum(erasure.rows.values()):,}", len(tables),
                    time.perf_counter() - t0)
        con.execute(read_sql("forget/physical"))  # no file the lake keeps holds them any more
    finally:
        con.close()
    if cfg.local_catalog:
        _vacuum(cfg.catalog_path)
    shutil.rmtree(cfg.home / ".tmp", ignore_errors=True)  # DuckDB's spill files
    logger.info("forget: done in %.1fs", time.perf_counter() - t0)
    return erasure


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _data_files(cfg: Config) -> list[Path]:
    """The files outside the lake that may hold plays: landing files (the event log included) and the truth file."""
    found = {p.resolve() for root in (cfg.landing, cfg.events_folder) if root.exists() for p in root.rglob("*")
             if p.is_file() and not p.name.startswith(".") and data_suffix(p) in (".parquet", ".csv", ".jsonl", ".ndjson", ".json")}
    return sorted(found | ({cfg.truth_path.resolve()} if cfg.truth_path.exists() else set()))


def _rewrite_without(path: Path, ids: set[str], cfg: Config) -> bool:
    """Rewrite ``path`` without the rows of ``ids`` (its user_id column or field); True when anything was removed.
    JSON lines keep every other line byte for byte; Parquet and CSV files are written again by Polars."""
    suffix = data_suffix(path)
    if path.name.endswith(".gz"):
        return False
    if suffix in (".jsonl", ".ndjson") or (suffix == ".json" and not _is_array(path)):
        with _locked(path) as data:
            kept = [line for line in data.splitlines(keepends=True) if not _names(line, ids)]
            if len(kept) == len(data.splitlines(keepends=True)):
                return False
            _swap(path, b"".join(kept))
        return True
    if suffix in (".parquet", ".csv"):
        frame = pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
        if "user_id" not in frame.columns:
            return False
        kept = frame.filter(~pl.col("user_id").cast(pl.Utf8).str.strip_chars().is_in(sorted(ids)).fill_null(False))
        if kept.height == frame.height:
            return False
        tmp = path.with_name(f".{path.name}.forget{os.getpid()}")
        kept.write_parquet(tmp) if suffix == ".parquet" else kept.write_csv(tmp)
        tmp.replace(path)
        return True
    return False


def _is_array(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def _names(line: bytes, ids: set[str]) -> bool:
    """A JSON line whose user_id (or username) is one of ``ids``."""
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and any(isinstance(event.get(k), str) and event[k].strip() in ids for k in ("user_id", "username"))


class _locked:
    """A file's content under its exclusive append lock (skipify.events.EventLog's): nothing is appended meanwhile."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> bytes:
        self.fd = os.open(self.path, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0)

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def _swap(path: Path, data: bytes) -> None:
    """Replace ``path`` by a file holding ``data``, whole (written and fsynced beside it, then renamed)."""
    tmp = path.with_name(f".{path.name}.forget{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _vacuum(catalog: Path, attempts: int = 10) -> None:
    """Rebuild the SQLite catalog without its free pages and empty its write-ahead log: both still held the
    deleted files' statistics (their smallest and largest ids)."""
    for attempt in range(attempts):
        try:
            db = sqlite3.connect(catalog, timeout=10)
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.close()
            return
        except sqlite3.OperationalError as exc:  # a reader in the middle of a transaction
            logger.warning("forget: the catalog could not be vacuumed yet (%s); trying again", exc)
            time.sleep(1 + attempt)
    logger.error("forget: the catalog %s was not vacuumed: run `skipify forget` again when no reader holds it", catalog)


def erasures(cfg: Config | None = None) -> list[dict]:
    """ops.erasures, newest first (``skipify forget --list``)."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        return run_sql(con, "forget/erasures").pl().to_dicts()
    finally:
        con.close()

