"""Plays as they happen: checked by ingest's own rules, durable before they are acknowledged.

    POST /v1/events   {"events": [{"user_id": ..., "track_id": ..., "ts": ..., "ms_played": ..., ...}]}
    skipify events plays.csv --url http://127.0.0.1:8000      (replays a file of plays into a server)

* **One set of rules.** A batch is checked by ``sql/ingest/validate_events.sql``, the statement that
  checks every events file the nightly ingest reads, over the same text values (:class:`EventChecker`).
  A batch with any bad event is refused whole (422, each problem named ``events[i].field``); the
  client fixes it and sends it again.
* **Durable before acknowledged.** Accepted events are appended, as the client sent them, to JSON-lines
  files in the landing area (``events_dir``, default ``<landing>/live``), one file per UTC hour of the
  plays (``events_2026-03-02T21.jsonl``), written and fsynced before the 202 (:class:`EventLog`). The
  night ingests them like any landing file dated before it.
* **Nothing twice.** A play's key is (user_id, track_id, ts), as in every landing file: an event sent
  again, or a file ingested again after more events were appended to it, adds no row to raw.events.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import math
import os
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from skipify.config import Config, logger
from skipify.ingest import rules
from skipify.ingest.sources import CONTRACT_COLUMNS
from skipify.warehouse import read_sql, run_sql

FIELDS = tuple(CONTRACT_COLUMNS["events"])  # what an event may carry: the contract's columns of a play
# a play as ingest types it (the columns of sql/ingest/validate_events.sql that raw.events stores)
LIVE_SCHEMA = {
    "user_id": pl.String, "track_id": pl.String, "ts": pl.Datetime("us", "UTC"), "ms_played": pl.Int64, "skipped": pl.Boolean,
    "feedback": pl.String, "reason_start": pl.String, "reason_end": pl.String, "session_id": pl.String,
    "session_position": pl.Int32, "context_type": pl.String, "platform": pl.String, "shuffle": pl.Boolean,
}


class EventChecker:
    """Ingest's rules for events over a batch of them, on an in-memory DuckDB (one cursor per thread)."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._db = duckdb.connect()
        self._db.execute("SET threads = 1")  # a batch of events is small: no thread pool to wake per query
        self._local = threading.local()
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._db.cursor()
            cur.execute("SET TimeZone = 'UTC'")  # a ts without a zone reads as UTC, as in ingest
            cur.execute(read_sql("ingest/macros"))  # clean_text, whole_number: how landing text is read (temp: per cursor)
            self._local.cursor = cur
        return cur

    def check(self, events: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], pl.DataFrame | None]:
        """(problems, plays): (field, problem) for every problem of the batch, ``field`` as
        ``events[i].name`` ([] when all are good), and the events typed as ingest types them
        (LIVE_SCHEMA, in the batch's order; None when the batch's shape is wrong).

        A field no play has, or a value that is not text, a number or a boolean, is a problem of the
        batch's shape; every other rule is ingest's (sql/ingest/validate_events.sql)."""
        out = [(f"events[{i}].{name}", problem) for i, event in enumerate(events) for name, problem in shape_problems(event)]
        if out:
            return out, None
        checked = self._checked(events)
        for i, reason in enumerate(checked["reason"].to_list()):
            for part in (reason or "").split("; "):
                if part:
                    out.append((f"events[{i}].{field_of(part)}", part))
        return out, checked.select([pl.col(c).cast(t) for c, t in LIVE_SCHEMA.items()])

    def good(self, events: list[dict[str, Any]]) -> tuple[pl.DataFrame, int]:
        """(the events that pass ingest's rules, typed as LIVE_SCHEMA; how many did not): for events
        read back from the log, where a bad line is skipped, not refused."""
        shaped = [e for e in events if isinstance(e, dict) and not shape_problems(e)]
        if not shaped:
            return pl.DataFrame(schema=LIVE_SCHEMA), len(events)
        checked = self._checked(shaped).filter(pl.col("reason").is_null())
        return checked.select([pl.col(c).cast(t) for c, t in LIVE_SCHEMA.items()]), len(events) - checked.height

    def _checked(self, events: list[dict[str, Any]]) -> pl.DataFrame:
        """sql/ingest/validate_events.sql over the events as text: typed columns and a ``reason`` (null: good)."""
        stage = pl.DataFrame({"record_number": list(range(1, len(events) + 1)),
                              **{c: [as_text(e.get(c)) for e in events] for c in FIELDS}},
                             schema={"record_number": pl.Int64, **dict.fromkeys(FIELDS, pl.Utf8)})
        cur = self._cursor()
        cur.register("stage", stage.to_arrow())
        try:
            return run_sql(cur, "ingest/validate_events", self.params()).pl().sort("record_number")
        finally:
            cur.unregister("stage")

    def params(self) -> dict:
        """What the rules are checked against: the same settings as the nightly ingest, now."""
        return {"min_ts": self.cfg.ingest_min_ts,
                "max_ts": dt.datetime.now(dt.UTC) + dt.timedelta(hours=self.cfg.ingest_max_future_hours),
                **rules.params()}


def shape_problems(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each field of ``event`` that no play has or whose value no landing file holds."""
    out = []
    for name, value in event.items():
        if not is_unicode(name):
            out.append((shown(name), "a field's name must be Unicode text (it holds a lone surrogate)"))
        elif name not in FIELDS:
            out.append((name, f"not a field of a play (fields: {', '.join(FIELDS)})"))
        elif isinstance(value, str) and not is_unicode(value):  # no file, log line or table can hold it
            out.append((name, "must be Unicode text (it holds a lone surrogate)"))
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            out.append((name, "must be text, a number, a boolean or null"))
        elif isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity: no landing file holds them
            out.append((name, "must be a finite number"))
    return out


def is_unicode(text: str) -> bool:
    """False for text a JSON body can carry but UTF-8 cannot: a lone surrogate ("\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(text: str) -> str:
    """Text safe to write anywhere: a lone surrogate as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def as_text(value: Any) -> str | None:
    """A JSON value as the text a landing file holds: booleans as true/false, numbers as written."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def field_of(problem: str) -> str:
    """The field an ingest reason names ('ts is not a timestamp: x' -> 'ts'; 'missing user_id' -> 'user_id')."""
    for word in problem.replace(":", " ").split():
        if word in FIELDS:
            return word
    return "event"


PLAY_OVERHEAD_BYTES = 600  # a held play's dict and its values beyond their text (measured order of magnitude)


def play_bytes(play: dict) -> int:
    """What a held play costs in memory, about: its text by length plus a fixed overhead."""
    return PLAY_OVERHEAD_BYTES + sum(len(v) for v in play.values() if isinstance(v, str))


class LivePlays:
    """The plays POST /v1/events accepted since the features' cut-off, per listener, in memory: what a
    prediction of the same session reads (skipify.serving). Bounded: at most ``per_user`` plays of a
    listener (the oldest go first), and ``total`` plays or ``max_bytes`` (:func:`play_bytes`) in all (the
    listener heard from least recently goes first). A play's key is (user_id, track_id, ts): a play sent
    again is held once."""

    def __init__(self, per_user: int, total: int, max_bytes: int = 1 << 62):
        self.per_user, self.total, self.max_bytes = per_user, total, max_bytes
        self._plays: OrderedDict[str, dict[tuple, dict]] = OrderedDict()  # user -> key -> play, in ts order
        self._count = 0
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._bytes

    def add(self, plays: pl.DataFrame) -> None:
        """Hold ``plays`` (as feature rows: skipify.serving.Snapshot.live_rows)."""
        with self._lock:
            for play in plays.sort("ts").iter_rows(named=True):
                mine = self._plays.setdefault(play["user_id"], {})
                self._plays.move_to_end(play["user_id"])
                key = (play["track_id"], play["ts"])
                if key in mine:
                    continue
                late = bool(mine) and play["ts"] < next(reversed(mine.values()))["ts"]
                mine[key] = play
                self._count += 1
                self._bytes += play_bytes(play)
                if late:  # keep each listener's plays in ts order
                    ordered = sorted(mine.items(), key=lambda kv: kv[1]["ts"])
                    mine.clear()
                    mine.update(ordered)
                while len(mine) > self.per_user:
                    self._bytes -= play_bytes(mine.pop(next(iter(mine))))
                    self._count -= 1
            while (self._count > self.total or self._bytes > self.max_bytes) and self._plays:
                _, gone = self._plays.popitem(last=False)
                self._count -= len(gone)
                self._bytes -= sum(play_bytes(p) for p in gone.values())

    def prune(self, cutoff: dt.datetime) -> int:
        """Drop the plays before ``cutoff`` (a new snapshot holds them); returns how many."""
        dropped = 0
        with self._lock:
            for user in list(self._plays):
                mine = self._plays[user]
                old = [k for k, p in mine.items() if p["ts"] < cutoff]
                for k in old:
                    self._bytes -= play_bytes(mine.pop(k))
                dropped += len(old)
                if not mine:
                    del self._plays[user]
            self._count -= dropped
        return dropped

    def session(self, user_id: str, session_id: str | None, ts: dt.datetime | None,
                gap: dt.timedelta) -> tuple[str | None, list[dict]]:
        """(session_id, its plays before ``ts``, oldest first) of a listener. Without ``session_id``:
        the listener's open session, that of their last play before ``ts`` if it started less than
        ``gap`` before it (without ``ts``: their last play). (None, []) when there is none."""
        with self._lock:
            plays = list(self._plays.get(user_id, {}).values())
        before = [p for p in plays if ts is None or p["ts"] < ts]
        if session_id is None:
            if not before or before[-1]["session_id"] is None or (ts is not None and ts - before[-1]["ts"] > gap):
                return None, []
            session_id = before[-1]["session_id"]
        return session_id, [p for p in before if p["session_id"] == session_id]


@dataclass(frozen=True)
class Appended:
    """Bytes [start, end) of an event log file, written by one append."""

    path: Path
    start: int
    end: int


class LogFull(OSError):
    """The event log could not be written (a full disk, a quota, an I/O error): nothing of the batch was kept."""


class EventLog:
    """Accepted events, appended to hourly JSON-lines files under ``folder``; each append is written
    and fsynced (the file, and the folder when the file is new) before it returns.

    * **A batch is one append to one file**: the file of the hour of its latest play (a night ingests a
      file once its latest play is before the night, so every play in it is). One request creates at
      most one file, however far apart its plays are.
    * **All of a batch or nothing**: an append that fails (a full disk) is cut back to where it began
      before the error is raised (:class:`LogFull`); a file whose last line was torn by a writer that
      died mid-append (its batch never acknowledged) is cut back to its last whole line before the next
      append, so a line is never glued to a torn one.
    * Appends to a file are serialised across processes (an exclusive ``flock`` on the file while it is
      written): the workers of ``skipify serve --workers N``, or several servers over one home, share the
      log and the lines of two batches never interleave. Each append then touches ``MARK`` in the
      folder: a reader (:class:`LogTail`) that finds it unchanged knows nothing was appended.
    """

    MARK = ".appended"

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()

    def append(self, events: list[dict[str, Any]], plays: list[dt.datetime]) -> Appended:
        """Append ``events`` (as sent: only the fields given) to the file of the latest of ``plays`` (their ts, UTC)."""
        data = "".join(json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False, allow_nan=False)
                       + "\n" for event in events).encode()
        path = self.folder / log_name(max(plays))
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            appended = _append_synced(path, data)
        try:
            (self.folder / self.MARK).touch()
        except OSError:  # the batch is stored: a reader without the mark lists the folder as before
            pass
        return appended


def log_name(hour: dt.datetime) -> str:
    """The event log's file of a play's UTC hour: events_2026-03-02T21.jsonl."""
    return f"events_{hour.astimezone(dt.UTC):%Y-%m-%dT%H}.jsonl"


def _whole_lines_end(fd: int, size: int) -> int:
    """The offset just after the last line break of the first ``size`` bytes (0 when there is none)."""
    pos = size
    while pos > 0:
        step = min(1 << 16, pos)
        chunk = os.pread(fd, step, pos - step)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return pos - step + at + 1
        pos -= step
    return 0


def _open_locked(path: Path) -> int:
    """``path`` opened for appending under its exclusive lock. A file swapped for a new one while this
    process waited for the lock (``skipify forget`` rewrites a file whole) is opened again: appending to
    the old one would write to a file no one reads."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _append_synced(path: Path, data: bytes) -> Appended:
    new = not path.exists()
    fd = _open_locked(path)
    try:
        start = os.fstat(fd).st_size
        if start and os.pread(fd, 1, start - 1) != b"\n":  # torn by a writer that died mid-append: never acknowledged
            whole = _whole_lines_end(fd, start)
            logger.warning("event log %s: %d bytes of a batch never acknowledged (its writer died mid-append) cut off",
                           path.name, start - whole)
            os.ftruncate(fd, whole)
            start = whole
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, start)  # nothing of this batch stays: it is answered as not stored
                os.fsync(fd)
            except OSError as cut:  # a torn last line is cut off by the next append; whole lines of it dedup by key
                logger.error("event log %s: a failed append could not be cut back (%s)", path.name, cut)
            raise LogFull(exc.errno, f"the event log could not be written ({exc.strerror}); nothing of the batch was stored") from exc
    finally:
        os.close(fd)
    if new:  # the file's name must survive a crash too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return Appended(path, start, start + len(data))


class LogTail:
    """Reads the lines appended to the event log since it last looked, from the files of the hours
    from ``since`` on: how a server learns the plays that another process (another worker of
    ``skipify serve --workers N``) accepted, and, at start, those accepted before it started.

    Only complete lines are taken (a line being written is read the next time). When the log's mark
    (``EventLog.MARK``, touched after every append) is unchanged since the last look, and not too recent
    to trust, nothing was appended: a look costs one ``stat``, however many files the log holds.
    Otherwise the folder is listed again only when its modification time changed (a new hourly file) or
    is too recent to trust, and each file of the hours since ``since`` is ``stat``-ed."""

    RECENT_S = 2.0  # a folder modified this recently is listed again: a file made in the same clock tick would be missed

    def __init__(self, folder: Path):
        self.folder = folder
        self._read: dict[str, int] = {}  # file name -> bytes taken (whole lines)
        self._listed: tuple[int, list[str]] | None = None  # (the folder's mtime_ns, its event files) when last listed
        self._mark: int | None = None  # the mark's mtime_ns at the last look that read every file, if old enough to trust

    def skip(self, appended: Appended) -> None:
        """``appended`` is held already (this process wrote it): no need to read it back, unless
        another process's lines are unread before it."""
        if self._read.get(appended.path.name, 0) == appended.start:
            self._read[appended.path.name] = appended.end

    def new_lines(self, since: dt.datetime) -> tuple[list[dict[str, Any]], int]:
        """(the events appended since the last call to the files of the hours from ``since`` on, the
        number of lines that were not JSON objects). Not thread-safe: the caller serialises."""
        first = log_name(since.replace(minute=0, second=0, microsecond=0))
        try:
            mark = os.stat(self.folder / EventLog.MARK).st_mtime_ns
        except FileNotFoundError:
            mark = None
        if mark is not None and mark == self._mark:
            return [], 0  # nothing appended since the last look that read every file
        # trusted only once it is old enough: an append in the same clock tick would leave it as it is
        self._mark = mark if mark is not None and time.time() - mark / 1e9 >= self.RECENT_S else None
        events, bad = [], 0
        for name in self._files():
            if name < first:
                self._read.pop(name, None)
                continue
            try:
                size = os.stat(self.folder / name).st_size
            except FileNotFoundError:
                self._read.pop(name, None)
                continue
            done = self._read.get(name, 0)
            if size < done:  # the file was replaced or cut: read it again (a play held twice is held once)
                done = 0
            if size == done:
                continue
            with open(self.folder / name, "rb") as f:
                f.seek(done)
                chunk = f.read(size - done)
            whole = chunk[:chunk.rfind(b"\n") + 1]
            self._read[name] = done + len(whole)
            for line in whole.splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if isinstance(event, dict):
                    events.append(event)
                elif line.strip():
                    bad += 1
        return events, bad

    def _files(self) -> list[str]:
        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            return []
        if self._listed is None or self._listed[0] != mtime or time.time() - mtime / 1e9 < self.RECENT_S:
            names = sorted(e.name for e in os.scandir(self.folder) if e.name.startswith("events_") and e.name.endswith(".jsonl"))
            self._listed = (mtime, names)
        return self._listed[1]


def read_plays(path: Path) -> list[dict[str, Any]]:
    """A file of plays in the contract's events format (CSV, JSON lines, Parquet) as events to send:
    every value as text, as the file holds it (timestamps as ISO 8601 with their zone)."""
    suffix = path.name.lower().removesuffix(".gz").rsplit(".", 1)[-1]
    if suffix == "csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif suffix in ("jsonl", "ndjson", "json"):
        frame = pl.read_ndjson(path, infer_schema_length=None)
    elif suffix == "parquet":
        frame = pl.read_parquet(path)
    else:
        raise ValueError(f"{path}: not a file of plays (csv, jsonl, ndjson, json or parquet)")
    frame = frame.select([c for c in frame.columns if c in FIELDS])
    texts = [pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z") if isinstance(frame.schema[c], pl.Datetime)
             else pl.col(c).cast(pl.Utf8) for c in frame.columns]
    return [{k: v for k, v in row.items() if v is not None} for row in frame.select(texts).iter_rows(named=True)]


class Refused(Exception):
    """A server that did not accept a batch: its status and what it said."""


def send(url: str, events: list[dict[str, Any]], batch: int, progress=None) -> int:
    """POST ``events`` to ``url``/v1/events in batches of ``batch`` on one connection; returns the
    number accepted. Stops at the first batch refused (Refused: the status and the server's detail)."""
    import httpx

    accepted = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(events), batch):
            resp = client.post("/v1/events", json={"events": events[start:start + batch]})
            if resp.status_code != 202:
                detail = resp.json().get("detail") if resp.headers.get("content-type", "").startswith("application/json") else resp.text
                raise Refused(f"events {start + 1}-{min(start + batch, len(events))}: {resp.status_code} {detail}")
            accepted += resp.json()["accepted"]
            if progress is not None:
                progress(accepted)
    return accepted
