"""The feature snapshot behind the prediction API and the nightly scores: feature rows for any
(user, track, context) in microseconds, equal to the training SQL's rows.

    snap = Snapshot.load(as_of, cfg)          # reads the warehouse once, then never again
    rows, flags = snap.rows(requests)         # requests: user_id, track_id (+ context columns)

Training rows come from the point-in-time SQL of ``sql/features/`` (one pass over the whole
history per call). A server cannot afford that per request, so at load time the history
before the cut-off is folded into small tables (``sql/serving/``): per listener and per track the
history features exactly as a row on the cut-off's day sees them, per (listener, track / artist /
genre) the plays, smoothed dislike rate and last day, the listener profiles, the catalogue and each
listener's habitual context. A request then costs a few dictionary and binary-search lookups.

What depends on the request itself is computed here: the day-relative features (days since the
first play / the last play of the pair, tenure, age, years since release) from the request's
``ts``, and the context features. A request on the cut-off's day gets exactly the SQL's row
(tests/api/test_serving.py compares every column with ``features.scoring_rows``); a request on a
later day sees the history as of the snapshot with day distances counted to its own day.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from skipify.config import Config, load_config, logger
from skipify.warehouse import connect, create_temp, run_sql

CONTEXT = ("platform", "context_type", "shuffle", "reason_start")
SESSION_NULLS = ("s_dislike_share_before", "s_prev_dislike", "s_prev_early_skip", "s_minutes_since_prev")
REQUEST_SCHEMA = {
    "user_id": pl.String, "track_id": pl.String, "ts": pl.Datetime("us", "UTC"), "hour": pl.Int64, "platform": pl.String,
    "context_type": pl.String, "shuffle": pl.Boolean, "reason_start": pl.String, "session_position": pl.Int64,
}
LEVELS = {"track": ("track_id", "ut"), "artist": ("t_artist", "ua"), "genre": ("t_genre", "ug")}


def request_frame(items: list[dict] | pl.DataFrame) -> pl.DataFrame:
    """Requests (dicts, or a frame with some of the columns) as a frame of REQUEST_SCHEMA; a missing
    key or column is null: the default applies."""
    if isinstance(items, pl.DataFrame):
        return items.select([(pl.col(c) if c in items.columns else pl.lit(None)).cast(t).alias(c) for c, t in REQUEST_SCHEMA.items()])
    return pl.DataFrame({c: [item.get(c) for item in items] for c in REQUEST_SCHEMA}, schema=REQUEST_SCHEMA)


class _Index:
    """Row positions of a key column; row 0 is the table's "no such key" row."""

    def __init__(self, keys: pl.Series):
        values = keys.to_list()
        self.rows = {k: i for i, k in enumerate(values) if k is not None}

    def __call__(self, ids: list) -> np.ndarray:
        get = self.rows.get
        return np.fromiter((get(i, 0) for i in ids), dtype=np.int64, count=len(ids))


def _plain_ints(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB's HUGEINT sums arrive as Decimal(38, 0): counts, held as Int64 (faster to convert to floats)."""
    return frame.with_columns([pl.col(c).cast(pl.Int64) for c, t in frame.schema.items() if isinstance(t, pl.Decimal) and t.scale == 0])


def _with_null_row(frame: pl.DataFrame, **fill) -> pl.DataFrame:
    """Prepend a row of nulls (the "unknown" row; ``fill`` sets some of its columns)."""
    null = pl.DataFrame({c: [fill.get(c)] for c in frame.columns}, schema=frame.schema)
    return pl.concat([null, frame])


@dataclass
class _Pairs:
    """A listener's history with one kind of key, as sorted int64 codes user * width + key."""

    codes: np.ndarray
    frame: pl.DataFrame  # row 0: never played; row i + 1 belongs to codes[i]
    keys: dict[str, int]
    width: int

    @classmethod
    def build(cls, rows: pl.DataFrame, users: dict[str, int], prefix: str) -> "_Pairs":
        known = rows.filter(pl.col("user_id").is_not_null())
        keys = {k: i for i, k in enumerate(known["key"].unique().sort().to_list())}
        width = len(keys) + 1
        u = np.fromiter((users[x] for x in known["user_id"].to_list()), dtype=np.int64, count=known.height)
        k = np.fromiter((keys[x] for x in known["key"].to_list()), dtype=np.int64, count=known.height)
        codes = u * width + k
        order = np.argsort(codes, kind="stable")
        cols = {"plays": f"{prefix}_replays" if prefix == "ut" else f"{prefix}_plays",
                "dislike_rate": f"{prefix}_dislike_rate", "last_day": f"{prefix}_last_day"}
        frame = pl.concat([rows.filter(pl.col("user_id").is_null()), known[order]]).select(
            [pl.col(a).alias(b) for a, b in cols.items()])
        return cls(codes[order], frame, keys, width)

    def lookup(self, user_rows: np.ndarray, keys: list[str]) -> pl.DataFrame:
        k = np.fromiter((self.keys.get(x, -1) for x in keys), dtype=np.int64, count=len(keys))
        code = user_rows * self.width + k
        pos = np.searchsorted(self.codes, code)
        pos = np.minimum(pos, max(len(self.codes) - 1, 0))
        hit = (user_rows >= 0) & (k >= 0) & (len(self.codes) > 0)
        if len(self.codes):
            hit &= self.codes[pos] == code
        return self.frame[np.where(hit, pos + 1, 0)]


@dataclass
class Snapshot:
    """Everything the API needs to build feature rows as of one cut-off, in memory."""

    as_of: dt.date
    user_history: pl.DataFrame  # row 0: a listener without history
    track_history: pl.DataFrame  # row 0: a track without history
    profiles: pl.DataFrame  # row 0: an unknown listener
    catalogue: pl.DataFrame  # row 0: an unknown track (artist and genre '?')
    habits: pl.DataFrame  # row 0: no habit (hour 12, no context)
    pairs: dict[str, _Pairs]
    idx: dict[str, _Index]
    user_codes: dict[str, int]  # listener -> code in the pair tables
    seconds: float = 0.0

    @property
    def cutoff(self) -> dt.datetime:
        return dt.datetime.combine(self.as_of, dt.time(), dt.UTC)

    @classmethod
    def load(cls, as_of: dt.date, cfg: Config | None = None) -> "Snapshot":
        """Fold the history before ``as_of`` (00:00 UTC) into lookup tables; the warehouse is closed after."""
        from skipify.features import prepare_history

        cfg = cfg or load_config()
        t0 = time.perf_counter()
        cutoff = dt.datetime.combine(as_of, dt.time(), dt.UTC)
        params = {"cutoff": cutoff, "day": (as_of - dt.date(1970, 1, 1)).days, "smoothing": cfg.feature_smoothing,
                  "active_days": cfg.active_days}
        con = connect(cfg, read_only=True)
        try:
            plays = prepare_history(con, cfg, cutoff)
            create_temp(con, "serving_prior", "serving/prior", params)
            frames = {name: run_sql(con, f"serving/{name}", params).pl()
                      for name in ("user_history", "track_history", "pair_history", "users", "tracks")}
            habits = run_sql(con, "features/habits", params).pl()
        finally:
            con.close()
        frames = {name: _plain_ints(f) for name, f in frames.items()}
        user_history, track_history = frames["user_history"], frames["track_history"]
        profiles = _with_null_row(frames["users"])
        catalogue = _with_null_row(frames["tracks"], t_artist="?", t_genre="?")
        habits = _with_null_row(habits, hour=12)
        ids = sorted(set(user_history["user_id"].drop_nulls().to_list()) | set(profiles["user_id"].drop_nulls().to_list()))
        user_codes = {u: i for i, u in enumerate(ids)}
        pair_rows = frames["pair_history"]
        pairs = {level: _Pairs.build(pair_rows.filter(pl.col("level") == level), user_codes, prefix)
                 for level, (_, prefix) in LEVELS.items()}
        idx = {"user_history": _Index(user_history["user_id"]), "track_history": _Index(track_history["track_id"]),
               "profiles": _Index(profiles["user_id"]), "catalogue": _Index(catalogue["track_id"]),
               "habits": _Index(habits["user_id"])}
        snap = cls(as_of, user_history.drop("user_id"), track_history.drop("track_id"), profiles.drop("user_id"),
                   catalogue.drop("track_id"), habits.drop("user_id"), pairs, idx, user_codes)
        snap.seconds = time.perf_counter() - t0
        logger.info("serving snapshot as of %s: %s plays folded into %s listeners, %s tracks, %s listener-track pairs (%.1fs)",
                    as_of, f"{plays:,}", f"{user_history.height - 1:,}", f"{track_history.height - 1:,}",
                    f"{len(pairs['track'].codes):,}", snap.seconds)
        return snap

    def context(self, requests: pl.DataFrame) -> pl.DataFrame:
        """The requests (REQUEST_SCHEMA) with every context column filled: what a request leaves out
        is the listener's habit, as the nightly probes use it (features/habits.sql); ``ts`` is the
        cut-off's day at the given or habitual hour (12 without a habit)."""
        habit = self.habits[self.idx["habits"](requests["user_id"].to_list())]
        req = pl.concat([requests, habit.rename(lambda c: f"habit_{c}")], how="horizontal")
        hour = pl.coalesce("hour", "habit_hour").cast(pl.Int64)
        return req.select(
            "user_id", "track_id",
            *[pl.coalesce(c, f"habit_{c}").alias(c) for c in CONTEXT],
            pl.coalesce(pl.col("ts").dt.convert_time_zone("UTC"), pl.lit(self.cutoff) + pl.duration(hours=hour)).alias("ts"),
            pl.col("session_position").fill_null(1).alias("session_position"),
        )

    def rows(self, requests: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Feature rows (the columns of features.scoring_rows but probe_id) and cold-start flags.

        Args:
            requests: a frame of REQUEST_SCHEMA (``request_frame``); a null context value takes the
                default (``context``).

        Returns:
            (rows, flags): flags has user_new / track_new (no play before the cut-off) and
            user_unknown / track_unknown (not in raw.users / raw.tracks).
        """
        req = self.context(requests)
        users, tracks = req["user_id"].to_list(), req["track_id"].to_list()
        uh, th = self.idx["user_history"](users), self.idx["track_history"](tracks)
        up, tc = self.idx["profiles"](users), self.idx["catalogue"](tracks)
        catalogue = self.catalogue[tc]
        codes = np.fromiter((self.user_codes.get(u, -1) for u in users), dtype=np.int64, count=len(users))
        keyed = {"track_id": tracks, "t_artist": catalogue["t_artist"].to_list(), "t_genre": catalogue["t_genre"].to_list()}
        pairs = [self.pairs[level].lookup(codes, keyed[col]) for level, (col, _) in LEVELS.items()]
        base = pl.concat([req, self.user_history[uh], self.profiles[up], self.track_history[th], catalogue, *pairs],
                         how="horizontal")
        day = (pl.col("ts").dt.epoch("d")).cast(pl.Int64)
        year = pl.col("ts").dt.year()
        rows = base.with_columns(
            (day - pl.col("u_first_day").fill_null(day)).alias("u_days_since_first_play"),
            (pl.col("ts").dt.date() - pl.col("signup_date")).dt.total_days().alias("u_tenure_days"),
            (year - pl.col("birth_year")).alias("u_age"),
            (day - pl.col("t_first_day").fill_null(day)).alias("t_days_since_first_play"),
            (year - pl.col("release_year")).alias("t_years_since_release"),
            *[(day - pl.col(f"{p}_last_day")).alias(f"{p}_days_since_last") for _, p in LEVELS.values()],
            pl.col("session_position").alias("s_position"),
            pl.lit(0).alias("s_plays_before"),
            pl.lit(0).alias("s_dislikes_before"),
            *[pl.lit(None, pl.Float64).alias(c) for c in SESSION_NULLS],
            pl.col("ts").dt.hour().cast(pl.Int64).alias("c_hour"),
            pl.col("ts").dt.weekday().cast(pl.Int64).alias("c_weekday"),
            pl.col("platform").alias("c_platform"),
            pl.col("shuffle").cast(pl.Int32).alias("c_shuffle"),
            pl.col("context_type").alias("c_context_type"),
            pl.col("reason_start").alias("c_reason_start"),
        ).drop("u_first_day", "t_first_day", "signup_date", "birth_year", "release_year", "session_position",
               *CONTEXT, *[f"{p}_last_day" for _, p in LEVELS.values()])
        flags = pl.DataFrame({"user_new": uh == 0, "track_new": th == 0, "user_unknown": up == 0, "track_unknown": tc == 0})
        return rows.rechunk(), flags
