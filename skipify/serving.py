"""The feature snapshot behind the prediction API and the nightly scores: feature rows for any
(user, track, context) in microseconds, the same definition as the training rows.

    snap = Snapshot.load(as_of, cfg)          # reads the warehouse once, then never again
    rows, flags = snap.rows(requests)         # requests: user_id, track_id (+ context columns)

At load time every per-key family of ``sql/features/families/`` runs once, as of the cut-off's day,
over every key the snapshot can be asked for (``features/fx_serving_keys.sql``: each played
listener-track pair, each listener, each track, and a row of unknown keys): the same SQL that builds
the training rows and the scoring rows. A request then costs a binary search per family. The
per-row families (the session and context) run on the request batch itself, in an in-memory DuckDB.

A request is a probe as of the cut-off: its history, day distances included, is that of the
cut-off's day, whatever its ``ts``; its ``ts`` sets the context (hour, weekday). Its rows equal
``skipify.features.scoring_rows`` column for column (tests/api/test_serving.py).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from skipify.catalogue import Definition, catalogue, families
from skipify.config import Config, cutoff_of, load_config, logger
from skipify.events import LIVE_SCHEMA
from skipify.features import check_built, day_number, feature_params, load_macros, state_inputs
from skipify.lookup import SMALL_FRAME, SortedIds
from skipify.sequences import SEQUENCE_COLUMNS, SEQUENCES, PlayLog, attach, reach, read_log
from skipify.warehouse import connect, create_temp, read_sql, run_script, run_sql, used_params

CONTEXT = ("platform", "context_type", "shuffle", "reason_start")
REQUEST_SCHEMA = {
    "user_id": pl.String, "track_id": pl.String, "ts": pl.Datetime("us", "UTC"), "hour": pl.Int64, "platform": pl.String,
    "context_type": pl.String, "shuffle": pl.Boolean, "reason_start": pl.String, "session_position": pl.Int64,
    "session_id": pl.String,
}
# what a per-row family reads of a request (the columns of features/fx_probes.sql)
PROBE_SCHEMA = {
    "play_id": pl.UInt64, "probe_id": pl.Int64, "is_event": pl.Boolean, "user_id": pl.String, "track_id": pl.String,
    "ts": pl.Datetime("us", "UTC"), "day": pl.Int32, "label": pl.Int32, "early_skip": pl.Int32, "session_id": pl.String,
    "session_position": pl.Int32, "context_type": pl.String, "platform": pl.String, "shuffle": pl.Boolean,
    "reason_start": pl.String, "artist": pl.String, "genre": pl.String, "domain": pl.String,
}

# what a per-row family reads of a probe without a session besides its play_id (sql/features/families/40: a row
# alone in its session's window; a probe has no outcome): the probes alike in these get the same row
ALONE = ("session_position", "ts", "day", "platform", "shuffle", "context_type", "reason_start", "genre")
SESSION_LOG = "session log"  # Snapshot._per_row's key for the live plays' session log


def request_frame(items: list[dict] | pl.DataFrame) -> pl.DataFrame:
    """Requests (dicts, or a frame with some of the columns) as a frame of REQUEST_SCHEMA; a missing
    key or column is null: the default applies."""
    if isinstance(items, pl.DataFrame):
        return items.select([(pl.col(c) if c in items.columns else pl.lit(None)).cast(t).alias(c) for c, t in REQUEST_SCHEMA.items()])
    return pl.DataFrame({c: [item.get(c) for item in items] for c in REQUEST_SCHEMA}, schema=REQUEST_SCHEMA)


def _plain_ints(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB's HUGEINT sums arrive as Decimal(38, 0): counts, held as Int64 (faster to convert to floats)."""
    return frame.with_columns([pl.col(c).cast(pl.Int64) for c, t in frame.schema.items() if isinstance(t, pl.Decimal) and t.scale == 0])


def _columns_of(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    """``frame.select(names)`` without a query (a select costs a single pair 0.05 ms each time)."""
    return pl.DataFrame([frame.get_column(c) for c in names])


def _session_log(plays: pl.DataFrame, ids: np.ndarray, hs_prev: pl.Series, is_live: np.ndarray) -> PlayLog:
    """The live plays as a play log: each with its ``hs_prev`` from the per-row family's rows (``ids``, ``hs_prev``;
    ``is_live``: the rows that are live plays) and its number among its listener's plays (the log's order).
    Eager: the joins and window this replaced cost a request 1-2 ms."""
    prev = hs_prev.to_list()  # UInt64 with nulls: not through floats
    prev_of = {int(ids[k]): prev[k] for k in np.flatnonzero(is_live)}
    counts: dict[str, int] = {}
    numbers = []
    for user in plays.get_column("user_id").to_list():
        counts[user] = counts.get(user, 0) + 1
        numbers.append(counts[user])
    return PlayLog.from_plays(plays.hstack([
        pl.Series("hs_prev", [prev_of[i] for i in plays.get_column("play_id").to_list()], dtype=pl.UInt64),
        pl.Series("n", numbers, dtype=pl.Int64)]))


def _take(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
    """``frame[rows]``; one row is a slice (a gather from a large frame costs a single pair 0.1 ms a family)."""
    return frame.slice(int(rows[0]), 1) if len(rows) == 1 else frame[rows]


def _with_null_row(frame: pl.DataFrame, **fill) -> pl.DataFrame:
    """Prepend a row of nulls (the "unknown" row; ``fill`` sets some of its columns)."""
    null = pl.DataFrame({c: [fill.get(c)] for c in frame.columns}, schema=frame.schema)
    return pl.concat([null, frame])


class KeyIndex:
    """Row positions of a family's keys: each key column's values coded as integers (their position among
    the column's sorted distinct values), a key as one int64 (mixed radix), sorted for binary search. Row 0 of
    the family's frame is its row for unknown keys (a key column NULL)."""

    def __init__(self, keys: pl.DataFrame):
        self._coded({c: SortedIds.of(keys[c]) for c in keys.columns})
        if float(np.prod(np.array(self.widths, dtype=np.float64))) >= 2**62:
            raise ValueError(f"too many distinct keys to code in one int64: {dict(zip(keys.columns, self.widths))}")
        # the frame's own keys coded by their position in the sorted values: a hash join with them (sorting the
        # strings again to rank them cost 3.5 s for the 6.9M listener-track pairs of 10M plays)
        code, known = self._encode(keys)
        self.rows = np.flatnonzero(known)  # rows of the frame with a whole key
        order = np.argsort(code[self.rows], kind="stable")
        self.rows, self.sorted = self.rows[order], code[self.rows][order]

    @classmethod
    def of(cls, ids: dict[str, SortedIds], rows: np.ndarray, sorted_codes: np.ndarray) -> "KeyIndex":
        """An index from its parts (skipify.snapshots: each key column's values, the rows and codes in code order)."""
        index = cls.__new__(cls)
        index._coded(ids)
        index.rows, index.sorted = rows, sorted_codes
        return index

    def _coded(self, ids: dict[str, SortedIds]) -> None:
        self.ids = ids
        self.widths = [len(u) + 1 for u in ids.values()]

    def _combine(self, parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        code, known = np.zeros(len(parts[0]), dtype=np.int64), np.ones(len(parts[0]), dtype=bool)
        for k, width in zip(parts, self.widths):
            known &= k >= 0
            code = code * width + np.maximum(k, 0)
        return code, known

    def _encode(self, keys: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._combine([self.ids[c].positions(keys[c]) for c in keys.columns])

    def __call__(self, keys: pl.DataFrame) -> np.ndarray:
        """Frame rows for ``keys`` (same columns); 0 where the snapshot has no row for the key."""
        code, known = self._encode(keys)
        if not len(self.sorted):
            return np.zeros(keys.height, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted, code), len(self.sorted) - 1)
        hit = known & (self.sorted[pos] == code)
        return np.where(hit, self.rows[pos], 0)


@dataclass
class FamilyRows:
    """One per-key family's rows as of the cut-off: row 0 is its row for unknown keys."""

    definition: Definition
    frame: pl.DataFrame  # feature columns only
    keys: KeyIndex
    reach: pl.DataFrame | None = None  # a sequence family's anchors with their key (the play log reads them)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, fam: Definition, params: dict) -> "FamilyRows":
        rows = run_sql(con, fam.sql, params).pl()
        grain = list(fam.grain)
        # a row with a NULL key has no history: the row of any key the snapshot does not hold
        unknown = pl.any_horizontal([pl.col(c).is_null() for c in grain])
        if not rows.select(unknown.any()).item():
            raise ValueError(f"{fam.sql}: no row for unknown keys (fx_serving_keys.sql holds one)")
        rows = pl.concat([rows.filter(unknown).head(1), rows.filter(~unknown)])
        anchors = reach(rows) if SEQUENCES["listening"].anchor in rows.columns else None
        return cls(fam, _plain_ints(rows.drop(*grain, "day")), KeyIndex(rows.select(grain)), anchors)


@dataclass
class Snapshot:
    """Everything the API needs to build feature rows as of one cut-off, in memory."""

    as_of: dt.date
    per_key: list[FamilyRows]
    per_row: list[Definition]
    tracks: pl.DataFrame  # track_id, artist, genre, domain of every catalogued track
    habits: pl.DataFrame  # row 0: no habit (hour 12, no context)
    habit_keys: KeyIndex
    played_users: SortedIds
    played_tracks: SortedIds
    known_users: SortedIds
    known_tracks: SortedIds
    params: dict  # the settings the family SQL reads ($history_len ...)
    log: PlayLog | None = None  # the plays the listening histories reach (None: no sequence family loaded)
    seconds: float = 0.0

    def __post_init__(self):
        self._db: duckdb.DuckDBPyConnection | None = None  # runs the per-row families on request batches
        self._db_lock = threading.Lock()
        self._local = threading.local()  # per thread: a cursor with the per-row families prepared
        self._sql = {f.name: read_sql(f.sql) for f in self.per_row}  # read once, not per request
        self._one_sql = {name: _one_probe(text) for name, text in self._sql.items()}
        self._small_schema: dict[str, pl.Schema] = {}  # each per-row family's columns, from its first small result
        self._live_sql = read_sql("serving/live_plays")
        # the expressions every request's probes take, built once (a literal costs a Series each time)
        probe_columns = [
            pl.int_range(pl.len(), dtype=pl.UInt64).alias("play_id"), pl.int_range(pl.len(), dtype=pl.Int64).alias("probe_id"),
            pl.lit(False).alias("is_event"), pl.lit(day_number(self.as_of)).alias("day"),
            pl.lit(None).alias("label"), pl.lit(None).alias("early_skip"),
            pl.col("artist").fill_null("?"), pl.col("genre").fill_null("?"), pl.col("domain").fill_null("music"),
        ]
        made = {e.meta.output_name(): e for e in probe_columns}
        self._probe_columns = [made.get(c, pl.col(c)).cast(t).alias(c) for c, t in PROBE_SCHEMA.items()]  # one query
        self._habit_names = [f"habit_{c}" for c in self.habits.columns]
        hour = pl.coalesce("hour", "habit_hour").cast(pl.Int64)
        self._context_columns = [
            "user_id", "track_id",
            *[pl.coalesce(c, f"habit_{c}").alias(c) for c in CONTEXT],
            pl.coalesce(pl.col("ts").dt.convert_time_zone("UTC"), pl.lit(self.cutoff) + pl.duration(hours=hour)).alias("ts"),
            # without a session a probe is its session's first play; in one, its position follows the plays before it
            pl.when(pl.col("session_id").is_null()).then(pl.col("session_position").fill_null(1))
            .otherwise(pl.col("session_position")).alias("session_position"),
            "session_id",
        ]
        self._catalogue: pl.DataFrame | None = None  # the catalogue's columns but the id (rows as known_tracks), on first use

    def _database(self) -> duckdb.DuckDBPyConnection:
        """The in-memory DuckDB of the per-row families, made on first use (threads take cursors of it)."""
        with self._db_lock:
            if self._db is None:
                db = duckdb.connect()
                db.execute("SET TimeZone = 'UTC'")
                # request-sized work: one thread plans and runs a one-row query in about two thirds of the time
                # (concurrency comes from requests, each on its own cursor)
                db.execute("SET threads = 1")
                db.register("live_events", _no_live_plays())
                db.register("live_tracks", self.tracks.to_arrow())
                run_script(db, "serving/live_warehouse")
                db.unregister("live_events")
                db.unregister("live_tracks")
                self._db = db
            return self._db

    def _cursor(self, small: bool = False) -> duckdb.DuckDBPyConnection:
        """This thread's cursor of the per-row families' DuckDB (made once, not per request), with
        fx_earlier an empty table: a request brings no earlier plays of its session. (Prepared
        statements were tried: DuckDB plans them against the rows registered at PREPARE time, and a
        plan made over an empty fx_rows_out stays empty.)

        ``small``: the cursor of a request's few probes, its optimizer off: for one row the optimizer's passes cost
        0.6 of the query's 2.6 ms and find nothing to gain (a night's batches keep it)."""
        name = "small_cursor" if small else "cursor"
        cur = getattr(self._local, name, None)
        if cur is None:
            cur = self._database().cursor()
            # a table, not a registered frame: DuckDB scans an empty table faster than an empty Arrow table
            cur.register("no_plays", pl.DataFrame(schema=PROBE_SCHEMA).to_arrow())
            cur.execute("CREATE TEMP TABLE fx_earlier AS SELECT * FROM no_plays")
            cur.unregister("no_plays")
            cur.register("live_events", _no_live_plays())
            load_macros(cur)  # fx_events over the live plays (live_rows)
            if small:
                cur.execute("PRAGMA disable_optimizer")
            setattr(self._local, name, cur)
        return cur

    @property
    def cutoff(self) -> dt.datetime:
        return cutoff_of(self.as_of)

    @classmethod
    def load(cls, as_of: dt.date, cfg: Config | None = None, columns: Iterable[str] | None = None) -> "Snapshot":
        """Every family's rows as of ``as_of`` (00:00 UTC) for every key; the warehouse is closed after.

        ``columns``: the features the served models read; a family with none of them is not loaded
        (default: every family).

        Raises:
            ValueError: the features are not built up to ``as_of`` (skipify.features.check_built).
        """
        cfg = cfg or load_config()
        t0 = time.perf_counter()
        cutoff = cutoff_of(as_of)
        params = {**feature_params(cfg, cutoff), "day": day_number(as_of), "active_days": cfg.active_days}
        con = connect(cfg, read_only=True)
        try:
            check_built(con, as_of)
            load_macros(con)
            keys = create_temp(con, "fx_rows_out", "features/fx_serving_keys", params)
            state_inputs(con)
            create_temp(con, "fx_prior", "features/fx_prior", params)
            per_key = [FamilyRows.load(con, f, params) for f in _needed(columns) if not f.per_row]
            log = None
            if any(a in _columns(f) for f in _needed(columns) for a in SEQUENCE_COLUMNS):
                anchors = next((f.reach for f in per_key if f.reach is not None), None)
                log = read_log(con, anchors if anchors is not None else reach(None), pl.DataFrame(schema={"play_id": pl.UInt64}),
                               cfg.history_len)
            kinds = run_sql(con, "features/serving_kinds").pl()
            habits = run_sql(con, "features/habits", params).pl()
        finally:
            con.close()
        pairs = kinds.filter(pl.col("kind") == "pair")
        # sorted by id: a track's row is its position among known_tracks (_catalogue_rows)
        tracks = kinds.filter(pl.col("kind") == "track").select("track_id", "artist", "genre", "domain").sort("track_id")
        habits = _with_null_row(habits, hour=12)
        snap = cls(as_of, per_key, [f for f in _needed(columns) if f.per_row], tracks, habits.drop("user_id"),
                   KeyIndex(habits.select("user_id")), SortedIds.of(pairs["user_id"]), SortedIds.of(pairs["track_id"]),
                   SortedIds.of(kinds.filter(pl.col("kind") == "user")["user_id"]), SortedIds.of(tracks["track_id"]),
                   params, log)
        snap.seconds = time.perf_counter() - t0
        logger.info("serving snapshot as of %s: %s keys, %s listeners and %s tracks with plays, %s listener-track pairs (%.1fs)",
                    as_of, f"{keys:,}", f"{len(snap.played_users):,}", f"{len(snap.played_tracks):,}",
                    f"{pairs.height:,}", snap.seconds)
        return snap

    def context(self, requests: pl.DataFrame) -> pl.DataFrame:
        """The requests (REQUEST_SCHEMA) with every context column filled: what a request leaves out
        is the listener's habit, as the nightly probes use it (features/habits.sql); ``ts`` is the
        cut-off's day at the given or habitual hour (12 without a habit)."""
        habit = _take(self.habits, self.habit_keys(_columns_of(requests, ("user_id",))))
        habit.columns = self._habit_names  # a frame of its own (the gather): renamed in place
        return requests.hstack(habit).select(self._context_columns)

    def probes(self, requests: pl.DataFrame) -> pl.DataFrame:
        """The requests as the rows the families read (features/fx_probes.sql's columns): as of the
        cut-off's day, the track's artist and genre from the catalogue ('?' when it has none), its domain
        (music when the catalogue does not know it)."""
        req = self.context(requests)
        if req.height <= SMALL_FRAME:  # a request's few tracks: a binary search each, not a join
            req = req.hstack(self._catalogue_rows(req["track_id"]))
        else:
            req = req.join(self.tracks, on="track_id", how="left", maintain_order="left")
        return req.select(self._probe_columns)

    def _catalogue_rows(self, track_ids: pl.Series) -> pl.DataFrame:
        """Each track's artist, genre and domain (nulls: not catalogued), by a binary search among known_tracks (the
        catalogue's ids, sorted, as the catalogue's rows are)."""
        if self._catalogue is None:
            if not self.known_tracks.values.equals(self.tracks.get_column("track_id"), check_names=False):
                raise ValueError("the snapshot's known tracks are not its catalogue's tracks, in order")
            self._catalogue = self.tracks.drop("track_id")
        pos = self.known_tracks.positions(track_ids)
        if len(pos) == 1 and pos[0] >= 0:
            return self._catalogue.slice(int(pos[0]), 1)
        return self._catalogue[pl.Series([int(p) if p >= 0 else None for p in pos], dtype=pl.UInt32)]

    def rows(self, requests: pl.DataFrame, columns: Iterable[str] | None = None,
             live: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Feature rows (the columns of scoring_rows but probe_id) and cold-start flags.

        Args:
            requests: a frame of REQUEST_SCHEMA (``request_frame``); a null context value takes the
                default (``context``).
            columns: the features the caller reads (a model's); families without any of them are
                left out (the listening history's lists are the costly ones). Default: every family.
            live: plays since the cut-off (POST /v1/events) of the requests' sessions, as rows
                (:meth:`live_rows`): the earlier plays of a request's session (``session_id``), read by
                the per-row families exactly as a night reads a session's stored plays.

        Returns:
            (rows, flags): flags has user_new / track_new (no play before the cut-off) and
            user_unknown / track_unknown (not in raw.users / raw.tracks).
        """
        wanted = None if columns is None else set(columns)
        loaded = {f.definition.name for f in self.per_key} | {f.name for f in self.per_row}
        missing = [f.name for f in _needed(wanted) if f.name not in loaded]
        if missing:
            raise ValueError(f"the snapshot was loaded without the families {', '.join(missing)}: load it with their columns")
        probes = self.probes(requests)
        parts = {f.definition.name: _take(f.frame, f.keys(_columns_of(probes, f.definition.grain)))
                 for f in self.per_key if wanted is None or wanted & set(_columns(f.definition))}
        per_row = [f for f in self.per_row if wanted is None or wanted & set(_columns(f))]
        parts |= self._per_row(probes, per_row, live) if per_row else {}
        session_log = parts.pop(SESSION_LOG, None)
        rows = pl.concat([_columns_of(probes, ("user_id", "track_id", "ts")), *[parts[f.name] for f in families() if f.name in parts]],
                         how="horizontal")
        if self.log is not None:
            rows = attach(rows, self.log, self.params["history_len"], day=day_number(self.as_of), session_log=session_log)
        users, tracks = probes["user_id"], probes["track_id"]
        flags = pl.DataFrame({"user_new": ~self.played_users.has(users), "track_new": ~self.played_tracks.has(tracks),
                              "user_unknown": ~self.known_users.has(users), "track_unknown": ~self.known_tracks.has(tracks)},
                             schema=dict.fromkeys(("user_new", "track_new", "user_unknown", "track_unknown"), pl.Boolean))
        return rows.rechunk(), flags

    def _per_row(self, probes: pl.DataFrame, per_row: list[Definition], live: pl.DataFrame | None) -> dict:
        """The per-row families' columns for the probes (and, under SESSION_LOG, the live plays' session log).

        A probe without a session is alone in its session's window: its row depends on its own columns only
        (ALONE). In a large batch (a night's 900,000 probes of a shard hold some thousands of distinct values) the
        SQL runs once per distinct value and the probes take their rows by a join; a request's few probes, and the
        probes in a session, run as they are (the joins would cost a request more than they save)."""
        plays = live if live is not None and live.height else None
        if probes.height == 1 and plays is None and all(self._one_sql.values()):
            return self._per_row_one(probes, per_row)
        many = probes.height > SMALL_FRAME
        batch = [probes]
        if many:
            alone = probes.filter(pl.col("session_id").is_null())
            first = max(probes.height, int(plays["play_id"].max()) + 1 if plays is not None else 0)  # ids no other row has
            distinct = alone.unique(ALONE, maintain_order=True).with_columns(
                (pl.int_range(pl.len(), dtype=pl.UInt64) + first).alias("play_id"))
            batch = [distinct, probes.filter(pl.col("session_id").is_not_null())]
        cur = self._cursor(small=not many)
        cur.register("fx_rows_out", (pl.concat([*batch, plays]) if plays is not None else pl.concat(batch)).to_arrow())
        parts: dict = {}
        for fam in per_row:
            text = self._sql[fam.name]
            result = cur.execute(text, used_params(text, self.params))
            part = _plain_ints(result.pl()) if many else self._small_result(fam.name, result)
            if plays is not None:  # the live plays' own rows: where their sessions' earlier plays end
                ids = part.get_column("play_id").to_numpy()
                is_live = np.isin(ids, plays.get_column("play_id").to_numpy())
                if "hs_prev" in part.columns:
                    parts[SESSION_LOG] = _session_log(plays, ids, part.get_column("hs_prev"), is_live)
                part = part[np.flatnonzero(~is_live)]
            if many:  # the distinct rows' play_ids were renumbered: theirs come back keyed by their columns
                part = part.drop("day")
                own = distinct.select("play_id", *ALONE).join(part, on="play_id").drop("play_id")
                alone_rows = alone.select("play_id", *ALONE).join(own, on=list(ALONE), how="left", nulls_equal=True,
                                                                  maintain_order="left").drop(*ALONE)
                part = pl.concat([alone_rows.select(part.columns), part.join(distinct.select("play_id"), on="play_id", how="anti")])
            parts[fam.name] = _plain_ints(part.sort("play_id").drop("play_id", *(() if many else ("day",))))
        return parts

    def _per_row_one(self, probe: pl.DataFrame, per_row: list[Definition]) -> dict:
        """``_per_row`` of one probe without live plays (a single-pair request): the same SQL, its ``fx_rows_out``
        the probe's values bound as parameters (``_one_probe``) instead of a registered Arrow table (whose scan
        costs a single pair about 1 ms)."""
        cur = self._cursor(small=True)
        values = {f"{ONE_PROBE}{c}": v for c, v in probe.row(0, named=True).items()}
        parts: dict = {}
        for fam in per_row:
            text = self._one_sql[fam.name]
            part = self._small_result(fam.name, cur.execute(text, used_params(text, {**self.params, **values})))
            part.drop_in_place("play_id")  # in place: a drop is a query of its own (0.3 ms)
            part.drop_in_place("day")
            parts[fam.name] = part
        return parts

    def _small_result(self, name: str, result: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        """A per-row family's result for a request's few rows: the first time as Polars reads DuckDB's types (counts as
        Int64), then as rows of Python values into those types (0.5 ms less than an Arrow result)."""
        schema = self._small_schema.get(name)
        if schema is None:
            part = _plain_ints(result.pl())
            self._small_schema[name] = part.schema
            return part
        return pl.DataFrame(result.fetchall(), schema=schema, orient="row")

    def live_rows(self, plays: pl.DataFrame) -> pl.DataFrame:
        """Plays as ingest types them (skipify.events.LIVE_SCHEMA) as the rows a per-row family reads
        (PROBE_SCHEMA: sql/serving/live_plays.sql, by the macros that make stored plays rows). Made once,
        when the plays arrive; :meth:`rows` reads them as ``live``."""
        cur = self._cursor()
        cur.register("live_events", plays.select(list(LIVE_SCHEMA)).to_arrow())
        try:
            plays = cur.execute(self._live_sql, used_params(self._live_sql, self.params)).pl()
        finally:
            cur.register("live_events", _no_live_plays())
        return plays.select([pl.col(c).cast(t) for c, t in PROBE_SCHEMA.items()])


ONE_PROBE = "fx_probe_"  # the parameters of _one_probe's row
_DUCKDB_TYPES = {pl.UInt64: "UBIGINT", pl.Int64: "BIGINT", pl.Int32: "INTEGER", pl.Boolean: "BOOLEAN", pl.String: "VARCHAR",
                 pl.Datetime("us", "UTC"): "TIMESTAMPTZ"}


def _one_probe(text: str) -> str | None:
    """A per-row family's SQL reading its rows (``from fx_rows_out``, once) from one row of parameters
    (``$fx_probe_<column>`` of PROBE_SCHEMA, typed as the table's columns) instead of a table; None when the
    SQL reads ``fx_rows_out`` otherwise (the family then runs on a registered table only)."""
    found = re.findall(r"\bfx_rows_out\b", re.sub(r"--[^\n]*", "", text))
    source = re.compile(r"\bfrom\s+fx_rows_out\b", re.IGNORECASE)
    if len(found) != 1 or len(source.findall(text)) != 1:
        return None
    row = ", ".join(f"${ONE_PROBE}{c}::{_DUCKDB_TYPES[t]} as {c}" for c, t in PROBE_SCHEMA.items())
    return source.sub(lambda _: f"from (select {row}) as fx_rows_out", text)


def _no_live_plays():
    """An empty live_events table (what raw.events of the API's in-memory DuckDB reads until plays come)."""
    return pl.DataFrame(schema=LIVE_SCHEMA).to_arrow()


def _needed(columns: Iterable[str] | None) -> list[Definition]:
    """The families that build any of ``columns`` (all of them: None)."""
    wanted = None if columns is None else set(columns)
    return [f for f in families() if wanted is None or wanted & set(_columns(f))]


def _columns(fam: Definition) -> list[str]:
    """The catalogued feature columns of a family."""
    return [f.name for f in catalogue().values() if f.source == fam.sql]
