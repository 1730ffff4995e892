"""One typed place for Skipify's configuration.

Every field has a default here and can be overridden by an environment variable
named ``SKIPIFY_<FIELD>`` in upper case, for example::

    $ SKIPIFY_HOME=/tmp/wh skipify status          # a whole other warehouse
    $ SKIPIFY_LABEL_SKIP_THRESHOLD_MS=15000 skipify config

``SKIPIFY_HOME`` moves everything that is written at run time (the lake, the generated
world, extension copies), so tests and benchmarks never touch the demo's warehouse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
import types
import typing
from typing import Any, get_type_hints

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"
ENV_PREFIX = "SKIPIFY_"


@dataclass(frozen=True)
class Config:
    """Effective configuration. Build it with :func:`load_config`, not by hand."""

    # --- where things live -------------------------------------------------------------
    home: Path = REPO_ROOT / "warehouse"  # everything written at run time lives below this

    # --- label ----------------------------------------------------------------------------
    # An event is a dislike when feedback is 'dislike' or it was played for less than its domain's threshold:
    # this for music (an early skip) ...
    label_skip_threshold_ms: int = 30_000
    # ... and, for the other domains items may belong to, "domain=ms" pairs: an episode, chapter or video abandoned
    # within its first ms. These name the domains there are (raw.tracks.domain; music always is one): a new medium
    # is one more pair. `Config.label_rules()` reads them; docs/domains.md says why these values.
    label_domain_abandon_ms: str = "podcast=120000,audiobook=120000,video=15000"

    # --- time-based splits (train < validation < test), counted back from the last event day
    split_test_days: int = 7
    split_valid_days: int = 7
    split_min_test_rows: int = 1000  # each window is extended back by whole days until it holds this many plays
    split_min_valid_rows: int = 1000
    train_window_days: int | None = None  # train (and tune) on the last N days before the cut-off only; None: all history
    # training holds its rows and the deep model's tensors in files it maps, built this many rows at a time: what a
    # training holds for itself grows with this, not with the rows (docs/scale.md, "Training in bounded memory")
    train_chunk_rows: int = 262_144

    # --- features ---------------------------------------------------------------------------
    feature_smoothing: float = 10.0  # pseudo-plays pulling dislike rates towards the global rate
    feature_prior: float = 0.3  # the dislike rate a smoothed rate starts from (the global rate before any play)
    history_len: int = 50  # plays in the listening-history sequences (the listener's last plays; the session's earlier ones)
    session_lookback_hours: int = 24  # a session's earlier plays are looked for this far back (a session spans less)
    text_model_name: str = "all-MiniLM-L6-v2"
    text_batch_size: int = 128

    # --- models ------------------------------------------------------------------------------
    gate_tolerance: float = 0.005  # a challenger may trail the champion's test ROC AUC by at most this
    gate_min_test_rows: int = 1000  # the gate does not decide on fewer test rows (the version stays a challenger)
    # a domain other than the largest gets every kind trained on its plays alone when it has at least this many
    # training and validation plays; the gate then serves its rows with the best, joint or its own (0: none)
    domain_models_min_rows: int = 1000
    train_epochs: int = 8
    warm_start_epochs: int = 2  # `skipify train --warm-start`: epochs of the deep model's end-to-end stage on the new plays
    retrain_full_weekday: int | None = 6  # the retrain DAG (daily) trains from scratch on this weekday (0 Monday .. 6 Sunday)
    # and warm-starts the served version on the others; none (SKIPIFY_RETRAIN_FULL_WEEKDAY=none): from scratch every day
    tune_trials: int = 12  # `skipify tune`: trials per model ...
    tune_timeout_s: int = 900  # ... and seconds per model, whichever ends first
    shap_sample: int = 1000  # test rows explained when a version is trained (global SHAP importances) ...
    shap_background: int = 200  # ... against this many training rows (the deep model's background)
    shap_night_sample: int = 400  # scored pairs explained per night (local reasons, shown by the app)

    # --- the nightly run (skipify nightly / backfill, the Airflow DAGs) ------------------------
    landing_dir: Path | None = None  # landing files the night ingests [default: <home>/world/landing]
    nightly_first_night: dt.date = dt.date(2026, 1, 1)  # the nightly DAG's first night (catchup runs every night since) ...
    nightly_last_night: dt.date | None = None  # ... and its last (none: every night from now on)
    active_days: int = 30  # listeners with a play in these days before the night are scored
    candidates_k: int = 40  # per listener: tracks nearest to their taste (two-tower) not played recently ...
    candidates_fresh_days: int = 14  # ... "recently" meaning in these days
    rotation_k: int = 20  # ... plus their most played tracks of the last candidates_fresh_days
    scoring_batch_rows: int = 100_000  # rows scored per batch (progress is logged per batch)
    nightly_shards: int = 4  # user shards scored separately (Airflow maps one task per shard)
    nightly_workers: int = 2  # processes `skipify nightly` scores the shards in, side by side (1: one after another, in its own)
    risk_threshold: float | None = None  # at risk when p_dislike >= this, until a product manager chooses one (skipify guard) [default: the served model's validation threshold]
    row_count_min_ratio: float = 0.5  # a night's row count must lie within these ratios ...
    row_count_max_ratio: float = 2.0  # ... of the previous published night's, or the night fails its checks
    profile_min_listeners: int = 5  # tracks with fewer candidate listeners are categorised "niche"

    # --- the guard: what a threshold would have done (skipify guard, the app's Guard page: docs/guard.md) ------
    guard_backtest_nights: int = 3  # each night (re)writes the backtests of the published nights of these days before it
    guard_nights: int = 7  # the trade-off is read over the latest this many backtested nights
    guard_new_days: int = 7  # a listener (track) is new when first played within these days before the night

    # --- the Streamlit app (skipify app) ------------------------------------------------------
    app_port: int = 8501
    app_cache_ttl_s: int = 30  # the app re-reads the warehouse at most this often: a new night appears by itself

    # --- the prediction API (skipify serve) ----------------------------------------------------
    serve_host: str = "127.0.0.1"
    serve_port: int = 8000
    serve_max_batch: int = 1000  # pairs per POST /v1/predict; more is answered 413
    serve_reload_s: float = 30.0  # how often the server looks for a new champion or night (0: never)
    serve_threads: int = 1  # torch and BLAS threads per request (one request is small; concurrency comes from requests)
    serve_workers: int = 1  # processes behind the one port, each with its own bundle (`skipify serve --workers`)
    serve_worker_healthcheck_s: int = 10  # a worker that does not answer its supervisor this long is restarted ...
    # ... and a worker that dies while asked is noticed after it (uvicorn's ping waits for its answer)
    serve_access_log: bool = True
    serve_nights_in_memory: int = 7  # at-risk lists of the latest nights kept in memory; older ones are read on request ...
    serve_history_workers: int = 2  # ... by this many workers of their own ...
    serve_history_queue: int = 32  # ... with at most this many reads waiting (more: 503, Retry-After)
    serve_max_events: int = 1000  # plays per POST /v1/events; more is answered 413
    serve_live_plays_per_user: int = 200  # plays since the cut-off held per listener for live sessions ...
    serve_live_max_plays: int = 1_000_000  # ... and in all (about 0.5 KB each); the least recent listeners go first ...
    serve_live_max_mb: int = 512  # ... and by their size in memory (text counted by its length), whichever bound comes first
    session_gap_minutes: int = 30  # a prediction without session_id joins the listener's session if its last play is this recent
    events_dir: Path | None = None  # where POST /v1/events appends accepted plays [default: <landing>/live]

    # --- analysts' queries (skipify sql) --------------------------------------------------------------
    sql_timeout_s: float = 60.0  # a statement running longer is stopped (skipify sql --timeout)

    # --- maintenance (skipify maintain; the nightly DAG's last task) ---------------------------------
    maintain_orphan_age_hours: float = 24.0  # data files no snapshot references, older than this, are deleted ...
    maintain_keep_snapshots_days: int = 7  # ... and snapshots older than this expired, with the files only they used

    # --- ingest -------------------------------------------------------------------------------
    ingest_min_ts: dt.date = dt.date(2000, 1, 1)  # events before this are quarantined
    ingest_max_future_hours: int = 24  # events later than now + this are quarantined

    # --- the planted-truth world (skipify generate defaults; the demo uses these) -----
    seed: int = 42
    world_users: int = 11_000
    world_tracks: int = 5_500
    world_days: int = 60
    world_events_per_user_day: float = 1.7
    world_start: dt.date = dt.date(2026, 1, 1)

    # --- the warehouse's engines (docs/scale.md): one machine by default, shared ones past it ------
    # The DuckLake catalog: "" = the SQLite file <home>/lake/meta.sqlite; or a PostgreSQL database,
    # "postgresql://user[:password]@host:port/dbname" or libpq's "dbname=... host=... port=... user=...".
    warehouse_catalog: str = ""
    # The data files: "" = the folder <home>/lake/data; or an S3-compatible prefix "s3://bucket/prefix/",
    # its endpoint and credentials from the usual environment variables (AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL for a server other than AWS).
    warehouse_data: str = ""
    warehouse_timeout_s: int = 10  # a catalog or bucket that does not answer within this fails the command (no hang)

    # --- DuckDB resources (DuckDB's defaults follow the host, not this machine's quota) ---
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "4GB"  # DuckDB fills what it is allowed (caches); 4GB bounds a 10M ingest at ~3.4 GB RSS

    # --- logging -------------------------------------------------------------------------------
    log_level: str = "INFO"

    # Derived paths --------------------------------------------------------------------------
    @property
    def lake_dir(self) -> Path:
        """DuckLake: SQLite catalog ``meta.sqlite`` plus Parquet files under ``data/``."""
        return self.home / "lake"

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog's file (when ``warehouse_catalog`` is empty)."""
        return self.lake_dir / "meta.sqlite"

    @property
    def data_path(self) -> Path:
        """The local data folder (when ``warehouse_data`` is empty)."""
        return self.lake_dir / "data"

    @property
    def local_catalog(self) -> bool:
        return not self.warehouse_catalog

    @property
    def local_data(self) -> bool:
        return not self.warehouse_data

    @property
    def data_url(self) -> str:
        """Where the lake's data files are, ending in "/": the local folder or the S3 prefix."""
        return (self.warehouse_data or str(self.data_path)).rstrip("/") + "/"

    @property
    def catalog_name(self) -> str:
        """The catalog as messages name it: its file, or the PostgreSQL database without a password."""
        return str(self.catalog_path) if self.local_catalog else redact(self.warehouse_catalog)

    @property
    def world_dir(self) -> Path:
        """Where `make demo` generates the default world (landing/ and truth/)."""
        return self.home / "world"

    @property
    def models_dir(self) -> Path:
        """Model artefacts, one folder per version."""
        return self.home / "models"

    @property
    def truth_path(self) -> Path:
        """The generated world's truth file (evaluation against the oracle when it exists)."""
        return self.world_dir / "truth" / "truth.parquet"

    @property
    def landing(self) -> Path:
        """Where the nightly run looks for landing files."""
        return self.landing_dir or self.world_dir / "landing"

    @property
    def events_folder(self) -> Path:
        """The event log of POST /v1/events: inside the landing area, so that the night ingests it."""
        return self.events_dir or self.landing / "live"

    @property
    def extension_dir(self) -> Path:
        return self.home / ".duckdb_extensions"

    def as_dict(self) -> dict[str, Any]:
        """Fields and derived paths, as plain JSON-able values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            out[f.name] = _to_plain(getattr(self, f.name))
        for name in ("lake_dir", "catalog_path", "data_path", "world_dir", "models_dir", "truth_path", "extension_dir", "landing", "events_folder"):
            out[name] = str(getattr(self, name))
        out["warehouse_catalog"] = redact(self.warehouse_catalog)
        return out


    def label_rules(self) -> dict[str, int]:
        """Each domain and its abandon threshold in ms (music first): the one reading of the label's settings."""
        return {"music": self.label_skip_threshold_ms, **parse_domain_rules(self.label_domain_abandon_ms)}

    @property
    def domains(self) -> tuple[str, ...]:
        """The domains items may belong to: music, then those of ``label_domain_abandon_ms``."""
        return tuple(self.label_rules())

    def label_params(self) -> dict[str, list]:
        """The label's ``$`` parameters of the SQL (sql/features/play_macros.sql, fx_abandon_ms): the domains and
        their thresholds, in the same order."""
        rules = self.label_rules()
        return {"label_domains": list(rules), "label_abandon_ms": list(rules.values())}


DOMAIN = re.compile(r"[a-z][a-z0-9_]{0,31}")


def parse_domain_rules(spec: str) -> dict[str, int]:
    """``"podcast=120000,video=15000"`` as {domain: ms}; ValueError naming what is wrong."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, ms = part.partition("=")
        name = name.strip()
        if not sep or not DOMAIN.fullmatch(name) or not ms.strip().isdigit():
            raise ValueError(f"{part!r} is not domain=milliseconds (a lower-case name, a whole number)")
        if name == "music" or name in out:
            raise ValueError(f"{name!r} given twice (music's threshold is label_skip_threshold_ms)")
        out[name] = int(ms)
    return out


def redact(conninfo: str) -> str:
    """A PostgreSQL connection string without its password (URL or libpq keywords)."""
    conninfo = re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", conninfo)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", conninfo)


def _to_plain(value: Any) -> Any:
    if isinstance(value, (Path, dt.date)):
        return str(value)
    return value


class ConfigError(ValueError):
    """A setting out of its type or range: one line naming the variable (or field) and what it accepts."""


# What each number may be, inclusive (None: unbounded on that side); checked whenever the configuration is read.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "label_skip_threshold_ms": (0, None), "split_test_days": (1, None), "split_valid_days": (1, None),
    "split_min_test_rows": (0, None), "split_min_valid_rows": (0, None), "train_window_days": (1, None), "train_chunk_rows": (1024, None),
    "feature_smoothing": (0, None), "feature_prior": (0, 1), "history_len": (1, 10_000), "session_lookback_hours": (1, None), "text_batch_size": (1, None),
    "gate_tolerance": (0, 1), "gate_min_test_rows": (0, None), "domain_models_min_rows": (0, None), "train_epochs": (1, None), "warm_start_epochs": (1, None),
    "retrain_full_weekday": (0, 6), "tune_trials": (1, None), "tune_timeout_s": (1, None), "shap_sample": (1, None),
    "shap_background": (1, None), "shap_night_sample": (0, None), "active_days": (1, None), "candidates_k": (0, None),
    "candidates_fresh_days": (0, None), "rotation_k": (0, None), "scoring_batch_rows": (1, None), "nightly_shards": (1, 4096), "nightly_workers": (1, 1024),
    "risk_threshold": (0, 1), "row_count_min_ratio": (0, None), "row_count_max_ratio": (0, None), "profile_min_listeners": (1, None),
    "guard_backtest_nights": (0, None), "guard_nights": (1, None), "guard_new_days": (0, None),
    "app_port": (1, 65535), "app_cache_ttl_s": (0, None), "serve_port": (1, 65535), "serve_max_batch": (1, None),
    "serve_reload_s": (0, None), "serve_threads": (1, 1024), "serve_workers": (1, 1024), "serve_worker_healthcheck_s": (1, None),
    "serve_nights_in_memory": (1, None), "serve_history_workers": (1, 1024), "serve_history_queue": (0, None),
    "serve_max_events": (1, None), "serve_live_plays_per_user": (1, None), "serve_live_max_plays": (0, None),
    "serve_live_max_mb": (0, None), "session_gap_minutes": (1, None), "maintain_orphan_age_hours": (0, None),
    "maintain_keep_snapshots_days": (0, None), "ingest_max_future_hours": (0, None), "seed": (0, 2**32 - 1),
    "world_users": (1, None), "world_tracks": (1, None), "world_days": (1, None), "world_events_per_user_day": (0, None),
    "warehouse_timeout_s": (1, None), "duckdb_threads": (1, 1024), "sql_timeout_s": (0.001, None),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MEMORY = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)


def _setting(name: str, from_env: bool) -> str:
    return ENV_PREFIX + name.upper() if from_env else name


def check(cfg: "Config", from_env: frozenset[str] = frozenset()) -> None:
    """Raise :class:`ConfigError` for the first value out of its range (``from_env``: the fields set by variables)."""
    for f in fields(cfg):
        value, where = getattr(cfg, f.name), _setting(f.name, f.name in from_env)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}={value}: must be a finite number")
        if f.name in RANGES and value is not None and not isinstance(value, bool):
            lo, hi = RANGES[f.name]
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                accepts = (f"from {lo} to {hi}" if lo is not None and hi is not None
                           else f"at least {lo}" if lo is not None else f"at most {hi}")
                raise ConfigError(f"{where}={value}: must be {accepts}")
    if cfg.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(f"{_setting('log_level', 'log_level' in from_env)}={cfg.log_level}: must be one of {', '.join(LOG_LEVELS)}")
    if not MEMORY.fullmatch(cfg.duckdb_memory_limit.strip()):
        raise ConfigError(f"{_setting('duckdb_memory_limit', 'duckdb_memory_limit' in from_env)}={cfg.duckdb_memory_limit}: "
                          "must be a size such as 4GB, 512MB or 2GiB")
    try:
        parse_domain_rules(cfg.label_domain_abandon_ms)
    except ValueError as exc:
        raise ConfigError(f"{_setting('label_domain_abandon_ms', 'label_domain_abandon_ms' in from_env)}="
                          f"{cfg.label_domain_abandon_ms!r}: {exc}") from None
    if not cfg.serve_host.strip():
        raise ConfigError(f"{_setting('serve_host', 'serve_host' in from_env)} is empty: give a host to listen on, e.g. 127.0.0.1")


def _parse(raw: str, typ: Any, name: str) -> Any:
    """Turn an environment string into the field's type, with a clear error."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):  # `X | None`: parse as X, "none" as None
        if raw.strip().lower() == "none":
            return None
        typ = next(a for a in typing.get_args(typ) if a is not type(None))
    try:
        if typ is Path:
            return Path(raw).expanduser().resolve()
        if typ is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if typ is dt.date:
            return dt.date.fromisoformat(raw)
        return typ(raw.strip()) if typ in (int, float) else typ(raw)
    except ValueError as exc:
        what = {int: "a whole number", float: "a number", dt.date: "a date (YYYY-MM-DD)", bool: "true or false"}.get(typ, typ.__name__)
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not {what}") from None


def load_config(**overrides: Any) -> Config:
    """Defaults, then ``SKIPIFY_*`` environment variables, then explicit overrides; every value checked
    against its type and range (:data:`RANGES`).

    Args:
        **overrides: field values that win over the environment (used by tests and the CLI).

    Returns:
        The frozen effective configuration.

    Raises:
        ConfigError: a value that is not of its type or out of its range, named as it was set.
    """
    hints = get_type_hints(Config)
    values: dict[str, Any] = {}
    for f in fields(Config):
        env = os.environ.get(ENV_PREFIX + f.name.upper())
        if env is not None and env != "":
            values[f.name] = _parse(env, hints[f.name], f.name)
    from_env = frozenset(values) - set(overrides)
    values.update(overrides)
    unknown = set(values) - {f.name for f in fields(Config)}
    if unknown:
        raise TypeError(f"unknown configuration fields: {sorted(unknown)}")
    cfg = Config(**values)
    check(cfg, from_env)
    return dataclasses.replace(cfg, home=Path(cfg.home).resolve())


def get_logger(name: str = "skipify") -> logging.Logger:
    """The package logger: timestamps to stderr, level from SKIPIFY_LOG_LEVEL."""
    logger = logging.getLogger(name)
    root = logging.getLogger("skipify")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)
        level = os.environ.get(ENV_PREFIX + "LOG_LEVEL", "INFO").strip().upper()
        root.setLevel(level if level in LOG_LEVELS else "INFO")  # a bad value is named when the configuration is read
        root.propagate = False
    return logger


logger = get_logger()


def cutoff_of(day: dt.date) -> dt.datetime:
    """The point-in-time cut-off of ``day``: its start, 00:00 UTC. Features, scores and predictions as of
    ``day`` read only what happened before it (the one place this is computed)."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)
