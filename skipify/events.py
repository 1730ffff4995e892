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
import json
import math
import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from skipify.config import Config
from skipify.ingest.sources import CONTRACT_COLUMNS
from skipify.warehouse import read_sql, run_sql

FIELDS = tuple(CONTRACT_COLUMNS["events"])  # what an event may carry: the contract's columns of a play


class EventChecker:
    """Ingest's rules for events over a batch of them, on an in-memory DuckDB (one cursor per thread)."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._db = duckdb.connect()
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

    def check(self, events: list[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[dt.datetime]]:
        """(problems, times): (field, problem) for every problem of the batch, ``field`` as
        ``events[i].name`` ([] when all are good), and each event's ts as ingest reads it.

        A field no play has, or a value that is not text, a number or a boolean, is a problem of the
        batch's shape; every other rule is ingest's (sql/ingest/validate_events.sql)."""
        out = []
        for i, event in enumerate(events):
            for name, value in event.items():
                if name not in FIELDS:
                    out.append((f"events[{i}].{name}", f"not a field of a play (fields: {', '.join(FIELDS)})"))
                elif value is not None and not isinstance(value, (str, int, float, bool)):
                    out.append((f"events[{i}].{name}", "must be text, a number, a boolean or null"))
        if out:
            return out, []
        stage = pl.DataFrame({"record_number": list(range(1, len(events) + 1)),
                              **{c: [as_text(e.get(c)) for e in events] for c in FIELDS}},
                             schema={"record_number": pl.Int64, **dict.fromkeys(FIELDS, pl.Utf8)})
        cur = self._cursor()
        cur.register("stage", stage.to_arrow())
        try:
            checked = run_sql(cur, "ingest/validate_events", self.params()).pl().sort("record_number")
        finally:
            cur.unregister("stage")
        for i, reason in enumerate(checked["reason"].to_list()):
            for part in (reason or "").split("; "):
                if part:
                    out.append((f"events[{i}].{field_of(part)}", part))
        return out, checked["ts"].to_list()

    def params(self) -> dict:
        """What the rules are checked against: the same settings as the nightly ingest, now."""
        return {"min_ts": self.cfg.ingest_min_ts,
                "max_ts": dt.datetime.now(dt.UTC) + dt.timedelta(hours=self.cfg.ingest_max_future_hours)}


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


class EventLog:
    """Accepted events, appended to hourly JSON-lines files under ``folder``; each append is written
    and fsynced (the file, and the folder when the file is new) before it returns."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()  # one append at a time: lines of two batches never interleave

    def append(self, events: list[dict[str, Any]], hours: list[dt.datetime]) -> list[Path]:
        """Append ``events`` (as sent: only the fields given) to the file of each one's hour (UTC)."""
        by_file: dict[Path, list[str]] = defaultdict(list)
        for event, hour in zip(events, hours):
            line = json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False, allow_nan=False)
            by_file[self.folder / f"events_{hour.astimezone(dt.UTC):%Y-%m-%dT%H}.jsonl"].append(line + "\n")
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            for path, lines in by_file.items():
                _append_synced(path, "".join(lines).encode())
        return sorted(by_file)


def _append_synced(path: Path, data: bytes) -> None:
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # the file's name must survive a crash too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


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
    texts = [pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z") if frame.schema[c] == pl.Datetime or isinstance(frame.schema[c], pl.Datetime)
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
