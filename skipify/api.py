"""The prediction API: ``skipify serve`` (FastAPI on uvicorn; OpenAPI docs at /docs).

    POST /v1/predict                      p(dislike) of (user, track, context) pairs, with reasons
    POST /v1/events                       plays as they happen, durable before the 202 (skipify.events)
    GET  /v1/users/{user_id}/at-risk      a night's at-risk tracks of a listener (scores.dislike_scores)
    GET  /v1/model                        the served version: training range, test metrics
    GET  /healthz                         alive, and what is loaded

At start the server loads, in one go (:func:`load_served`): the version the nightly run scores with
(the champion, else the newest), its two models, the feature snapshot as of the latest published
night (skipify.serving), the reference input of the reasons and that night's at-risk lists. Then
it closes the warehouse. A watcher thread looks every ``serve_reload_s`` seconds (one short
read-only query) whether a new champion or a new night has appeared; if so it loads a new bundle
beside the old one and swaps the reference: requests in flight finish on the bundle they started
with, later ones get the new one, none fails.

Endpoints are plain ``def``: CPU inference in an ``async def`` would block the event loop
(fastapi/fastapi#2148); FastAPI runs them in its thread pool.

``skipify serve --workers N`` runs N such processes on one listening socket (uvicorn's supervisor,
which restarts a worker that dies), each forked from the supervisor once it has imported what they need
(:func:`_fork_workers`). Each loads its own bundle and reloads it on its own, one worker at a time (a
lock file), so the others keep answering meanwhile; what a bundle reads alike (the snapshot, the tracks'
content vectors, the at-risk lists, the models' weights) is mapped from files, once per machine
(skipify.snapshots). What they share besides is the event log: each worker reads the lines the others
appended before it answers a prediction (skipify.events.LogTail), so a session's plays posted to one
worker are known to all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import polars as pl
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import (AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt,
                      StringConstraints, model_validator)

from skipify.catalogue import label
from skipify.config import Config, load_config, logger
from skipify.events import FIELDS as EVENT_FIELDS
from skipify.events import EventChecker, EventLog, LivePlays, LogFull, LogTail, shown
from skipify.guard import InForce, in_force
from skipify.ingest import rules
from skipify.sequences import with_sequences
from skipify.warehouse import connect, exclusive, run_sql

if TYPE_CHECKING:  # heavy imports stay out of module import (the CLI imports this lazily anyway)
    from skipify.models.base import Model, Reasoner
    from skipify.serving import Snapshot

TOP_REASONS = 3
MAX_ITEM_BYTES = 1024  # an item with 128-character ids and a full context stays well under this
LOG_RETRY_S = 10  # Retry-After of a batch the event log could not store (a full disk)


class BadItems(ValueError):
    """Items the model cannot answer for, or events that break ingest's rules: (field, problem) pairs,
    answered 422 like a malformed body."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


# --- what is loaded ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Marks:
    """What decides the bundle: the version to serve, the latest published night and the latest threshold chosen
    (ops.guard_thresholds: a new one changes the at-risk threshold only)."""

    version: str | None
    night: dt.date | None
    guard: dt.datetime | None = None


def read_marks(cfg: Config) -> Marks:
    """One short read-only query (sql/serving/marks.sql)."""
    con = connect(cfg, read_only=True)
    try:
        version, night, guard = run_sql(con, "serving/marks").fetchone()
    finally:
        con.close()
    return Marks(version, night, guard)


@dataclass(frozen=True)
class NightAtRisk:
    """One published night's at-risk pairs (sql/serving/at_risk.sql), sorted by listener, domain and rank; a
    listener's rows found by binary search (the frame is mapped from the snapshot's folder: nothing per listener
    is held)."""

    frame: pl.DataFrame

    def user(self, user_id: str) -> pl.DataFrame:
        users = self.frame.get_column("user_id")
        lo, hi = users.search_sorted(user_id, "left"), users.search_sorted(user_id, "right")
        return self.frame[lo:hi]


def _at_risk(cfg: Config, day: dt.date) -> pl.DataFrame:
    """Every listener's at-risk pairs of the night ``day`` (NightAtRisk's frame), from the warehouse."""
    con = connect(cfg, read_only=True)
    try:
        return run_sql(con, "serving/at_risk", {"run_date": day, "user_id": None}).pl()
    finally:
        con.close()


@dataclass
class Served:
    """Everything a request reads, loaded together and swapped whole."""

    version: dict  # the registry row
    served: Model  # the kind the gate chose (version["served_model"]): p_dislike and the reasons
    baseline: Model  # the version's baseline kind (baseline_model): p_dislike_baseline
    reasons: Reasoner  # the served model's per-row reasons
    snapshot: Snapshot
    marks: Marks
    nights: dict[dt.date, NightAtRisk]  # the at-risk lists of the latest serve_nights_in_memory published nights
    risk: InForce  # the at-risk threshold in force (skipify.guard): a prediction's at_risk
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    seconds: float = 0.0


def load_served(cfg: Config, as_of: dt.date | None = None, marks: Marks | None = None) -> Served:
    """Load a bundle (see the module's docstring); the warehouse is closed when it returns.

    Args:
        as_of: the snapshot's cut-off (default: the latest published night, else the day after the last play).
        marks: what to load (default: read now).

    Raises:
        ValueError: no trained version yet.
    """
    from skipify import snapshots
    from skipify.features import default_as_of
    from skipify.models.base import content_matrix, read_columns
    from skipify.models.kinds import served_and_baseline
    from skipify.versions import load_version

    t0 = time.perf_counter()
    marks = marks or read_marks(cfg)
    if marks.version is None:
        raise ValueError(NO_MODEL)
    # what every worker reads alike is mapped from this machine's folder of the night (shared with the other
    # workers), built once when there is none: the snapshot, the tracks' content vectors, the at-risk lists ...
    as_of = as_of or marks.night or default_as_of(cfg)
    content = snapshots.kept_vectors(as_of, cfg, marks.version, "content", lambda: content_matrix(cfg))
    chosen, models = load_version(marks.version, cfg, content)
    served_model, baseline = served_and_baseline(chosen, models)
    summary = json.loads(chosen["metrics"])["summary"]
    snapshot = snapshots.shared(as_of, cfg, marks.version, read_columns(models))

    def reference_rows() -> pl.DataFrame:  # a scan of every training row: 10 s and 2 GB at 10M plays, so kept with the snapshot
        con = connect(cfg, read_only=True)
        try:
            rows = run_sql(con, "serving/background", {
                "train_from": dt.date.fromisoformat(summary["train_from"]), "valid_from": dt.date.fromisoformat(summary["valid_from"]),
                "n": cfg.shap_background, "seed": cfg.seed}).pl()
            return with_sequences(con, rows, cfg.history_len)
        finally:
            con.close()

    background = snapshots.kept_frame(as_of, cfg, marks.version, f"background-{cfg.shap_background}-{cfg.seed}-{cfg.history_len}",
                                      reference_rows)
    con = connect(cfg, read_only=True)
    try:
        runs = run_sql(con, "serving/recent_nights", {"n": cfg.serve_nights_in_memory}).fetchall()
    finally:
        con.close()
    nights = {d: NightAtRisk(snapshots.kept_frame(as_of, cfg, marks.version, f"at-risk-{d}-{run}", partial(_at_risk, cfg, d)))
              for d, run in runs}
    if background.is_empty():
        raise ValueError(f"no training rows of version {marks.version} in features.training_rows: run `skipify features`")
    served = Served(chosen, served_model, baseline, served_model.reasoner(background), snapshot, marks, nights,
                    in_force(cfg, chosen))
    served.seconds = time.perf_counter() - t0
    logger.info("serving version %s (%s, its %s), features as of %s, night %s: loaded in %.1fs", marks.version, chosen["status"],
                chosen["served_model"], snapshot.as_of, marks.night, served.seconds)
    return served


def served_by_domain(version: dict, rows: pl.DataFrame) -> list[dict]:
    """Per row, what scored it: its domain, the kind (``served_model``) and what it was trained on (``trained_on``:
    "all", every domain's plays, or the domain's alone: the version's per-domain choice, models.registry.domain_served)."""
    from skipify.models.domains import JOINT, choices_of, row_domains

    joint = {"trained_on": JOINT, "served_model": version["served_model"]}
    choices = choices_of(version)
    return [{"domain": d, "served_model": choices.get(d, joint)["served_model"], "trained_on": choices.get(d, joint)["trained_on"]}
            for d in row_domains(rows).tolist()]


def _frozen(load: Callable[[], Served]) -> Served:
    """``load()``, its objects then left out of the garbage collector's passes (gc.freeze).

    The bundle holds many long-lived objects; every full collection walked them all, a pause that landed in
    some request's latency. Frozen objects are still freed when nothing refers to them, and a bundle holds no
    reference cycles (tests/api/test_api.py drops one and sees it freed at once, the collector off), so a
    reload never unfreezes: what was frozen before includes what a forked worker shares with its supervisor
    (skipify.api._fork_workers), whose pages a collection walking it would copy into every worker."""
    served = load()
    gc.collect()
    gc.freeze()
    return served


class Service:
    """The loaded bundle, its hot reload and the work behind each endpoint."""

    def __init__(self, cfg: Config | None = None, as_of: dt.date | None = None):
        self.cfg = cfg or load_config()
        self.as_of = as_of
        self.served = _frozen(lambda: load_served(self.cfg, as_of))
        self.reloads = 0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        # nights older than those in memory: read from the warehouse by a few workers of their own,
        # so that a burst of them never takes the threads /v1/predict and /healthz run on
        self._history = ThreadPoolExecutor(self.cfg.serve_history_workers, thread_name_prefix="skipify-history")
        self._history_waiting = 0  # touched on the event loop's thread only
        self.checker = EventChecker(self.cfg)  # POST /v1/events: ingest's rules ...
        self.event_log = EventLog(self.cfg.events_folder)  # ... and the durable log the night ingests
        self.live = LivePlays(self.cfg.serve_live_plays_per_user, self.cfg.serve_live_max_plays,
                              self.cfg.serve_live_max_mb << 20)  # sessions since the cut-off
        self.tail = LogTail(self.cfg.events_folder)  # what other processes appended to the log (and this one before a restart)
        self._live_lock = threading.Lock()  # the tail's offsets and the live plays change together
        self.catch_up()

    # hot reload
    def reload_if_changed(self) -> bool:
        """Load and swap in a new bundle when the version to serve or the latest night changed."""
        marks = read_marks(self.cfg)
        if marks == self.served.marks:
            return False
        old = self.served.marks
        if (marks.version, marks.night) == (old.version, old.night):  # a threshold chosen: nothing else to load
            self.served = replace(self.served, marks=marks, risk=in_force(self.cfg, self.served.version))
            logger.info("at-risk threshold now %s", self.served.risk.describe())
            return True
        with _one_loader(self.cfg):  # the other workers keep serving their bundles meanwhile
            logger.info("reloading: %s -> %s", self.served.marks, marks)
            self.served = _frozen(lambda: load_served(self.cfg, self.as_of, marks))  # one reference swap: atomic for readers
        self.reloads += 1
        dropped = self.live.prune(self.served.snapshot.cutoff)  # the new snapshot holds the plays before its cut-off
        logger.info("live plays: %d dropped (before the new cut-off), %d held", dropped, len(self.live))
        return True

    def catch_up(self) -> int:
        """Hold the plays since the cut-off that the event log has and this process has not read yet
        (another worker's, or from before a restart); returns how many events were read."""
        with self._live_lock:
            events, unreadable = self.tail.new_lines(self.served.snapshot.cutoff)
            if not events:
                return 0
            plays, bad = self.checker.good(events)
            if unreadable or bad:
                logger.warning("event log: %d lines skipped (not JSON, or breaking ingest's rules)", unreadable + bad)
            self._hold(plays)
            return len(events)

    def _hold(self, plays: pl.DataFrame) -> None:
        """Hold the plays since the snapshot's cut-off as live plays (older ones are history, not a live
        session). The caller holds ``_live_lock``."""
        snapshot = self.served.snapshot
        recent = plays.filter(pl.col("ts") >= snapshot.cutoff)
        if recent.height:
            self.live.add(snapshot.live_rows(recent))

    def watch(self, every_s: float) -> None:
        """Check for a new champion or night every ``every_s`` seconds, in a daemon thread."""

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.reload_if_changed()
                except Exception as exc:  # a busy or half-written warehouse: keep serving, try again
                    logger.warning("reload check failed, still serving %s: %s", self.served.marks.version, exc)

        self._watcher = threading.Thread(target=loop, name="skipify-reload", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self._history.shutdown(wait=False, cancel_futures=True)

    # endpoints
    def predict(self, items: list[dict]) -> dict:
        from skipify.serving import request_frame

        served = self.served  # this request's bundle, whatever a reload does meanwhile
        cutoff = served.snapshot.cutoff
        early = [i for i, item in enumerate(items) if item.get("ts") is not None and item["ts"] < cutoff]
        if early:
            why = f"before the features' cut-off {cutoff:%Y-%m-%d %H:%M} UTC: the snapshot has no history as of then"
            raise BadItems([(f"items[{i}].context.ts", why) for i in early])
        # as ingest refuses plays more than ingest_max_future_hours ahead, a request may not reach further
        # past the snapshot's history than that (a ts in year 9999 is a mistake, not a question)
        latest = cutoff + dt.timedelta(hours=self.cfg.ingest_max_future_hours)
        late = [i for i, item in enumerate(items) if item.get("ts") is not None and item["ts"] > latest]
        if late:
            why = (f"after {latest:%Y-%m-%d %H:%M} UTC, the features' cut-off plus ingest_max_future_hours "
                   f"({self.cfg.ingest_max_future_hours} h)")
            raise BadItems([(f"items[{i}].context.ts", why) for i in late])
        self.catch_up()  # plays another worker accepted: one stat per hourly file when there are none
        sessions, live = self._sessions(items, cutoff)
        rows, flags = served.snapshot.rows(request_frame(items), {*served.served.columns, *served.baseline.columns}, live)
        data = served.served.prepare(rows)
        from skipify.models.base import predict_pair

        p_served, p_base = predict_pair(served.served, served.baseline, rows, data)
        blocks, values, _ = served.reasons(rows, data)
        top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_REASONS]
        version, kind = served.marks.version, served.version["served_model"]
        by_domain = served_by_domain(served.version, rows)
        out = []
        for i, item in enumerate(items):
            reasons = []
            for j in top[i]:
                name = blocks[j]
                value = rows[name][i] if name in rows.columns else None
                reasons.append({"feature": name, "label": label(name), "contribution": float(values[i, j]),
                                "value": _plain(value)})
            f = flags.row(i, named=True)
            out.append({"user_id": item["user_id"], "track_id": item["track_id"], "p_dislike": float(p_served[i]),
                        "p_dislike_baseline": float(p_base[i]), "at_risk": bool(p_served[i] >= served.risk.threshold),
                        "model_version": version, **by_domain[i],
                        "cold_start": {"user": f["user_new"], "track": f["track_new"],
                                       "unknown_user": f["user_unknown"], "unknown_track": f["track_unknown"]},
                        "session": sessions[i], "reasons": reasons})
        return {"model_version": version, "served_model": kind, "features_as_of": served.snapshot.as_of,
                "risk_threshold": served.risk.threshold, "predictions": out}

    def _sessions(self, items: list[dict], cutoff: dt.datetime) -> tuple[list[dict | None], pl.DataFrame | None]:
        """Each item's live session (its ``session_id``, or the listener's open one: their last play since
        the cut-off, if less than session_gap_minutes before the item's ts) and the plays of those sessions.

        An item in a session with plays gets them as its session's earlier plays, its ``session_id`` set and,
        without a ``ts``, the ts one second after the session's last play. Returns (per item: None or
        {session_id, live_events: [{track_id, ts}]}, the plays as one frame or None)."""
        from skipify.serving import PROBE_SCHEMA

        gap = dt.timedelta(minutes=self.cfg.session_gap_minutes)
        sessions, plays = [], {}
        for item in items:
            ts = item.get("ts")
            if ts is None and item.get("hour") is not None:
                ts = cutoff + dt.timedelta(hours=item["hour"])
            session_id, mine = self.live.session(item["user_id"], item.get("session_id"), ts, gap)
            if not mine:
                sessions.append(None)
                continue
            item["session_id"] = session_id
            if ts is None:
                item["ts"] = max(mine[-1]["ts"] + dt.timedelta(seconds=1), cutoff)
            for p in mine:
                plays[(p["user_id"], p["track_id"], p["ts"])] = p
            sessions.append({"session_id": session_id, "live_events": [{"track_id": p["track_id"], "ts": p["ts"]} for p in mine]})
        live = pl.DataFrame(list(plays.values()), schema=PROBE_SCHEMA) if plays else None
        return sessions, live

    def events(self, events: list[dict]) -> dict:
        """Check a batch of plays by ingest's rules; append it to the event log, fsynced, or refuse it whole."""
        problems, plays = self.checker.check(events)
        if problems:
            raise BadItems(problems)
        try:
            appended = self.event_log.append(events, plays["ts"].to_list())
        except LogFull as exc:  # nothing of the batch was kept: the client sends it again later
            logger.error("POST /v1/events: %s", exc)
            raise HTTPException(503, f"{exc.strerror}: send the batch again later", headers={"Retry-After": str(LOG_RETRY_S)}) from exc
        with self._live_lock:
            self._hold(plays)
            self.tail.skip(appended)  # held already: the tail need not read it back
        return {"accepted": len(events), "files": [appended.path.name]}

    async def at_risk(self, user_id: str, day: dt.date | None) -> dict:
        """A night's at-risk list: from memory for the latest ``serve_nights_in_memory`` nights, else read
        by the history workers (at most ``serve_history_queue`` waiting; more is answered 503)."""
        served = self.served
        day = day or served.marks.night
        if day is None:
            raise HTTPException(404, "no night has been published yet: run `skipify nightly`")
        if day in served.nights:
            return _at_risk_body(user_id, day, served.nights[day].user(user_id))
        if self._history_waiting >= self.cfg.serve_history_queue:
            raise HTTPException(503, f"{self._history_waiting} reads of older nights are waiting (serve_history_queue); "
                                     "try again shortly", headers={"Retry-After": "1"})
        self._history_waiting += 1
        try:
            rows = await asyncio.wrap_future(self._history.submit(self._read_night, user_id, day))
        finally:
            self._history_waiting -= 1
        return _at_risk_body(user_id, day, rows)

    def _read_night(self, user_id: str, day: dt.date) -> pl.DataFrame:
        con = connect(self.cfg, read_only=True)
        try:
            if not run_sql(con, "serving/night_published", {"run_date": day}).fetchone()[0]:
                raise HTTPException(404, f"no published night on {day}")
            return run_sql(con, "serving/at_risk", {"run_date": day, "user_id": user_id}).pl()
        finally:
            con.close()

    def model(self) -> dict:
        served = self.served
        v = served.version
        metrics = json.loads(v["metrics"])
        s = metrics["summary"]
        return {
            "version": v["version"], "status": v["status"], "created_at": v["created_at"], "served_model": v["served_model"],
            "gate": {"verdict": v["gate_verdict"], "reasons": v["gate_reasons"],
                     "figures": json.loads(v["gate_figures"]) if v.get("gate_figures") else None},
            "training": {"as_of": v["as_of"], "train_from": s["train_from"], "valid_from": s["valid_from"],
                         "test_from": s["test_from"], "test_to": s["test_to"], "train_rows": s["n_train_rows"]},
            "test_metrics": {k: v for k, v in s.items() if k.endswith(("_roc_auc", "_lift_share", "_log_loss"))}
            | {"test_rows": s["n_test_rows"]},
            "features_as_of": served.snapshot.as_of, "night": served.marks.night, "loaded_at": served.loaded_at,
            "risk_threshold": {"threshold": served.risk.threshold, "source": served.risk.source,
                               "chosen_by": served.risk.chosen_by, "chosen_at": served.risk.chosen_at, "text": served.risk.describe()},
        }


def _at_risk_body(user_id: str, day: dt.date, rows: pl.DataFrame) -> dict:
    tracks = rows.select("track_id", "domain", "rank_in_user", "p_dislike", "p_dislike_baseline", "source").to_dicts()
    versions = rows["model_version"].unique().to_list()
    return {"user_id": user_id, "run_date": day, "model_version": versions[0] if versions else None,
            "n_at_risk": len(tracks), "tracks": tracks}


def _plain(value: Any) -> Any:
    """A feature value as JSON can carry it: numbers as floats, NaN and infinities as null."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


# --- HTTP ----------------------------------------------------------------------------------------


def _iso_text(value: Any) -> Any:
    """A ts must be written as text: a number would otherwise be read as seconds since 1970."""
    if not isinstance(value, str):
        raise ValueError("ts must be an ISO 8601 string with a time zone, e.g. 2026-03-02T21:00:00Z")
    return value


# Constrained strings: pydantic-core also refuses text it cannot read as Unicode (a lone surrogate, "\\ud800")
# and the rules every play's text follows (skipify.ingest.rules): the same bounds, no control characters
Id = Annotated[str, StringConstraints(min_length=1, max_length=rules.MAX_ID_CHARS, pattern=rules.NO_CONTROL)]
Label = Annotated[str, StringConstraints(max_length=rules.MAX_LABEL_CHARS, pattern=rules.NO_CONTROL)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class Context(BaseModel):
    """Where the track would play. Left out: the listener's habit, as the nightly scores use.

    Types are strict: ``"hour": "21"`` or ``true`` is not an hour, ``"shuffle": 1`` not a boolean."""

    model_config = ConfigDict(extra="forbid")
    ts: Timestamp | None = Field(None, description="when it would play (ISO 8601 with a time zone), from the features' "
                                                   "cut-off to ingest_max_future_hours after it; default: the features' day")
    hour: StrictInt | None = Field(None, ge=0, le=23, description="hour (UTC) on the features' day, instead of ts")
    platform: Label | None = None
    shuffle: StrictBool | None = None
    context_type: Label | None = None
    reason_start: Label | None = None
    session_id: Id | None = Field(None, description="the listening session it would play in: its plays since the cut-off "
                                                    "(POST /v1/events) are the session's earlier plays; default: the "
                                                    "listener's open session (last play less than session_gap_minutes before)")
    session_position: StrictInt | None = Field(None, ge=1, description="its position in the session (default: after "
                                                                        "the session's plays, or 1 without a session)")

    @model_validator(mode="after")
    def _one_time(self) -> "Context":
        if self.ts is not None and self.hour is not None:
            raise ValueError("give ts or hour, not both")
        return self


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    track_id: Id
    context: Context = Field(default_factory=Context)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Pair] = Field(min_length=1, description="the pairs to score (at most serve_max_batch)")


class EventsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(
        min_length=1, description=f"plays as they happen (at most serve_max_events), each with the data contract's fields: "
                                  f"{', '.join(EVENT_FIELDS)}; user_id, track_id and ts (ISO 8601 with a zone) required")


class EventsAccepted(BaseModel):
    accepted: int = Field(description="events written to the event log (all of the batch)")
    files: list[str] = Field(description="the file of the event log the batch was appended to (the hour of its latest play)")


class Reason(BaseModel):
    feature: str = Field(description="the feature column (or embedding block)")
    label: str = Field(description="what it is, in words (the feature catalogue, `skipify features --list`)")
    contribution: float = Field(description="log-odds this feature adds to the served model's score (integrated gradients "
                                            "for the deep model, path attributions for LightGBM)")
    value: float | str | None = Field(description="the feature's value for this pair (none for embeddings)")


class ColdStart(BaseModel):
    user: bool = Field(description="no play of this listener before the features' cut-off")
    track: bool = Field(description="no play of this track before the cut-off")
    unknown_user: bool = Field(description="not in raw.users")
    unknown_track: bool = Field(description="not in raw.tracks")


class LiveEvent(BaseModel):
    track_id: str
    ts: dt.datetime


class LiveSession(BaseModel):
    session_id: str
    live_events: list[LiveEvent] = Field(description="the plays of the session since the cut-off the prediction read "
                                                     "(POST /v1/events), oldest first")


class Prediction(BaseModel):
    user_id: str
    track_id: str
    p_dislike: float = Field(description="the served model: the kind the gate chose for the version (served_model)")
    p_dislike_baseline: float = Field(description="the version's other model kind")
    at_risk: bool = Field(description="p_dislike reaches the at-risk threshold in force (risk_threshold: the one a product "
                                      "manager chose last, skipify guard, else the served model's validation threshold)")
    model_version: str
    domain: str = Field(description="the item's domain (music, podcast, audiobook, video: docs/domains.md)")
    served_model: str = Field(description="the kind p_dislike comes from (skipify.models.kinds.KINDS: lightgbm, deep, ...): "
                                          "the version's, or the gate's choice for the item's domain")
    trained_on: str = Field(description="what that model was trained on: 'all' (every domain's plays), or the item's "
                                        "domain alone (the gate's choice for it, models.registry.domain_served)")
    cold_start: ColdStart
    session: LiveSession | None = Field(description="the live session the prediction knows (None: none, only the "
                                                    "history up to the cut-off)")
    reasons: list[Reason]


class PredictResponse(BaseModel):
    model_version: str
    served_model: str
    features_as_of: dt.date
    risk_threshold: float = Field(description="the at-risk threshold in force (GET /v1/model says where it comes from)")
    predictions: list[Prediction]


_printable = shown  # text safe to put in a JSON reply: a lone surrogate (from the client's own JSON) as its escape


def _field(loc: tuple) -> str:
    """('body', 'items', 0, 'user_id') -> 'items[0].user_id'."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{_printable(str(part))}" if out else _printable(str(part)))
    return out or "body"


def _refuse(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, **extra})


@dataclass(frozen=True)
class _Limit:
    max_bytes: int
    items: int
    setting: str


class BodyLimit:
    """ASGI middleware: a request body larger than its path's limit (``limits[path]``, else
    ``limits[""]``: the items it may hold, the setting that says so, times MAX_ITEM_BYTES) is answered
    413 as soon as it is known, from its Content-Length or, for a chunked body, while it streams in
    (reading stops at the limit). The body is read here and handed on to the application whole.
    """

    def __init__(self, app, limits: dict[str, tuple[int, str]]):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        items, setting = self.limits.get(scope["path"], self.limits[""])
        limit = _Limit(items * MAX_ITEM_BYTES, items, setting)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit.max_bytes:
            return await self._too_large(scope, receive, send, limit, f"body of {int(declared):,} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                return await self._too_large(scope, receive, send, limit, f"body over {limit.max_bytes:,} bytes (stopped reading there)")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, handed = b"".join(chunks), False

        async def replay():
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send, limit: "_Limit", what: str) -> None:
        response = _refuse(413, f"{what}; at most {limit.max_bytes:,} ({limit.items} items, {limit.setting})",
                           fields=["body"], errors=[])
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)


def create_app(service: Service, watch_s: float = 0) -> FastAPI:
    """The FastAPI application over a loaded :class:`Service`; while it runs, the service looks for a
    new champion or night every ``watch_s`` seconds (0: never)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if watch_s > 0:
            service.watch(watch_s)
        try:
            yield
        finally:
            service.stop()

    api = FastAPI(title="Skipify prediction API", version="1", lifespan=lifespan,
                  description="Which tracks a listener is about to dislike, from the served model version.")

    # 413 before parsing a body too large to hold serve_max_batch items (serve_max_events events); counts are checked after
    api.add_middleware(BodyLimit, limits={"": (service.cfg.serve_max_batch, "serve_max_batch"),
                                          "/v1/events": (service.cfg.serve_max_events, "serve_max_events")})

    @api.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each bad field. The client's input is never echoed: it may hold NaN, Infinity or a lone
        surrogate, which a JSON reply cannot carry (and echoing it is what turned these into 500s)."""
        errors = [{"type": e["type"], "loc": [p if isinstance(p, int) else _printable(str(p)) for p in e["loc"]],
                   "msg": _printable(e["msg"])} for e in exc.errors()]
        fields = [_field(tuple(e["loc"])) for e in errors]
        message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors))
        return _refuse(422, message, fields=fields, errors=errors)

    @api.exception_handler(BadItems)
    def bad_items(request: Request, exc: BadItems) -> JSONResponse:
        problems = [(_printable(f), _printable(m)) for f, m in exc.problems]
        return _refuse(422, _printable(str(exc)), fields=[f for f, _ in problems],
                       errors=[{"type": "value_error", "loc": f, "msg": m} for f, m in problems])

    @api.post("/v1/predict", response_model=PredictResponse)
    def predict(body: PredictRequest) -> dict:
        """p(dislike) of each pair from the served model kind and its baseline kind, with the top
        three reasons; unknown listeners and tracks are scored through the cold-start path and flagged."""
        limit = service.cfg.serve_max_batch
        if len(body.items) > limit:
            raise HTTPException(413, f"{len(body.items)} pairs in one request; the limit is {limit} (serve_max_batch)")
        items = [{"user_id": p.user_id, "track_id": p.track_id, **p.context.model_dump()} for p in body.items]
        return service.predict(items)

    @api.post("/v1/events", status_code=202, response_model=EventsAccepted)
    def events(body: EventsRequest) -> dict:
        """Plays as they happen, checked by the nightly ingest's rules (a batch with a bad event is refused whole:
        422 naming each problem) and appended, fsynced, to the event log in the landing area before the 202; the
        next night ingests them. A play's key is (user_id, track_id, ts): sending one again adds nothing."""
        limit = service.cfg.serve_max_events
        if len(body.events) > limit:
            raise HTTPException(413, f"{len(body.events)} events in one request; the limit is {limit} (serve_max_events)")
        return service.events(body.events)

    @api.get("/v1/users/{user_id}/at-risk")
    async def at_risk(user_id: Annotated[str, Path(min_length=1, max_length=rules.MAX_ID_CHARS, pattern=rules.NO_CONTROL)],
                      date: Annotated[dt.date | None, Query(description="a published night (default: the latest)")] = None) -> dict:
        """A night's at-risk tracks of one listener, most at risk first (scores.dislike_scores). The latest
        serve_nights_in_memory nights answer from memory; older ones are read by serve_history_workers
        workers of their own (503 when serve_history_queue reads already wait)."""
        return await service.at_risk(user_id, date)

    @api.get("/v1/model")
    def model() -> dict:
        """The served version: status, gate verdict, training range and test metrics."""
        return service.model()

    @api.get("/healthz")
    async def healthz() -> dict:  # async: answered on the event loop, never queued behind busy worker threads
        s = service.served
        return {"status": "ok", "model_version": s.marks.version, "served_model": s.version["served_model"], "features_as_of": s.snapshot.as_of, "night": s.marks.night,
                "loaded_at": s.loaded_at, "load_s": round(s.seconds, 3),
                "reloads": service.reloads, "worker": os.getpid(), "live_plays": len(service.live),
                "live_mb": round(service.live.nbytes / 2**20, 2)}

    return api


def serve(cfg: Config | None = None, host: str | None = None, port: int | None = None, as_of: dt.date | None = None,
          reload_s: float | None = None, workers: int | None = None) -> None:
    """Load, start the reload watcher and run uvicorn until interrupted; with ``workers`` > 1
    [config serve_workers], that many processes on one socket (see the module's docstring).

    Raises:
        ValueError: nothing to serve (no trained version), or a worker could not load it.
    """
    import uvicorn

    cfg = cfg or load_config()
    every = cfg.serve_reload_s if reload_s is None else reload_s
    workers = cfg.serve_workers if workers is None else workers
    host, port = host or cfg.serve_host, port or cfg.serve_port
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    if not 1 <= port <= 65535:  # uvicorn would take it modulo 65536 and say the number it was given
        raise ValueError(f"--port must be from 1 to 65535, not {port}")
    if workers == 1:
        app = _load_app(cfg, as_of, every)
        logger.info("serving on http://%s:%d (docs: /docs)", host, port)
        uvicorn.run(app, host=host, port=port, log_level=cfg.log_level.lower(), access_log=cfg.serve_access_log)
        return

    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if read_marks(cfg).version is None:  # say so once, before starting workers that would each fail
        raise ValueError(NO_MODEL)
    _fork_workers()
    config = uvicorn.Config(partial(_worker_app, cfg, as_of, every), factory=True, host=host, port=port,
                            workers=workers, log_level=cfg.log_level.lower(), access_log=cfg.serve_access_log,
                            timeout_worker_healthcheck=cfg.serve_worker_healthcheck_s)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    logger.info("serving on http://%s:%d with %d workers (docs: /docs)", host, port, workers)
    supervisor.run()
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        raise ValueError(f"worker {failed[0]} could not load the served version (its error is logged above)")


def _fork_workers() -> None:
    """Make uvicorn fork its workers from this process (the supervisor) once it has imported what they need,
    instead of starting each as a fresh interpreter (multiprocessing's "spawn", uvicorn's own): a worker starts
    without importing PyTorch, LightGBM, Polars... (2-4 s), and the imported modules' pages stay shared by the
    supervisor and every worker (copy-on-write). The garbage collector's objects are frozen first, as Python's
    documentation advises before forking: a worker's collections do not walk them, so it does not copy their pages.

    Forking is safe here because the supervisor has run nothing but imports and one short read of the warehouse
    (DuckDB's threads end with its connection): no thread pool (Polars', PyTorch's and LightGBM's OpenMP, DuckDB's)
    is copied half-alive into a worker; each starts its own, as a spawned one would. Imports do start a few threads
    (Polars' jemalloc background threads and its out-of-core files' cleaner, NumPy's OpenBLAS pool), idle at the
    fork: jemalloc and OpenBLAS handle a fork themselves (their pthread_atfork handlers), and the cleaner only
    removes spilled files, which a worker does not make. (Python 3.12 warns at a fork with threads running.)"""
    import importlib
    import multiprocessing

    import uvicorn._subprocess

    from skipify.models.kinds import KINDS

    for name in ("skipify.serving", "skipify.snapshots", "skipify.versions", "torch", "lightgbm",
                 *(kind.module for kind in KINDS.values())):
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # what uvicorn makes its workers with (its module's)


NO_MODEL = "no trained model yet: run `skipify train` (or `make demo`) before `skipify serve`"


def _load_app(cfg: Config, as_of: dt.date | None, watch_s: float) -> FastAPI:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(cfg.serve_threads)
    # NumPy's BLAS (OpenBLAS) on as many threads: a request's products are small, and each thread of its own pool
    # keeps a buffer of about 40 MiB from its first product on (a worker's private memory; docs/benchmarks.md)
    threadpool_limits(cfg.serve_threads, user_api="blas")
    return create_app(Service(cfg, as_of), watch_s)


def _worker_app(cfg: Config, as_of: dt.date | None, watch_s: float) -> FastAPI:
    """One worker's application (uvicorn calls it in the worker process). A worker that cannot load
    exits with uvicorn's start-up failure code: the supervisor then stops instead of restarting it
    over and over. A worker whose supervisor is gone (killed) stops too."""
    from uvicorn.config import STARTUP_FAILURE

    parent = os.getppid()  # the supervisor, which forked this worker
    try:
        app = _load_app(cfg, as_of, watch_s)
    except Exception as exc:
        logger.error("worker %d could not load: %s", os.getpid(), exc)
        sys.exit(STARTUP_FAILURE)

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        logger.warning("worker %d: the supervisor is gone, stopping", os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown

    threading.Thread(target=orphaned, name="skipify-orphan", daemon=True).start()
    return app


@contextmanager
def _one_loader(cfg: Config):
    """One bundle loaded at a time among the processes serving ``cfg.home`` (an exclusive flock)."""
    with exclusive(cfg.home / "serve.reload.lock"):
        yield
