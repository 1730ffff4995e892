"""The warehouse: a DuckLake (SQLite catalog in WAL mode, Parquet data files) under ``home/lake``.

Why DuckLake and not one ``.duckdb`` file: a DuckDB file admits one writing process and
no reader beside it, so an analyst's open session would make the nightly run fail. With
DuckLake every commit is a snapshot recorded in the SQLite catalog: readers in other
processes keep reading the snapshot they started on and see the next one on their next
query, the writer never waits for them, and nobody ever sees half a batch.
docs/warehouse.md has the measurements behind the choice.

Every process opens the lake the same way, through :func:`connect`::

    con = connect()                   # writer (one at a time)
    con = connect(read_only=True)     # analysts, the app, the API: locked down, see attach_sql

The data path is always the warehouse's own ``lake/data`` (``OVERRIDE_DATA_PATH``), not the absolute
path DuckLake stored when the lake was created: a warehouse folder can be moved or copied as a whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import duckdb

from skipify.config import SQL_DIR, Config, load_config, logger

CATALOG = "lake"
SCHEMAS = ("raw", "quarantine", "features", "embeddings", "models", "scores", "ops")
T = TypeVar("T")


class WarehouseError(RuntimeError):
    """A warehouse that is missing, or that cannot be opened."""


# extension -> (its PyPI package, its file, the name it must be loaded under when that differs: the
# entry point is named after it)
EXTENSIONS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake", None),
    "sqlite": ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
    "postgres": ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    "httpfs": ("duckdb_extension_httpfs", "httpfs", None),
}


def _extension_files(cfg: Config) -> list[Path]:
    """Paths of the extensions this warehouse needs, shipped in their PyPI packages (pinned like the rest):
    ducklake, and sqlite or postgres for the catalog, and httpfs for data in S3.

    An extension whose file must be loaded under another name (sqlite_scanner, postgres_scanner) is
    linked under that name below the warehouse home (a hard link to the package's file where both are on
    one file system: one file, whose signature a process checks once for every home; a copy elsewhere).
    """
    version = "v" + duckdb.__version__
    wanted = ["ducklake", "sqlite" if cfg.local_catalog else "postgres", *([] if cfg.local_data else ["httpfs"])]
    out = []
    for name in wanted:
        package, file, canonical = EXTENSIONS[name]
        src = Path(importlib.import_module(package).__file__).parent / "extensions" / version / f"{file}.duckdb_extension"
        if not src.exists():
            raise WarehouseError(f"DuckDB extension missing: {src} (reinstall with -c constraints.txt)")
        if canonical is None:
            out.append(src)
            continue
        dst = cfg.extension_dir / f"{canonical}.duckdb_extension"
        if not dst.exists() or dst.stat().st_size != src.stat().st_size:
            cfg.extension_dir.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_suffix(f".tmp{time.monotonic_ns()}")
            try:
                os.link(src, tmp)
            except OSError:  # another file system, or no hard links there
                shutil.copyfile(src, tmp)
            tmp.replace(dst)  # atomic: a concurrent process never loads half a file
        out.append(dst)
    return out


def quote(text: str | Path) -> str:
    """A SQL string literal: a path with an apostrophe (/data/o'brien) must not end the string."""
    return "'" + str(text).replace("'", "''") + "'"


def lock_down_sql(cfg: Config) -> str:
    """After a read-only attach: no file outside the lake's data folder (or prefix) can be read or written
    (COPY ... TO, read_text(), ATTACH of a DuckDB file, INSTALL/LOAD), and no setting can be changed back
    in the session."""
    return (f"SET allowed_directories = [{quote(cfg.data_url)}];\n"
            "SET enable_external_access = false;\n"
            "SET lock_configuration = true;\n")


def s3_sql(cfg: Config) -> str:
    """The S3 secret and timeouts for data in an S3-compatible bucket, from the usual environment
    variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or
    AWS_DEFAULT_REGION; AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for a server other than AWS's)."""
    env = os.environ
    parts = ["TYPE s3", f"REGION {quote(env.get('AWS_REGION') or env.get('AWS_DEFAULT_REGION') or 'us-east-1')}"]
    if env.get("AWS_ACCESS_KEY_ID"):
        parts += [f"KEY_ID {quote(env['AWS_ACCESS_KEY_ID'])}", f"SECRET {quote(env.get('AWS_SECRET_ACCESS_KEY', ''))}"]
    if env.get("AWS_SESSION_TOKEN"):
        parts.append(f"SESSION_TOKEN {quote(env['AWS_SESSION_TOKEN'])}")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        parts += [f"ENDPOINT {quote(url.netloc)}", "URL_STYLE 'path'", f"USE_SSL {str(url.scheme == 'https').lower()}"]
    return (f"CREATE OR REPLACE SECRET skipify_s3 ({', '.join(parts)});\n"
            f"SET http_timeout = {cfg.warehouse_timeout_s};\n"
            "SET http_retries = 1;\n")


def _postgres_target(cfg: Config) -> str:
    """The PostgreSQL catalog's connection string, with a connect timeout (libpq's connect_timeout)."""
    info = cfg.warehouse_catalog.strip()
    if "connect_timeout" in info:
        return info
    if info.startswith(("postgres://", "postgresql://")):
        return f"{info}{'&' if '?' in info else '?'}connect_timeout={cfg.warehouse_timeout_s}"
    return f"{info} connect_timeout={cfg.warehouse_timeout_s}"


# the extension files (device, inode, size, mtime) whose signature DuckDB checked in this process
_CHECKED: set[tuple[int, int, int, int]] = set()


def _stamp(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _checked_before(files: list[Path]) -> bool:
    """True when DuckDB checked the signature of each of ``files`` in this process and none changed since.

    The check hashes the whole file (34 MB each, 0.1 s on two cores) on every LOAD, and every connection
    loads two: a process that opens the warehouse many times (the night, a test) paid it each time. The
    first connection of a process loads them with the check; later ones skip it (DuckDB's
    ``allow_unsigned_extensions``, for that in-memory database only) while the files are the ones checked.
    Read-only sessions cannot LOAD anything either way (``enable_external_access`` is off, see lock_down_sql).
    """
    try:
        return all(_stamp(p) in _CHECKED for p in files)
    except OSError:
        return False


def attach_sql(cfg: Config | None = None, read_only: bool = True, for_cli: bool = False,
               extensions: list[Path] | None = None) -> str:
    """The SQL that opens this warehouse in any DuckDB 1.5.5 session (the CLI included).

    The catalog is the SQLite file under the home, or PostgreSQL (``warehouse_catalog``); the data the
    local folder, or an S3 prefix (``warehouse_data``). Read-only sessions are locked down after the
    attach (lock_down_sql); what that leaves open is closed for analysts' queries by :func:`check_query`.

    ``for_cli``: the text of ``<home>/attach.sql`` for the DuckDB CLI (:func:`write_attach_file`): the home's
    own paths relative to the home, so that a moved or copied warehouse opens itself, and no configuration
    lock (the CLI changes a setting after its init file, and every statement then failed).
    ``extensions``: the files :func:`_extension_files` gave, when the caller has them already.
    """
    cfg = cfg or load_config()
    home = str(cfg.home).rstrip("/") + "/"

    def path(p: str | Path) -> str:
        return str(p)[len(home):] if for_cli and str(p).startswith(home) else str(p)

    mode = ", READ_ONLY" if read_only else ""
    if cfg.local_catalog:
        target, options = f"ducklake:sqlite:{path(cfg.catalog_path)}", ", META_JOURNAL_MODE 'wal'"
    else:
        target, options = f"ducklake:postgres:{_postgres_target(cfg)}", ""
    data = path(cfg.data_url)
    locked = (f"SET allowed_directories = [{quote(data)}];\nSET enable_external_access = false;\n"
              if for_cli else lock_down_sql(cfg))
    return (
        "SET autoinstall_known_extensions = false;\n"
        "SET autoload_known_extensions = false;\n"
        + "".join(f"LOAD {quote(path(p))};\n" for p in (extensions if extensions is not None else _extension_files(cfg)))
        + "SET TimeZone = 'UTC';\n"
        + ("" if cfg.local_data else s3_sql(cfg))
        + f"ATTACH {quote(target)} AS {CATALOG} "
        f"(DATA_PATH {quote(data)}, OVERRIDE_DATA_PATH true{options}{mode});\n"
        f"USE {CATALOG};\n"
        + (locked if read_only else "")
    )


def connect(cfg: Config | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse.

    Args:
        cfg: configuration (default: :func:`load_config`).
        read_only: readers pass True; they never block the writer.

    Returns:
        An in-memory DuckDB connection with the lake attached as the default catalog.

    Raises:
        WarehouseError: read_only and no warehouse exists yet.
        Unreachable: the PostgreSQL catalog or the S3 bucket did not answer.
    """
    cfg = cfg or load_config()
    if cfg.local_catalog and read_only and not cfg.catalog_path.exists():
        raise WarehouseError(f"no warehouse at {cfg.lake_dir}: run `skipify migrate` or `make demo` first")
    if cfg.local_data:
        cfg.data_path.mkdir(parents=True, exist_ok=True)
    tmp_dir = spill_folder(cfg)
    files = _extension_files(cfg)
    checked = _checked_before(files)
    stamps = set() if checked else {_stamp(p) for p in files}  # before the LOAD: a file changed meanwhile is checked again
    con = duckdb.connect(
        config={
            "threads": cfg.duckdb_threads,
            "memory_limit": cfg.duckdb_memory_limit,
            "temp_directory": str(tmp_dir),
            "preserve_insertion_order": True,
            "allow_unsigned_extensions": checked,
        }
    )
    text = attach_sql(cfg, read_only=read_only, extensions=files)
    try:
        con.execute(text)
        _CHECKED.update(stamps)
        if not cfg.local_data:  # one small listing: a bucket that does not answer fails here, by name
            con.execute("SELECT count(*) FROM glob($p)", {"p": cfg.data_url + "skipify-probe*"}).fetchone()
    except duckdb.Error as exc:
        con.close()
        down = unreachable(cfg, exc)
        if down is not None:
            raise down from exc
        raise
    if not cfg.local_catalog or cfg.catalog_path.exists():
        write_attach_file(cfg)
    return con


def spill_folder(cfg: Config) -> Path:
    """A folder under ``<home>/.tmp`` for one connection's spill files, its own: DuckDB names them alike in every
    database, so two databases spilling into one folder overwrite each other's files (two API workers loading at
    10M plays: a read error, and crashes when three processes sorted at once). DuckDB makes the folder when it
    first spills and removes it when the connection closes; one left by a process that was killed is removed here."""
    root = cfg.home / ".tmp"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid = old.name.split("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def scratch_folder(cfg: Config) -> Iterator[Path]:
    """A :func:`spill_folder` for a process's own files (training's mapped rows and tensors), removed when the
    block ends; one left by a process that was killed is removed by the next spill_folder."""
    folder = spill_folder(cfg)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with that id exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) among this machine's processes (flock); released on exit."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


class Unreachable(RuntimeError):
    """The warehouse's PostgreSQL catalog or its S3 bucket did not answer (``part``: "catalog" or "data").
    Every command ends on it with one line naming the part and exit status 3 (skipify.cli.main)."""

    def __init__(self, part: str, where: str, detail: str):
        self.part = part
        what = "catalog (PostgreSQL)" if part == "catalog" else "data bucket"
        first = " ".join(detail.split())[:400]
        state = "is unreachable" if any(s in first.lower() for s in ("connect", "timeout", "timed out")) else "refused the request"
        super().__init__(f"the warehouse's {what} at {where} {state}: {first}")


# What DuckDB's errors say when a remote part does not answer: libpq's, and httpfs's.
_CATALOG_DOWN = ("could not connect to server", "connection refused", "server closed the connection",
                 "connection to server", "terminating connection", "no connection to the server", "timeout expired",
                 "the database system is shutting down", "the database system is starting up")
_DATA_DOWN = ("http", "s3://")  # httpfs names the request it could not make


def unreachable(cfg: Config, exc: BaseException) -> Unreachable | None:
    """``exc`` as an :class:`Unreachable` naming the part that did not answer, or None when it is something else."""
    text = str(exc).lower()
    if not cfg.local_data and isinstance(exc, (duckdb.IOException, duckdb.HTTPException)) and any(s in text for s in _DATA_DOWN):
        return Unreachable("data", cfg.data_url, str(exc))
    if not cfg.local_catalog and any(s in text for s in _CATALOG_DOWN):
        return Unreachable("catalog", cfg.catalog_name, str(exc))
    return None


CLI_HEADER = """-- The DuckDB CLI on this warehouse, read-only: run it from this folder (the paths below are relative to it,
-- so a moved or copied warehouse opens itself):   cd <this folder> && duckdb -init attach.sql
-- This is an admin's session, said plainly: the lake is attached read-only and files outside its data folder are
-- closed, but the CLI is a whole DuckDB: it can attach the catalog writable and run .shell. Give it to those
-- who may change the files anyway. Analysts who must not change anything: `skipify sql` (every statement checked).
-- Written by Skipify whenever the warehouse is opened and this text is stale: edits here are lost.
"""


def write_attach_file(cfg: Config) -> Path:
    """``<home>/attach.sql``, for the DuckDB CLI: ``cd <home> && duckdb -init attach.sql`` opens the warehouse
    read-only (an admin's session: CLI_HEADER). Paths inside the home are relative to it.

    Rewritten when its text is stale (the extensions moved, another catalog or bucket).
    """
    path = cfg.home / "attach.sql"
    text = CLI_HEADER + attach_sql(cfg, read_only=True, for_cli=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".tmp{time.monotonic_ns()}")
        tmp.touch(mode=0o600)  # it holds the S3 credentials when the data is in a bucket
        tmp.write_text(text)
        tmp.replace(path)
    return path


# --- analysts' queries (skipify sql) ----------------------------------------------------------

# Functions an analyst's query may not call, though DuckDB's lock-down lets them through: the sqlite
# extension opens any SQLite file by itself (sqlite_scan, sqlite_attach), the postgres extension runs
# SQL on the catalog's database (postgres_query, postgres_execute), the ducklake extension's
# maintenance functions delete files, and query() runs SQL given as a string. DuckLake's read-only
# metadata functions stay allowed.
REFUSED_PREFIXES = ("sqlite_", "postgres_", "ducklake_")
ALLOWED_METADATA = frozenset({
    "ducklake_snapshots", "ducklake_current_snapshot", "ducklake_last_committed_snapshot", "ducklake_table_info",
    "ducklake_list_files", "ducklake_table_changes", "ducklake_table_insertions", "ducklake_table_deletions",
})
RUNS_SQL_TEXT = frozenset({"query", "query_table", "json_execute_serialized_sql"})
# Functions that read files by the path they are given: allowed only on a path written out in full (a constant) that
# lies inside the lake's data folder. DuckDB's own lock-down lets a session read the catalog's file too (the paths of
# an attached database are always allowed), and `lake/data/../meta.sqlite` reached it.
FILE_READERS = frozenset({
    "read_blob", "read_text", "read_csv", "read_csv_auto", "read_json", "read_json_auto", "read_json_objects",
    "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_parquet", "parquet_scan",
    "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe", "glob",
    "sniff_csv",
})
QUERY_KINDS = "SELECT, WITH, FROM, VALUES, SHOW, DESCRIBE or SUMMARIZE"


class QueryRefused(ValueError):
    """An analyst's query that would change the warehouse or reach outside it."""


def _function_names(node) -> set[str]:
    """Every function named anywhere in a parse tree (json_serialize_sql's JSON)."""
    if isinstance(node, dict):
        own = {node["function_name"].lower()} if isinstance(node.get("function_name"), str) else set()
        return own.union(*(_function_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_function_names(v) for v in node))
    return set()


def _file_paths(node) -> list[object]:
    """Every path a parse tree reads files by: the first argument of a FILE_READERS function (its constant text, or
    None when it is computed), and a table named by a path (FROM 'x/y.parquet')."""
    out: list[object] = []
    if isinstance(node, dict):
        name = node.get("function_name")
        if isinstance(name, str) and name.lower() in FILE_READERS:
            first = (node.get("children") or [None])[0]
            value = first.get("value") if isinstance(first, dict) and first.get("class") == "CONSTANT" else None
            out.append(value["value"] if isinstance(value, dict) and not value.get("is_null")
                       and value.get("type", {}).get("id") == "VARCHAR" else None)
        if node.get("type") == "BASE_TABLE" and not node.get("schema_name") and any(c in node.get("table_name", "") for c in "/\\.:"):
            out.append(node["table_name"])
        for v in node.values():
            out.extend(_file_paths(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_file_paths(v))
    return out


def _inside_data(path: object, data_url: str) -> bool:
    """A path written out in full that lies inside the lake's data folder (or its S3 prefix), '..' resolved."""
    if not isinstance(path, str) or not path:
        return False
    if data_url.startswith("s3://"):
        return path.startswith(data_url) and ".." not in path.split("/")
    return os.path.normpath(os.path.abspath(path)).startswith(os.path.normpath(data_url) + os.sep)


def check_query(con: duckdb.DuckDBPyConnection, query: str, data_url: str | None = None) -> None:
    """Refuse anything but read-only queries of the warehouse (``skipify sql``).

    On top of the read-only, locked-down connection: only SELECT-type statements (ATTACH, DETACH, USE,
    COPY, SET, DELETE, CREATE, ... are refused by their kind), none of the functions that open
    files by themselves or run SQL text (REFUSED_PREFIXES, RUNS_SQL_TEXT), and files read (FILE_READERS,
    a table named by a path) only by a constant path inside ``data_url``, the lake's data folder (None:
    no file at all).

    Raises:
        QueryRefused: with what was refused and why.
        duckdb.ParserException: the query does not parse.
    """
    kinds = [st.type.name for st in con.extract_statements(query)]
    if not kinds:
        raise QueryRefused("no statement to run")
    other = sorted(set(kinds) - {"SELECT"})
    if other:
        raise QueryRefused(f"{', '.join(other)} statements are refused: the warehouse is read-only here; "
                           f"run queries ({QUERY_KINDS})")
    tree = json.loads(run_sql(con, "ops/parse_tree", {"q": query}).fetchone()[0])
    if tree.get("error"):
        raise QueryRefused(f"only plain queries are run ({QUERY_KINDS}): {tree.get('error_message')}")
    names = _function_names(tree["statements"])
    refused = sorted(n for n in names if n in RUNS_SQL_TEXT or (n.startswith(REFUSED_PREFIXES) and n not in ALLOWED_METADATA))
    if refused:
        raise QueryRefused(f"{', '.join(refused)}: functions that open files by themselves, change the lake or run "
                           "SQL text are refused")
    outside = [p for p in _file_paths(tree["statements"]) if data_url is None or not _inside_data(p, data_url)]
    if outside:
        what = ", ".join(repr(p) if isinstance(p, str) else "a computed path" for p in outside)
        raise QueryRefused(f"{what}: files are read only inside the lake's data folder ({data_url}), by a path written "
                           "out in full; query the tables instead")


def read_sql(name: str) -> str:
    """Text of ``sql/<name>.sql``: every statement Skipify runs lives there."""
    path = SQL_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text()


def used_params(text: str, params: dict | None) -> dict:
    """The ``$named`` parameters that the statement uses (comments aside); DuckDB rejects extra ones."""
    code = re.sub(r"--[^\n]*", "", text)
    used = set(re.findall(r"\$([A-Za-z_]\w*)", code))
    return {k: v for k, v in (params or {}).items() if k in used}


def run_sql(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Execute ``sql/<name>.sql`` (one statement) with the ``$named`` parameters it uses.

    Parameters the file does not mention are left out, so callers can pass one dict to many files.
    """
    text = read_sql(name)
    return con.execute(text, used_params(text, params))


def run_script(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Execute every statement of ``sql/<name>.sql`` (split at semicolons: none in its comments), no parameters:
    the temp macros and the API's in-memory tables."""
    for statement in read_sql(name).split(";"):
        if statement.strip():
            con.execute(statement)


def insert_sql(con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict | None = None) -> int:
    """``INSERT INTO table`` the query in ``sql/<name>.sql`` (creating the table from it when missing).

    The rows stream into the table: nothing is held in a temp table. Returns the rows inserted.
    """
    text = read_sql(name)
    bound = used_params(text, params)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM ({text}) LIMIT 0", bound)
    return con.execute(f"INSERT INTO {table} {text}", bound).fetchone()[0]


def create_temp(con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict | None = None) -> int:
    """``CREATE OR REPLACE TEMP TABLE table AS`` the query in ``sql/<name>.sql``; returns its row count."""
    text = read_sql(name)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {text}", used_params(text, params))
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK on any error: a batch goes in whole or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def with_retry(fn: Callable[[], T], attempts: int = 5, wait_s: float = 0.5) -> T:
    """Retry a whole transaction when the catalog is briefly locked by another writer."""
    for i in range(attempts):
        try:
            return fn()
        except duckdb.Error as exc:
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            logger.warning("catalog busy (%s), retrying in %.1fs", exc, wait_s * (i + 1))
            time.sleep(wait_s * (i + 1))
    raise AssertionError("unreachable")


# --- maintenance -------------------------------------------------------------------------------


def maintain(cfg: Config | None = None) -> dict[str, int]:
    """Keep the lake's folder to what its snapshots need (``skipify maintain``, the nightly DAG's last task).

    Deletes the data files no snapshot references once older than ``maintain_orphan_age_hours`` (a writer
    killed before its commit leaves its files behind: kill -9 of an ingest or a night), merges small
    adjacent files (each ingest and night adds some), expires snapshots older than
    ``maintain_keep_snapshots_days`` and deletes the files only they used (replaced nights, files merged
    away; without this the folder keeps every version). DuckLake's own functions do the work.

    Returns:
        Counts: orphaned_files, merged_files (files merged away), expired_snapshots, old_files.
    """
    cfg = cfg or load_config()
    con = connect(cfg)
    try:
        orphans = run_sql(con, "ops/delete_orphaned_files", {"hours": cfg.maintain_orphan_age_hours}).fetchall()
        merged = run_sql(con, "ops/merge_adjacent_files").fetchall()
        expired = run_sql(con, "ops/expire_snapshots", {"days": cfg.maintain_keep_snapshots_days}).fetchall()
        old = run_sql(con, "ops/cleanup_old_files", {"days": cfg.maintain_keep_snapshots_days}).fetchall()
    finally:
        con.close()
    out = {"orphaned_files": len(orphans), "merged_files": sum(r[2] for r in merged), "expired_snapshots": len(expired),
           "old_files": len(old)}
    logger.info("maintenance: %d orphaned files deleted (older than %s h), %d small files merged in %d tables, %d snapshots "
                "expired (older than %d days), %d files of expired snapshots deleted", out["orphaned_files"],
                cfg.maintain_orphan_age_hours, out["merged_files"], len(merged), out["expired_snapshots"],
                cfg.maintain_keep_snapshots_days, out["old_files"])
    return out


# --- migrations ----------------------------------------------------------------------------


def migration_files() -> list[tuple[int, str, Path]]:
    """``sql/ddl/NNN_name.sql`` in version order."""
    out = []
    for p in sorted((SQL_DIR / "ddl").glob("*.sql")):
        version, _, name = p.stem.partition("_")
        out.append((int(version), name, p))
    return out


def migrate(cfg: Config | None = None, con: duckdb.DuckDBPyConnection | None = None) -> list[int]:
    """Apply the DDL migrations not yet recorded in ``ops.schema_version``, all of them in one transaction:
    a warehouse is at one version or the next, never between (and a new one is made in one commit, a
    quarter of the time of one per file).

    Applying twice changes nothing: applied versions are skipped and no snapshot is made.
    ``con``: a writable connection to reuse (default: one of its own, closed after).

    Returns:
        The versions applied by this call.
    """
    cfg = cfg or load_config()
    own = con is None
    con = con or connect(cfg)
    try:
        applied: set[int] = set()
        has_table = con.execute(  # duckdb_tables(): information_schema.tables costs up to 0.4 s on a lake
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = $c "
            "AND schema_name = 'ops' AND table_name = 'schema_version'",
            {"c": CATALOG},
        ).fetchone()[0]
        if has_table:
            applied = {r[0] for r in con.execute("SELECT version FROM ops.schema_version").fetchall()}
        pending = [(v, n, p.read_text()) for v, n, p in migration_files() if v not in applied]

        def apply() -> None:
            with transaction(con):
                for version, name, text in pending:
                    con.execute(text)
                    con.execute(
                        "INSERT INTO ops.schema_version VALUES ($v, $n, $h, now())",
                        {"v": version, "n": name, "h": hashlib.sha256(text.encode()).hexdigest()[:16]},
                    )

        if pending:
            with_retry(apply)
        for version, name, _ in pending:
            logger.info("applied migration %03d_%s", version, name)
        return [v for v, _, _ in pending]
    finally:
        if own:
            con.close()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(version), 0) FROM ops.schema_version").fetchone()[0]
