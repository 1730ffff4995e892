"""Landing files: find them, tell their format and table, and read them into DuckDB.

Every reader produces the temp table ``src``: one row per record, ``record_number`` (1-based
position in the file), then the file's columns. Text formats (CSV, JSON) are read as text so that
a bad value becomes a quarantine row with its reason instead of failing the whole file. Records
that cannot be parsed at all (a broken JSON line, a CSV line with the wrong number of fields or over
DuckDB's line size limit) go to the temp table ``unparsed`` (record_number, reason, line).

Any of these may be gzip-compressed (``events.csv.gz``; a compressed file is known by its first bytes,
whatever its name) and may start with a UTF-8 byte-order mark.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import gzip
import hashlib
import shutil
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from skipify.ingest.rules import CONTROL

FORMATS = ("contract", "spotify-history", "mssd")
DATA_SUFFIXES = (".parquet", ".csv", ".json", ".jsonl", ".ndjson")  # each may be followed by .gz
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
CONTRACT_KINDS = ("users", "tracks", "events", "candidates")  # also the order files are loaded in

# Columns of the data contract (DESIGN.md); the first ones of each table are required.
CONTRACT_COLUMNS = {
    "events": ["user_id", "track_id", "ts", "ms_played", "skipped", "feedback", "reason_start", "reason_end",
               "session_id", "session_position", "context_type", "platform", "shuffle"],
    "tracks": ["track_id", "title", "artist", "album", "genres", "release_year", "duration_ms", "danceability",
               "energy", "valence", "tempo", "acousticness", "instrumentalness", "speechiness", "liveness",
               "loudness", "key", "mode", "time_signature", "domain", "show_name", "publisher", "chapter"],
    "users": ["user_id", "country", "birth_year", "age_band", "product", "signup_date"],
    "candidates": ["run_date", "user_id", "track_id"],
}
REQUIRED = {
    "events": ["user_id", "track_id", "ts"],
    "tracks": ["track_id"],
    "users": ["user_id"],
    "candidates": ["run_date", "user_id", "track_id"],
    "spotify_history": ["ts", "ms_played", "spotify_track_uri"],
    "mssd_log": ["session_id", "session_position", "track_id_clean", "skip_2", "date", "hour_of_day"],
    "mssd_tf": ["track_id"],
}
SPOTIFY_COLUMNS = [
    "ts", "username", "platform", "ms_played", "conn_country", "master_metadata_track_name",
    "master_metadata_album_artist_name", "master_metadata_album_album_name", "spotify_track_uri",
    "episode_name", "episode_show_name", "spotify_episode_uri", "audiobook_title", "audiobook_uri",
    "audiobook_chapter_uri", "audiobook_chapter_title", "reason_start", "reason_end", "shuffle",
    "skipped", "offline", "incognito_mode",
]
# Personal fields of the Spotify export: never read into the warehouse, not even into quarantine.
SPOTIFY_PERSONAL = ["ip_addr", "ip_addr_decrypted", "user_agent_decrypted", "offline_timestamp"]
MSSD_LOG_COLUMNS = [
    "session_id", "session_position", "session_length", "track_id_clean", "skip_1", "skip_2", "skip_3",
    "not_skipped", "context_switch", "no_pause_before_play", "short_pause_before_play",
    "long_pause_before_play", "hist_user_behavior_n_seekfwd", "hist_user_behavior_n_seekback",
    "hist_user_behavior_is_shuffle", "hour_of_day", "date", "premium", "context_type",
    "hist_user_behavior_reason_start", "hist_user_behavior_reason_end",
]
MSSD_TF_COLUMNS = [
    "track_id", "duration", "release_year", "us_popularity_estimate", "acousticness", "beat_strength",
    "bounciness", "danceability", "dyn_range_mean", "energy", "flatness", "instrumentalness", "key",
    "liveness", "loudness", "mechanism", "mode", "organism", "speechiness", "tempo", "time_signature",
    "valence", *[f"acoustic_vector_{i}" for i in range(8)],
]
KNOWN_COLUMNS = {
    **CONTRACT_COLUMNS,
    "spotify_history": SPOTIFY_COLUMNS,
    "mssd_log": MSSD_LOG_COLUMNS,
    "mssd_tf": MSSD_TF_COLUMNS,
}


# How a kind of file is read, when that changed what it loads: a file ingested by an older reader is another
# batch, read again when given again (its rows already loaded are duplicates). Spotify exports: 2 since their
# episodes, chapters and videos load (docs/domains.md).
READER_VERSIONS = {"spotify_history": 2}


class IngestError(Exception):
    """A file that cannot be ingested at all. The message names the file and the problem."""


@dataclass(frozen=True)
class SourceFile:
    """One landing file and what it holds."""

    path: Path
    fmt: str  # contract | spotify-history | mssd
    kind: str  # events | tracks | users | candidates | spotify_history | mssd_log | mssd_tf

    def batch_id(self, user: str | None) -> str:
        """Identity of the batch: its content (and how it is read), not its name or location."""
        reader = READER_VERSIONS.get(self.kind)
        h = hashlib.sha256(f"{self.fmt}|{self.kind}|{user or ''}|{'' if reader is None else reader}".encode())
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()[:24]


def plain_name(path: Path) -> str:
    """The file's name without a trailing .gz: events.csv.gz -> events.csv."""
    return path.name[:-3] if path.name.lower().endswith(".gz") else path.name


def data_suffix(path: Path) -> str:
    """The suffix of the data in the file, compressed or not: '.csv' for events.csv and events.csv.gz."""
    return Path(plain_name(path)).suffix.lower()


def _contract_kind(path: Path) -> str | None:
    """A contract file says its table by its name or its folder's: events_2026-01-01.parquet, users/x.csv."""
    for name in (Path(plain_name(path)).stem.lower(), path.parent.name.lower()):
        for kind in CONTRACT_KINDS:
            if name.startswith(kind):
                return kind
    return None


def _detect(path: Path, fmt: str | None) -> SourceFile:
    name, suffix = plain_name(path), data_suffix(path)
    if fmt in (None, "spotify-history") and (
        fnmatch.fnmatch(name, "Streaming_History_Audio_*.json") or fnmatch.fnmatch(name, "endsong*.json")
        or fnmatch.fnmatch(name, "Streaming_History_Video_*.json")
        or (fmt == "spotify-history" and suffix == ".json")
    ):
        return SourceFile(path, "spotify-history", "spotify_history")
    if fmt in (None, "mssd") and suffix == ".csv":
        if name.startswith("log_"):
            return SourceFile(path, "mssd", "mssd_log")
        if name.startswith("tf_"):
            return SourceFile(path, "mssd", "mssd_tf")
    if fmt in (None, "contract"):
        kind = _contract_kind(path)
        if kind is not None:
            return SourceFile(path, "contract", kind)
    expected = {
        None: "a contract file named after its table (events*, tracks*, users*, candidates*), "
        "Streaming_History_Audio_*.json, or MSSD log_*.csv / tf_*.csv",
        "contract": "a file or folder named after its table: events*, tracks*, users*, candidates*",
        "spotify-history": "Streaming_History_Audio_*.json",
        "mssd": "log_*.csv or tf_*.csv",
    }[fmt]
    raise IngestError(f"{path}: cannot tell what this file holds; expected {expected}")


def discover(paths: list[Path], fmt: str | None = None) -> list[SourceFile]:
    """Files under ``paths`` with a data suffix, detected, in load order (users and tracks first).

    Raises:
        IngestError: a path that does not exist, a folder without data files, an unknown format.
    """
    if fmt is not None and fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise IngestError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and data_suffix(f) in DATA_SUFFIXES)
            if not found:
                raise IngestError(f"{p}: folder holds no data files ({', '.join(DATA_SUFFIXES)}, or those .gz)")
            files.extend(found)
        else:
            files.append(p)
    unique = list(dict.fromkeys(f.resolve() for f in files))
    detected = [_detect(f, fmt) for f in unique]
    order = {k: i for i, k in enumerate(["users", "tracks", "mssd_tf", "spotify_history", "mssd_log", "events", "candidates"])}
    return sorted(detected, key=lambda s: (order[s.kind], str(s.path)))


# --- readers --------------------------------------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _number_rows(con: duckdb.DuckDBPyConnection, table: str, into: str) -> None:
    """Copy ``table`` into ``into`` with a 1-based ``record_number`` in insertion (= file) order.

    Inside a transaction, new rows get row ids counted from a large offset, so the number is taken
    relative to the smallest row id rather than from rowid itself.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS "
        f"SELECT rowid - (SELECT min(rowid) FROM {table}) + 1 AS record_number, * FROM {table} ORDER BY rowid"
    )


def _json_records_to_src(con: duckdb.DuckDBPyConnection, drop: list[str], path: Path) -> None:
    """From temp table ``records(record_number, line)``: valid objects to ``src``, the rest to ``unparsed``.

    Raises:
        IngestError: two keys that differ only in case (ts and TS): DuckDB's column names are case-insensitive.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE unparsed AS SELECT record_number, "
        "CASE WHEN NOT json_valid(line) THEN 'invalid JSON' ELSE 'not a JSON object' END AS reason, line "
        "FROM records WHERE NOT json_valid(line) OR json_type(line) <> 'OBJECT'"
    )
    keys = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT unnest(json_keys(line)) AS k FROM records "
            "WHERE json_valid(line) AND json_type(line) = 'OBJECT' ORDER BY k"
        ).fetchall()
        if r[0] not in drop
    ]
    by_case: dict[str, list[str]] = {}
    for k in keys:
        by_case.setdefault(k.lower(), []).append(k)
    clashes = [" and ".join(sorted(names)) for names in by_case.values() if len(names) > 1]
    if clashes:
        raise IngestError(f"{path}: keys {'; '.join(clashes)} differ only in case; column names must differ in more "
                          "than case: keep one of each")
    # each key's path is bound, never written into the statement (a key may hold any character, a NUL included);
    # its column is named by the key with control characters shown as U+FFFD (no contract column holds one)
    cols = ", ".join(f"json_extract_string(line, $k{i}) AS {_ident(printable(k))}" for i, k in enumerate(keys))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE src AS SELECT record_number{', ' + cols if cols else ''} FROM records "
        "WHERE json_valid(line) AND json_type(line) = 'OBJECT' ORDER BY record_number",
        {f"k{i}": _json_path(k) for i, k in enumerate(keys)},
    )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(key: str) -> str:
    """The JSON path of a top-level key, as a value to bind: $."key" (quotes and backslashes escaped)."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def printable(text: str) -> str:
    """Text without control characters (each shown as U+FFFD), as sql/ingest/macros.sql's printable()."""
    return re.sub(CONTROL, "\ufffd", text)


@contextlib.contextmanager
def _readable(path: Path, tmp_dir: Path | None) -> Iterator[Path]:
    """The file to read: ``path`` itself, or when it is gzip-compressed (whatever its name says), its content
    decompressed into a temporary file (streamed: memory stays flat), removed afterwards."""
    with path.open("rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if not compressed:
        yield path
        return
    with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=data_suffix(path), delete=False) as out:
        plain = Path(out.name)
        try:
            with gzip.open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        except (OSError, EOFError) as exc:
            plain.unlink(missing_ok=True)
            raise IngestError(f"{path}: gzip-compressed, but it cannot be decompressed ({exc})") from exc
    try:
        yield plain
    finally:
        plain.unlink(missing_ok=True)


CSV_OPTIONS = ("all_varchar = true, header = true, store_rejects = true, rejects_table = 'csv_rejects', "
               "rejects_scan = 'csv_reject_scans'")


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """The delimiter and column names of a CSV file's first line (the most frequent of , ; tab |)."""
    with path.open("rb") as f:
        first = f.readline(1 << 20).removeprefix(UTF8_BOM).decode("utf-8", "replace").rstrip("\r\n")
    delim = max([",", ";", "\t", "|"], key=first.count)
    return delim, next(csv.reader([first], delimiter=delim))


def _sniffable(path: Path) -> bool:
    """False when DuckDB's CSV sniffer stops at a line over max_line_size (2,000,000 bytes) in its sample.
    Tried on a throwaway connection: a failed statement would abort the ingest's transaction. Any other
    problem is left to the real read, which quarantines malformed lines or names the file's fault."""
    probe = duckdb.connect()
    try:
        probe.execute("SELECT * FROM sniff_csv($p)", {"p": str(path)}).fetchall()
    except duckdb.Error as exc:
        return "max_line_size" not in str(exc)
    finally:
        probe.close()
    return True


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``src0`` from a CSV file, its malformed lines in ``csv_rejects``.

    When a line over DuckDB's max_line_size stops the sniffer, the file is read with its header's columns and
    delimiter and no sniffing instead: the long line becomes a rejected line (quarantined, the limit named in
    its reason) like any other, rather than failing the whole file.
    """
    if _sniffable(path):
        con.execute(f"CREATE OR REPLACE TEMP TABLE src0 AS SELECT * FROM read_csv($p, {CSV_OPTIONS})", {"p": str(path)})
        return
    delim, names = _csv_header(path)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE src0 AS SELECT * FROM read_csv($p, {CSV_OPTIONS}, auto_detect = false, "
        "delim = $d, quote = '\"', escape = '\"', columns = $c)",
        {"p": str(path), "d": delim, "c": {n: "VARCHAR" for n in names}},
    )


def read_src(con: duckdb.DuckDBPyConnection, sf: SourceFile, drop: list[str] | None = None,
             tmp_dir: Path | None = None) -> list[str]:
    """Read ``sf`` into temp tables ``src`` and ``unparsed``; return the file's column names.

    Args:
        tmp_dir: where a compressed file is decompressed to (default: the system's temp folder).

    Raises:
        IngestError: empty, unreadable or corrupt file.
    """
    with _readable(sf.path, tmp_dir) as path:
        return _read(con, sf, path, drop or [])


def _read(con: duckdb.DuckDBPyConnection, sf: SourceFile, path: Path, drop: list[str]) -> list[str]:
    """read_src of the plain (decompressed) file ``path``: empty also when a compressed file holds nothing."""
    if path.stat().st_size == 0:
        raise IngestError(f"{sf.path}: file is empty")
    suffix = data_suffix(sf.path)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE unparsed (record_number BIGINT, reason VARCHAR, line VARCHAR)")
        if suffix == ".parquet":
            con.execute(
                "CREATE OR REPLACE TEMP TABLE src AS SELECT file_row_number + 1 AS record_number, "
                "* EXCLUDE (file_row_number) FROM read_parquet($p, file_row_number = true)",
                {"p": str(path)},
            )
        elif suffix == ".csv":
            _read_csv(con, path)
            _number_rows(con, "src0", "src")
            con.execute(
                "INSERT INTO unparsed SELECT line - 1, 'malformed CSV line: ' || min(error_message), min(csv_line) "
                "FROM csv_rejects GROUP BY line ORDER BY line"
            )
            # rejected lines are missing from src0: shift later records so record_number = line - 1
            for (line,) in con.execute("SELECT record_number FROM unparsed ORDER BY 1").fetchall():
                con.execute("UPDATE src SET record_number = record_number + 1 WHERE record_number >= $r", {"r": line})
            con.execute("DROP TABLE src0")
            con.execute("DROP TABLE IF EXISTS csv_rejects")
            con.execute("DROP TABLE IF EXISTS csv_reject_scans")
        elif suffix in (".json", ".jsonl", ".ndjson"):
            with path.open("rb") as f:
                head = f.read(4096).removeprefix(UTF8_BOM).lstrip()
            if head.startswith(b"["):  # a JSON array of records (Spotify exports, some contract files)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE records0 AS SELECT json AS line "
                    "FROM read_json_objects($p, format = 'array')",
                    {"p": str(path)},
                )
                _number_rows(con, "records0", "records")
                con.execute("DROP TABLE records0")
            else:  # JSON lines: split by hand to keep line numbers and catch each broken line (a BOM dropped first)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE records AS "
                    "SELECT generate_subscripts(parts, 1) AS record_number, unnest(parts) AS line "
                    "FROM (SELECT string_split(ltrim(content, chr(65279)), chr(10)) AS parts FROM read_text($p))",
                    {"p": str(path)},
                )
                con.execute("DELETE FROM records WHERE trim(line) = ''")
            _json_records_to_src(con, drop, sf.path)
            con.execute("DROP TABLE records")
        else:
            raise IngestError(f"{sf.path}: unsupported file type {suffix!r}")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise IngestError(f"{sf.path}: cannot read as {suffix.lstrip('.')} ({first})") from exc
    cols = [c for c in _columns(con, "src") if c != "record_number"]
    for c in drop:
        if c in cols:
            con.execute(f"ALTER TABLE src DROP COLUMN {_ident(c)}")
            cols.remove(c)
    n = con.execute("SELECT (SELECT count(*) FROM src) + (SELECT count(*) FROM unparsed)").fetchone()[0]
    if n == 0:
        raise IngestError(f"{sf.path}: file has no records")
    missing = [c for c in REQUIRED[sf.kind] if c not in cols]
    if missing:
        raise IngestError(f"{sf.path}: missing required column(s) {', '.join(missing)} for {sf.kind}")
    return cols
