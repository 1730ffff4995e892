"""The two sequences of a feature row, gathered from where they are stored: the play log.

A sequence family stores where a row's sequence **ends**, not the sequence (sql/features/families/50_, 60_):

* ``h_until`` (listening history, per listener and day): the number (``features.labels.n``) of the
  listener's last play before the day; the history is the plays numbered ``h_until``, ``h_until - 1``
  ... down to ``h_until - history_len + 1``, most recent first.
* ``hs_prev`` (session history, per row): the ``play_id`` of the previous play in the row's session;
  the history follows each play's own ``hs_prev`` back, up to ``history_len`` plays.

Two integers per row instead of three lists of up to 50 values each: at 10M plays the lists were
about 300M values written and read back, a third of the whole build. :func:`attach` turns the
anchors into the list columns the models read (track, outcome, time before the row), from a
:class:`PlayLog` of the plays they reach; the training rows, the scoring rows and the API's
snapshot all go through it, so a sequence has one definition (tests/code/test_features.py holds it
equal to the plays as ingested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from skipify.lookup import SMALL_FRAME, SortedIds


@dataclass(frozen=True)
class Sequence:
    anchor: str  # the family column it is gathered from
    columns: tuple[str, str, str]  # (track ids, outcomes, time before the row)


SEQUENCES = {
    "listening": Sequence("h_until", ("h_track_ids", "h_outcomes", "h_days_before")),
    "session": Sequence("hs_prev", ("hs_track_ids", "hs_outcomes", "hs_minutes_before")),
}
SEQUENCE_COLUMNS = tuple(c for s in SEQUENCES.values() for c in s.columns)
ANCHORS = tuple(s.anchor for s in SEQUENCES.values())
# what a play log is read from (features.labels, with each play's own hs_prev)
LOG_COLUMNS = ("play_id", "user_id", "n", "track_id", "ts", "label", "early_skip", "hs_prev")


def outcome(label: np.ndarray, early_skip: np.ndarray) -> np.ndarray:
    """0 completed, 1 early skip, 2 dislike without an early skip."""
    return np.where(early_skip == 1, 1, np.where(label == 1, 2, 0)).astype(np.uint8)


def _seconds(ts: pl.Series) -> np.ndarray:
    """Epoch seconds (with the fraction) of a UTC timestamp column."""
    return ts.dt.epoch("us").to_numpy().astype(np.float64) / 1e6


@dataclass
class PlayLog:
    """Plays in (listener, number) order: what the sequences of a set of rows reach.

    ``first``: per listener, sorted by listener, the position of their first play in the log, its number
    and the last number (a log holds a contiguous run of each listener's plays); ``prev``: the position of
    each play's previous play in its session (-1: none, or not in the log). What a request's lookups search
    (``listeners``, first's listeners as SortedIds; ``by_id``, the play ids sorted and their positions) is
    made on first use, or given (mapped from the snapshot's files: skipify.snapshots), never a dict per process.
    """

    play_id: np.ndarray  # uint64, as hash() makes them
    track: np.ndarray  # int32 codes into ``tracks``
    tracks: pa.Array  # the distinct track ids
    outcome: np.ndarray
    start: np.ndarray  # epoch seconds
    prev: np.ndarray
    first: pl.DataFrame = field(repr=False)
    listeners: SortedIds | None = field(default=None, repr=False)
    by_id: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def from_plays(cls, plays: pl.DataFrame) -> "PlayLog":
        """A log from plays with LOG_COLUMNS (any order; ``hs_prev`` null where the session has none before)."""
        if 0 < plays.height <= SMALL_FRAME:  # a live session's few plays (the API): sorted and grouped in Python
            users, numbers = plays.get_column("user_id").to_list(), plays.get_column("n").to_list()
            order = sorted(range(plays.height), key=lambda i: (users[i], numbers[i]))
            plays = pl.DataFrame([plays.get_column(c) for c in LOG_COLUMNS])[order]
            runs: dict[str, list[int]] = {}
            for pos, i in enumerate(order):  # first position, first number, last number (sorted: the last seen)
                runs.setdefault(users[i], [pos, numbers[i], numbers[i]])[2] = numbers[i]
            first = pl.DataFrame({"user_id": list(runs), **{c: [r[k] for r in runs.values()] for k, c in
                                                            enumerate(("first_pos", "first_n", "last_n"))}},
                                 schema={"user_id": pl.String, "first_pos": pl.Int64, "first_n": pl.Int64, "last_n": pl.Int64})
        else:
            plays = plays.select(LOG_COLUMNS).sort("user_id", "n")
            first = (plays.with_row_index("pos").group_by("user_id")
                     .agg(pl.col("pos").min().cast(pl.Int64).alias("first_pos"), pl.col("n").min().alias("first_n"),
                          pl.col("n").max().alias("last_n"))).with_columns(pl.col("first_n", "last_n").cast(pl.Int64))
            first = first.sort("user_id")
        log = cls(plays["play_id"].cast(pl.UInt64).to_numpy(), *_encoded(plays["track_id"]),
                  outcome(plays["label"].to_numpy(), plays["early_skip"].to_numpy()),
                  _seconds(plays["ts"]), np.zeros(0, dtype=np.int64), first)
        log.prev = log.positions(plays["hs_prev"])
        return log

    def sorted_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The play ids sorted, and each one's position in the log (``by_id``, made on first use)."""
        if self.by_id is None:
            order = np.argsort(self.play_id, kind="stable")
            self.by_id = self.play_id[order], order
        return self.by_id

    @cached_property
    def track_names(self) -> list[str]:
        """``tracks`` as Python strings (a request's lists are built from them: Arrow's take cost 0.06 ms a list)."""
        return self.tracks.to_pylist()

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """first's first_pos, first_n and last_n as arrays (views of the mapped file's columns, no copy)."""
        return tuple(self.first.get_column(c).to_numpy() for c in ("first_pos", "first_n", "last_n"))

    def sorted_listeners(self) -> SortedIds:
        """``first``'s listeners (``listeners``, made on first use)."""
        if self.listeners is None:
            self.listeners = SortedIds(self.first.get_column("user_id"))
        return self.listeners

    def positions(self, play_ids: pl.Series) -> np.ndarray:
        """Each play's position in the log (-1: null, or a play the log does not hold)."""
        out = np.full(play_ids.len(), -1, dtype=np.int64)
        if play_ids.len() <= SMALL_FRAME:  # a request's few: no expression
            known = np.array([v is not None for v in play_ids.to_list()], dtype=bool)
        else:
            known = play_ids.is_not_null().to_numpy()
        if known.any() and len(self.play_id):
            ids, order = self.sorted_ids()
            wanted = play_ids.filter(pl.Series(known)).cast(pl.UInt64).to_numpy()
            i = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
            hit = ids[i] == wanted
            out[np.flatnonzero(known)[hit]] = order[i[hit]]
        return out

    def _user_runs(self, users: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first position, first number, last number) of each row's listener; a listener the log
        does not hold gets an empty run."""
        if users.len() <= SMALL_FRAME:  # a binary search among first's listeners
            if not len(self.first):
                return tuple(np.full(users.len(), empty, dtype=np.int64) for empty in (0, 1, 0))
            at = self.sorted_listeners().positions(users)
            hit, row = at >= 0, np.maximum(at, 0)
            return tuple(np.where(hit, column[row], empty) for column, empty in zip(self._runs, (0, 1, 0)))
        found = users.to_frame("user_id").join(self.first, on="user_id", how="left", maintain_order="left")
        return (found["first_pos"].fill_null(0).to_numpy(), found["first_n"].fill_null(1).to_numpy(),
                found["last_n"].fill_null(0).to_numpy())


def _encoded(ids: pl.Series) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values) of a string column: gathering int32 codes costs a tenth of gathering strings."""
    enc = pa.compute.dictionary_encode(ids.cast(pl.String).to_arrow().cast(pa.large_string()))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int32), enc.dictionary


def _lists(offsets: np.ndarray, values: pa.Array) -> pl.Series:
    return pl.from_arrow(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values))


LIST_TYPES = (pl.List(pl.String), pl.List(pl.UInt8), pl.List(pl.Float64))


def _columns(rows: int, row: np.ndarray, pos: np.ndarray, log: PlayLog, before: np.ndarray,
             names: tuple[str, str, str]) -> list[pl.Series]:
    """Three list columns from flat (row, position in the log) pairs in row order, most recent first.

    Small frames (an API request) are built from Python lists: Arrow's and Polars' fixed cost per
    call was most of a one-row request's time. Both give the same columns (tests/code/test_features.py)."""
    if rows <= SMALL_FRAME:
        cuts = np.searchsorted(row, np.arange(rows + 1))
        tracks, outcomes, gaps = ([log.track_names[c] for c in log.track[pos].tolist()], log.outcome[pos].tolist(),
                                  before.tolist())
        return [pl.Series(name, [values[a:b] for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist())], dtype=dtype)
                for name, values, dtype in zip(names, (tracks, outcomes, gaps), LIST_TYPES)]
    counts = np.bincount(row, minlength=rows)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    track = pa.DictionaryArray.from_arrays(pa.array(log.track[pos], pa.int32()), log.tracks)
    out = [_lists(offsets, track).cast(pl.List(pl.String)), _lists(offsets, pa.array(log.outcome[pos], pa.uint8())),
           _lists(offsets, pa.array(before, pa.float64()))]
    return [s.alias(n) for s, n in zip(out, names)]


def listening(rows: pl.DataFrame, log: PlayLog, length: int, day: np.ndarray) -> list[pl.Series]:
    """h_track_ids, h_outcomes, h_days_before: the plays numbered h_until down, up to ``length``
    (``day``: each row's day, days since 1970).

    Rows of the same listener, anchor and day have the same lists (a night's 50 candidates of a
    listener, a day's plays): each is gathered once and the list rows are repeated."""
    if rows.height <= SMALL_FRAME:  # a request's few rows: a list (an expression costs 0.05-0.2 ms)
        until = pl.Series([0 if v is None else v for v in rows.get_column("h_until").to_list()], dtype=pl.Int64)
    else:
        until = rows["h_until"].fill_null(0).cast(pl.Int64)
    if rows.height > SMALL_FRAME:
        keys = pl.DataFrame({"user_id": rows["user_id"], "until": until, "day": day})
        group = (keys.select(pl.struct(pl.all()).rank("dense")).to_series().to_numpy() - 1).astype(np.int64)
        _, first = np.unique(group, return_index=True)
        if len(first) < rows.height // 2:
            once = listening(rows[first], log, length, day[first])
            return [s.gather(group) for s in once]
    first_pos, first_n, last_n = log._user_runs(rows["user_id"])
    until = np.minimum(until.to_numpy(), last_n)
    count = np.clip(until - np.maximum(first_n, until - length + 1) + 1, 0, length)
    row = np.repeat(np.arange(rows.height), count)
    starts = np.cumsum(count) - count
    pos = (first_pos + until - first_n)[row] - (np.arange(len(row)) - starts[row])
    before = (day[row] * 86400 - log.start[pos]) / 86400.0
    return _columns(rows.height, row, pos, log, before, SEQUENCES["listening"].columns)


def session(rows: pl.DataFrame, log: PlayLog, length: int, day: np.ndarray) -> list[pl.Series]:
    """hs_track_ids, hs_outcomes, hs_minutes_before: hs_prev's play, then each play's previous one."""
    at = log.positions(rows["hs_prev"])
    steps_row, steps_pos, steps = [], [], []
    live = np.flatnonzero(at >= 0)
    p = at[live]
    for k in range(length):
        if not len(live):
            break
        steps_row.append(live)
        steps_pos.append(p)
        steps.append(np.full(len(live), k))
        p = log.prev[p]
        keep = p >= 0
        live, p = live[keep], p[keep]
    if steps_row:
        row, pos, step = np.concatenate(steps_row), np.concatenate(steps_pos), np.concatenate(steps)
        order_ = np.lexsort((step, row))
        row, pos = row[order_], pos[order_]
    else:
        row = pos = np.zeros(0, dtype=np.int64)
    ts = np.floor(_seconds(rows["ts"]))
    before = (ts[row] - np.floor(log.start[pos])) / 60.0
    return _columns(rows.height, row, pos, log, before, SEQUENCES["session"].columns)


def attach(rows: pl.DataFrame, log: PlayLog, length: int, day: int | None = None,
           session_log: PlayLog | None = None) -> pl.DataFrame:
    """``rows`` with each sequence's anchor replaced by its three list columns (in its place).

    ``day``: the rows' day (days since 1970), for rows as of one cut-off; default: their ``day`` column.
    ``session_log``: where the session histories are gathered from instead of ``log`` (the API's
    plays since the cut-off, which the snapshot's log does not hold).
    """
    days = (np.full(rows.height, day, dtype=np.float64) if day is not None
            else rows["day"].to_numpy().astype(np.float64))
    lists = {seq.anchor: gather(rows, session_log if kind == "session" and session_log is not None else log, length, days)
             for kind, gather in (("listening", listening), ("session", session))
             if (seq := SEQUENCES[kind]).anchor in rows.columns}
    out = rows.clone()  # a new frame of the same columns: each anchor replaced by its lists in place (no query)
    for anchor, cols in lists.items():
        at = out.get_column_index(anchor)
        out.replace_column(at, cols[0])
        for i, s in enumerate(cols[1:], start=1):
            out.insert_column(at + i, s)
    return out


def drop_anchors(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` without the anchors (a reader that leaves the sequences aside)."""
    return rows.drop([a for a in ANCHORS if a in rows.columns])


def reach(rows: pl.DataFrame | None) -> pl.DataFrame:
    """The listening anchors (user_id, h_until) of rows, for :func:`read_log`; none (an empty frame)
    when the rows have no listening history (None, or no anchor column)."""
    anchor = SEQUENCES["listening"].anchor
    if rows is None or anchor not in rows.columns:
        return pl.DataFrame(schema={"user_id": pl.String, anchor: pl.Int64})
    return rows.select("user_id", anchor)


def read_log(con, anchors: pl.DataFrame, earlier: pl.DataFrame | None, length: int) -> PlayLog:
    """The play log of rows as of a cut-off (sql/features/play_log.sql): ``anchors`` holds their
    listening anchors (user_id, h_until), ``earlier`` the play_ids of their sessions' earlier plays
    (None: the table fx_earlier of ``con``)."""
    from skipify.warehouse import run_sql

    con.register("fx_log_reach", anchors.select("user_id", SEQUENCES["listening"].anchor).to_arrow())
    if earlier is not None:
        con.register("fx_earlier", earlier.select("play_id").to_arrow())
    try:
        plays = run_sql(con, "features/play_log", {"history_len": length}).pl()
    finally:
        con.unregister("fx_log_reach")
        if earlier is not None:
            con.unregister("fx_earlier")
    return PlayLog.from_plays(plays)


def with_sequences(con, rows: pl.DataFrame, length: int) -> pl.DataFrame:
    """Rows of features.training_rows (a sample: user_id, day, ts and the anchors) with their
    sequences, from every play of their listeners (sql/features/play_log_users.sql)."""
    from skipify.warehouse import run_sql

    con.register("fx_log_users", rows.select("user_id").unique().to_arrow())
    try:
        plays = run_sql(con, "features/play_log_users").pl()
    finally:
        con.unregister("fx_log_users")
    return attach(rows, PlayLog.from_plays(plays), length)
