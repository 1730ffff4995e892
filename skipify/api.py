"""The prediction API: ``skipify serve`` (FastAPI on uvicorn; OpenAPI docs at /docs).

    POST /v1/predict                      p(dislike) of (user, track, context) pairs, with reasons
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
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import numpy as np
import polars as pl
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from skipify.config import Config, load_config, logger
from skipify.warehouse import connect, run_sql

if TYPE_CHECKING:  # heavy imports stay out of module import (the CLI imports this lazily anyway)
    from skipify.explain import DeepReasons
    from skipify.models.deep import DeepModel
    from skipify.models.lgbm import LGBMModel
    from skipify.serving import Snapshot

TOP_REASONS = 3
MAX_ITEM_BYTES = 1024  # an item with 128-character ids and a full context stays well under this


class BadItems(ValueError):
    """Items the model cannot answer for (answered 422, like a malformed body)."""

    def __init__(self, fields: list[str], message: str):
        super().__init__(message)
        self.fields, self.message = fields, message


# --- what is loaded ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Marks:
    """What decides the bundle: the version to serve and the latest published night."""

    version: str | None
    night: dt.date | None


def read_marks(cfg: Config) -> Marks:
    """One short read-only query (sql/serving/marks.sql)."""
    con = connect(cfg, read_only=True)
    try:
        version, night = run_sql(con, "serving/marks").fetchone()
    finally:
        con.close()
    return Marks(version, night)


@dataclass
class Served:
    """Everything a request reads, loaded together and swapped whole."""

    version: dict  # the registry row
    lgbm: LGBMModel
    deep: DeepModel
    reasons: DeepReasons
    snapshot: Snapshot
    marks: Marks
    at_risk: pl.DataFrame  # the latest night's at-risk pairs, sorted by user and rank
    at_risk_rows: dict[str, tuple[int, int]]  # user -> (first row, end row) in at_risk
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    seconds: float = 0.0


def _by_user(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    counts = frame.group_by("user_id", maintain_order=True).len()
    ends = np.cumsum(counts["len"].to_numpy())
    return {u: (int(e - n), int(e)) for u, n, e in zip(counts["user_id"].to_list(), counts["len"].to_list(), ends)}


def load_served(cfg: Config, as_of: dt.date | None = None, marks: Marks | None = None) -> Served:
    """Load a bundle (see the module's docstring); the warehouse is closed when it returns.

    Args:
        as_of: the snapshot's cut-off (default: the latest published night, else the day after the last play).
        marks: what to load (default: read now).

    Raises:
        ValueError: no trained version yet.
    """
    from skipify.explain import DeepReasons
    from skipify.features import default_as_of
    from skipify.serving import Snapshot
    from skipify.train import load_version

    t0 = time.perf_counter()
    marks = marks or read_marks(cfg)
    if marks.version is None:
        raise ValueError("no trained model yet: run `skipify train` (or `make demo`) before `skipify serve`")
    chosen, lgbm, deep = load_version(marks.version, cfg)
    summary = json.loads(chosen["metrics"])["summary"]
    snapshot = Snapshot.load(as_of or marks.night or default_as_of(cfg), cfg)
    con = connect(cfg, read_only=True)
    try:
        background = run_sql(con, "serving/background", {
            "train_from": dt.date.fromisoformat(summary["train_from"]), "valid_from": dt.date.fromisoformat(summary["valid_from"]),
            "n": cfg.shap_background, "seed": cfg.seed}).pl()
        at_risk = run_sql(con, "serving/at_risk", {"run_date": marks.night, "user_id": None}).pl()
    finally:
        con.close()
    if background.is_empty():
        raise ValueError(f"no training rows of version {marks.version} in features.training_rows: run `skipify features`")
    served = Served(chosen, lgbm, deep, DeepReasons(deep, background), snapshot, marks, at_risk, _by_user(at_risk))
    served.seconds = time.perf_counter() - t0
    logger.info("serving version %s (%s), features as of %s, night %s: loaded in %.1fs", marks.version, chosen["status"],
                snapshot.as_of, marks.night, served.seconds)
    return served


class Service:
    """The loaded bundle, its hot reload and the work behind each endpoint."""

    def __init__(self, cfg: Config | None = None, as_of: dt.date | None = None):
        self.cfg = cfg or load_config()
        self.as_of = as_of
        self.served = load_served(self.cfg, as_of)
        self.reloads = 0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # hot reload
    def reload_if_changed(self) -> bool:
        """Load and swap in a new bundle when the version to serve or the latest night changed."""
        marks = read_marks(self.cfg)
        if marks == self.served.marks:
            return False
        logger.info("reloading: %s -> %s", self.served.marks, marks)
        self.served = load_served(self.cfg, self.as_of, marks)  # one reference swap: atomic for readers
        self.reloads += 1
        return True

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

    # endpoints
    def predict(self, items: list[dict]) -> dict:
        from skipify.serving import request_frame

        served = self.served  # this request's bundle, whatever a reload does meanwhile
        cutoff = served.snapshot.cutoff
        early = [i for i, item in enumerate(items) if item.get("ts") is not None and item["ts"] < cutoff]
        if early:
            raise BadItems([f"items[{i}].context.ts" for i in early],
                           f"before the features' cut-off {cutoff:%Y-%m-%d %H:%M} UTC: the snapshot has no history as of then")
        rows, flags = served.snapshot.rows(request_frame(items))
        data = served.deep.inputs(rows)
        p_deep = served.deep.predict(rows, data=data)
        p_base = served.lgbm.predict(rows)
        blocks, values, _ = served.reasons(rows, data)
        top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :TOP_REASONS]
        version = served.marks.version
        out = []
        for i, item in enumerate(items):
            reasons = []
            for j in top[i]:
                name = blocks[j]
                value = rows[name][i] if name in rows.columns else None
                reasons.append({"feature": name, "contribution": float(values[i, j]),
                                "value": float(value) if isinstance(value, (int, float, Decimal)) else value})
            f = flags.row(i, named=True)
            out.append({"user_id": item["user_id"], "track_id": item["track_id"], "p_dislike": float(p_deep[i]),
                        "p_dislike_baseline": float(p_base[i]), "model_version": version,
                        "cold_start": {"user": f["user_new"], "track": f["track_new"],
                                       "unknown_user": f["user_unknown"], "unknown_track": f["track_unknown"]},
                        "reasons": reasons})
        return {"model_version": version, "features_as_of": served.snapshot.as_of, "predictions": out}

    def at_risk(self, user_id: str, day: dt.date | None) -> dict:
        served = self.served
        day = day or served.marks.night
        if day is None:
            raise HTTPException(404, "no night has been published yet: run `skipify nightly`")
        if day == served.marks.night:
            lo, hi = served.at_risk_rows.get(user_id, (0, 0))
            rows = served.at_risk[lo:hi]
        else:
            con = connect(self.cfg, read_only=True)
            try:
                if not run_sql(con, "serving/night_published", {"run_date": day}).fetchone()[0]:
                    raise HTTPException(404, f"no published night on {day}")
                rows = run_sql(con, "serving/at_risk", {"run_date": day, "user_id": user_id}).pl()
            finally:
                con.close()
        tracks = rows.select("track_id", "rank_in_user", "p_dislike", "p_dislike_baseline", "source").to_dicts()
        versions = rows["model_version"].unique().to_list()
        return {"user_id": user_id, "run_date": day, "model_version": versions[0] if versions else None,
                "n_at_risk": len(tracks), "tracks": tracks}

    def model(self) -> dict:
        served = self.served
        v = served.version
        metrics = json.loads(v["metrics"])
        s = metrics["summary"]
        return {
            "version": v["version"], "status": v["status"], "created_at": v["created_at"],
            "gate": {"verdict": v["gate_verdict"], "reasons": v["gate_reasons"]},
            "training": {"as_of": v["as_of"], "train_from": s["train_from"], "valid_from": s["valid_from"],
                         "test_from": s["test_from"], "test_to": s["test_to"], "train_rows": s["n_train_rows"]},
            "test_metrics": {k: v for k, v in s.items() if k.endswith(("_roc_auc", "_lift_share", "_log_loss"))}
            | {"test_rows": s["n_test_rows"]},
            "features_as_of": served.snapshot.as_of, "night": served.marks.night, "loaded_at": served.loaded_at,
        }


# --- HTTP ----------------------------------------------------------------------------------------


class Context(BaseModel):
    """Where the track would play. Left out: the listener's habit, as the nightly scores use."""

    model_config = ConfigDict(extra="forbid")
    ts: AwareDatetime | None = Field(None, description="when it would play (with a time zone); default: the features' day")
    hour: int | None = Field(None, ge=0, le=23, description="hour (UTC) on the features' day, instead of ts")
    platform: str | None = Field(None, max_length=64)
    shuffle: bool | None = None
    context_type: str | None = Field(None, max_length=64)
    reason_start: str | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _one_time(self) -> "Context":
        if self.ts is not None and self.hour is not None:
            raise ValueError("give ts or hour, not both")
        return self


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=128)
    track_id: str = Field(min_length=1, max_length=128)
    context: Context = Field(default_factory=Context)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Pair] = Field(min_length=1, description="the pairs to score (at most serve_max_batch)")


class Reason(BaseModel):
    feature: str
    contribution: float = Field(description="log-odds this feature adds to the deep model's score (integrated gradients)")
    value: float | str | None = Field(description="the feature's value for this pair (none for embeddings)")


class ColdStart(BaseModel):
    user: bool = Field(description="no play of this listener before the features' cut-off")
    track: bool = Field(description="no play of this track before the cut-off")
    unknown_user: bool = Field(description="not in raw.users")
    unknown_track: bool = Field(description="not in raw.tracks")


class Prediction(BaseModel):
    user_id: str
    track_id: str
    p_dislike: float = Field(description="the served version's deep model")
    p_dislike_baseline: float = Field(description="its LightGBM baseline")
    model_version: str
    cold_start: ColdStart
    reasons: list[Reason]


class PredictResponse(BaseModel):
    model_version: str
    features_as_of: dt.date
    predictions: list[Prediction]


def _field(loc: tuple) -> str:
    """('body', 'items', 0, 'user_id') -> 'items[0].user_id'."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def create_app(service: Service) -> FastAPI:
    """The FastAPI application over a loaded :class:`Service`."""
    api = FastAPI(title="Skipify prediction API", version="1",
                  description="Which tracks a listener is about to dislike, from the served model version.")

    max_bytes = service.cfg.serve_max_batch * MAX_ITEM_BYTES

    @api.middleware("http")
    async def refuse_huge_bodies(request: Request, call_next):
        """413 before parsing a body too large to hold serve_max_batch items (the count is checked after)."""
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > max_bytes:
            return JSONResponse(status_code=413, content={
                "detail": f"body of {int(size):,} bytes; at most {max_bytes:,} ({service.cfg.serve_max_batch} items, serve_max_batch)"})
        return await call_next(request)

    @api.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        fields = [_field(tuple(e["loc"])) for e in errors]
        message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors))
        return JSONResponse(status_code=422, content={"detail": message, "fields": fields, "errors": jsonable_encoder(errors)})

    @api.exception_handler(BadItems)
    def bad_items(request: Request, exc: BadItems) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": "; ".join(f"{f}: {exc.message}" for f in exc.fields),
                                                      "fields": exc.fields, "errors": []})

    @api.post("/v1/predict", response_model=PredictResponse)
    def predict(body: PredictRequest) -> dict:
        """p(dislike) of each pair from the served deep model and its LightGBM baseline, with the top
        three reasons; unknown listeners and tracks are scored through the cold-start path and flagged."""
        limit = service.cfg.serve_max_batch
        if len(body.items) > limit:
            raise HTTPException(413, f"{len(body.items)} pairs in one request; the limit is {limit} (serve_max_batch)")
        items = [{"user_id": p.user_id, "track_id": p.track_id, **p.context.model_dump()} for p in body.items]
        return service.predict(items)

    @api.get("/v1/users/{user_id}/at-risk")
    def at_risk(user_id: Annotated[str, Path(min_length=1, max_length=128)],
                date: Annotated[dt.date | None, Query(description="a published night (default: the latest)")] = None) -> dict:
        """A night's at-risk tracks of one listener, most at risk first (scores.dislike_scores)."""
        return service.at_risk(user_id, date)

    @api.get("/v1/model")
    def model() -> dict:
        """The served version: status, gate verdict, training range and test metrics."""
        return service.model()

    @api.get("/healthz")
    def healthz() -> dict:
        s = service.served
        return {"status": "ok", "model_version": s.marks.version, "features_as_of": s.snapshot.as_of, "night": s.marks.night,
                "loaded_at": s.loaded_at, "reloads": service.reloads}

    return api


def serve(cfg: Config | None = None, host: str | None = None, port: int | None = None, as_of: dt.date | None = None,
          reload_s: float | None = None) -> None:
    """Load, start the reload watcher and run uvicorn until interrupted."""
    import torch
    import uvicorn

    cfg = cfg or load_config()
    torch.set_num_threads(cfg.serve_threads)
    service = Service(cfg, as_of)
    every = cfg.serve_reload_s if reload_s is None else reload_s
    if every > 0:
        service.watch(every)
    host, port = host or cfg.serve_host, port or cfg.serve_port
    logger.info("serving on http://%s:%d (docs: /docs)", host, port)
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level=cfg.log_level.lower(), access_log=cfg.serve_access_log)
    finally:
        service.stop()
