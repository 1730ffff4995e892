"""Training data for the models: feature rows split by time, never at random.

    train  <  validation (the `split_valid_days` before the test days)  <  test (the last `split_test_days`)

Each window is whole days, extended back a day at a time until it holds at least `split_min_test_rows` /
`split_min_valid_rows` plays: on a listener's own export, seven days may hold a few dozen plays, too few
to measure anything. Listeners and tracks first seen in validation or test stay there: they are the
cold-start segments. A registered version is evaluated again on its own days (:func:`version_splits`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa

from skipify.config import Config, load_config, logger
from skipify.sequences import LOG_COLUMNS, PlayLog, attach, drop_anchors
from skipify.warehouse import connect, run_sql


@dataclass
class Splits:
    """Feature rows by time. ``*_start`` are the first days (days since 1970) of validation and test."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    valid_start: int
    test_start: int
    notes: list[str] = field(default_factory=list)  # how the windows were chosen, when not as configured

    def of_domain(self, domain: str, folder: Path | None = None, size: int = 262_144) -> "Splits":
        """The same windows, only the rows of items of one domain (``t_domain``: music, podcast, ...); with a
        ``folder``, written there ``size`` rows at a time and mapped (:func:`mapped`), not held."""
        keep = pl.col("t_domain") == domain

        def part(name: str, rows: pl.DataFrame) -> pl.DataFrame:
            if folder is None:
                return rows.filter(keep)
            folder.mkdir(parents=True, exist_ok=True)
            return mapped(folder / f"{name}.arrow", (c.filter(keep) for c in chunks(rows, size)), f"{domain} {name} rows")

        return Splits(part("train", self.train), part("valid", self.valid), part("test", self.test), self.valid_start,
                      self.test_start, self.notes)

    @property
    def dates(self) -> dict[str, str]:
        return {
            "train_from": str(_day(self.train["day"].min())),
            "valid_from": str(_day(self.valid_start)),
            "test_from": str(_day(self.test_start)),
            "test_to": str(_day(self.test["day"].max())),
        }


def load_rows(cfg: Config | None = None, sequences: bool = False, since: dt.date | None = None,
              until: dt.date | None = None) -> pl.DataFrame:
    """features.training_rows, ordered by time (read-only connection); the sequences (the listening
    and session histories, lists of up to ``history_len`` per row, skipify.sequences) only when asked for.

    ``since``: only the rows of that day on (a training window: :func:`window_start`); their sequences
    still reach back before it, gathered from a narrow log of every earlier play. ``until``: only the rows
    before that day (a training's cut-off: the features may be built further, they are never rewound)."""
    cfg = cfg or load_config()
    con = connect(cfg, read_only=True)
    try:
        first = None if since is None else (since - dt.date(1970, 1, 1)).days
        last = None if until is None else (until - dt.date(1970, 1, 1)).days
        rows = run_sql(con, "models/training_rows", {"since": first, "until": last}).pl()
        # every play the rows' sequences reach is a training row itself: the rows are their own play log, with,
        # in a window, the few columns of the plays before it
        earlier = run_sql(con, "models/play_log", {"since": first}).pl() if sequences and since is not None else None
    finally:
        con.close()
    if sequences:
        log = rows.select(LOG_COLUMNS) if earlier is None else pl.concat([earlier, rows.select(LOG_COLUMNS)])
        rows = attach(rows, PlayLog.from_plays(log), cfg.history_len)
    return drop_anchors(rows).drop("play_id", "n")


def stream_rows(folder: Path, cfg: Config | None = None, sequences: bool = False, since: dt.date | None = None,
                until: dt.date | None = None) -> pl.DataFrame:
    """The rows :func:`load_rows` returns, the same values in the same order, written to ``folder/rows.arrow``
    ``train_chunk_rows`` rows at a time and mapped from there (read-only): what the process holds for them is
    one batch and the play log their sequences reach (a few narrow columns per play), not the rows.

    The file is uncompressed Arrow IPC: the frame's columns are views of the mapped pages, which the page
    cache keeps or drops, so training all history of 10M plays no longer needs the rows in memory
    (docs/scale.md, "Training in bounded memory"). The caller owns ``folder`` (training removes it)."""
    cfg = cfg or load_config()
    folder.mkdir(parents=True, exist_ok=True)
    first = None if since is None else (since - dt.date(1970, 1, 1)).days
    last = None if until is None else (until - dt.date(1970, 1, 1)).days
    con = connect(cfg, read_only=True)
    try:
        # every play before the cut-off, with only what a sequence gathers: the log each batch's sequences reach
        log = (PlayLog.from_plays(run_sql(con, "models/play_log", {"since": 2**31 - 1 if last is None else last}).pl())
               if sequences else None)
        days = run_sql(con, "models/training_days", {"since": first, "until": last}).fetchall()

        def batches():
            # a span of days at a time (about a chunk of rows; whole days, so each span's sort is the whole order's)
            for lo, hi in _spans(days, cfg.train_chunk_rows):
                for batch in run_sql(con, "models/training_rows", {"since": lo, "until": hi}).to_arrow_reader(cfg.train_chunk_rows):
                    rows = pl.from_arrow(batch)
                    yield drop_anchors(attach(rows, log, cfg.history_len) if log is not None else rows).drop("play_id", "n")

        rows = mapped(folder / "rows.arrow", batches(), "training rows")
    finally:
        con.close()
    # no rows: the in-memory path's empty frame (the splits say what is missing)
    return rows if rows is not None else load_rows(cfg, sequences, since, until)


def _spans(days: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """(first day, day after the last) of consecutive days holding about ``size`` rows together (a day with
    more is a span of its own), from (day, rows) in day order."""
    spans, start, n = [], None, 0
    for day, rows in days:
        if start is not None and n + rows > size:
            spans.append((start, day))
            start, n = None, 0
        start, n = day if start is None else start, n + rows
    return spans + ([(start, days[-1][0] + 1)] if start is not None else [])


def mapped(path: Path, frames: Iterable[pl.DataFrame], what: str = "rows") -> pl.DataFrame | None:
    """``frames`` (one schema) written one after the other to an uncompressed Arrow IPC file at ``path``, then
    mapped read-only: the frame returned is views of the file's pages (None: no frames). Logs the rows written."""
    t0, n, writer, schema = time.perf_counter(), 0, None, None
    try:
        for frame in frames:
            table = frame.to_arrow(compat_level=pl.CompatLevel.newest())  # string views: mapped as they are, no copy
            if writer is None:
                schema = table.schema
                writer = pa.ipc.new_file(str(path), schema)
            writer.write_table(table.cast(schema))
            n += table.num_rows
            logger.info("%s: %s written to %s (%.0fs)", what, f"{n:,}", path.name, time.perf_counter() - t0)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        return None
    return pl.from_arrow(pa.ipc.open_file(pa.memory_map(str(path))).read_all(), rechunk=False)


def chunks(rows: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """``rows`` as slices of ``size`` rows (views, not copies); at least one, however empty."""
    for lo in range(0, max(rows.height, 1), size):
        yield rows.slice(lo, size)


def sample_rows(rows: pl.DataFrame, n: int, seed: int, size: int = 262_144) -> pl.DataFrame:
    """``n`` rows drawn without replacement (all of them when fewer), seeded, in the rows' order; gathered from
    slices of ``size`` rows: a gather from a frame of many chunks (mapped rows) first copies whole columns into one
    (1.2 GiB for 2.25M training rows), a slice's gather copies a slice's. The same rows however the frame is chunked."""
    if n >= rows.height:
        return rows
    picked = np.sort(np.random.default_rng(seed).choice(rows.height, size=n, replace=False))
    bounds = np.searchsorted(picked, np.arange(0, rows.height + size, size))
    parts = [rows.slice(lo, size)[picked[a:b] - lo] for lo, a, b in zip(range(0, rows.height, size), bounds[:-1], bounds[1:]) if b > a]
    return pl.concat(parts)


def window_start(cfg: Config, as_of: dt.date) -> dt.date | None:
    """The first day of the training window before ``as_of`` (config train_window_days; None: all history)."""
    return None if cfg.train_window_days is None else as_of - dt.timedelta(days=cfg.train_window_days)


def _day(d: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(d))


def _by_day(rows: pl.DataFrame, train_end: int, valid_end: int, notes: list[str] | None = None) -> Splits:
    """Rows before ``train_end`` (a day number) are train, then validation up to ``valid_end``, test after.
    Rows in day order (load_rows') are cut into three slices, views of the rows (mapped rows stay mapped);
    others are filtered."""
    day = rows["day"].to_numpy()
    if rows.height == 0 or bool(np.all(day[1:] >= day[:-1])):
        a, b = np.searchsorted(day, [train_end, valid_end], side="left")
        a, b = int(a), int(max(a, b))
        return Splits(rows.slice(0, a), rows.slice(a, b - a), rows.slice(b), train_end, valid_end, notes or [])
    return Splits(rows.filter(pl.col("day") < train_end),
                  rows.filter((pl.col("day") >= train_end) & (pl.col("day") < valid_end)),
                  rows.filter(pl.col("day") >= valid_end), train_end, valid_end, notes or [])


def _extend_back(counts: dict[int, int], end: int, start: int, first: int, min_rows: int) -> int:
    """The latest start day <= ``start`` for which the days start..end-1 hold at least ``min_rows`` plays
    (or the first day, when no start does)."""
    n = sum(counts.get(d, 0) for d in range(start, end))
    while n < min_rows and start > first:
        start -= 1
        n += counts.get(start, 0)
    return start


def time_splits(rows: pl.DataFrame, cfg: Config | None = None) -> Splits:
    """Split by day: the last ``split_test_days`` days are test, the ``split_valid_days`` before validation,
    each extended back by whole days until it holds ``split_min_test_rows`` / ``split_min_valid_rows``.

    Raises:
        ValueError: too few plays or days for three splits of those sizes.
    """
    cfg = cfg or load_config()
    counts = dict(rows.select("day").group_by("day").len().iter_rows())  # one column: the rows may be mapped
    first, last = min(counts), max(counts)
    test_start = _extend_back(counts, last + 1, last - cfg.split_test_days + 1, first, cfg.split_min_test_rows)
    valid_start = _extend_back(counts, test_start, test_start - cfg.split_valid_days, first, cfg.split_min_valid_rows)
    notes = []
    for name, start, end, days, minimum in (("test", test_start, last + 1, cfg.split_test_days, cfg.split_min_test_rows),
                                            ("validation", valid_start, test_start, cfg.split_valid_days, cfg.split_min_valid_rows)):
        if end - start > days:
            notes.append(f"{name} extended from {days} to {end - start} days ({_day(start)} .. {_day(end - 1)}) "
                         f"to hold at least {minimum:,} plays")
    splits = _by_day(rows, valid_start, test_start, notes)
    short = [f"{name} {n:,} < {minimum:,}" for name, n, minimum in (
        ("test", splits.test.height, cfg.split_min_test_rows), ("validation", splits.valid.height, cfg.split_min_valid_rows),
        ("train", splits.train.height, 1)) if n < minimum]
    if short:
        raise ValueError(
            f"{rows.height:,} plays over {len(counts)} days cannot fill train, validation and test ({'; '.join(short)}): "
            f"lower split_min_test_rows / split_min_valid_rows or split_test_days / split_valid_days, or add history")
    d = splits.dates
    logger.info("splits: train %s .. %s (%s rows), validation %s .. (%s rows), test %s .. %s (%s rows)%s", d["train_from"],
                _day(valid_start - 1), f"{splits.train.height:,}", d["valid_from"], f"{splits.valid.height:,}", d["test_from"],
                d["test_to"], f"{splits.test.height:,}", "".join(f"; {n}" for n in notes))
    return splits


def version_splits(rows: pl.DataFrame, version: dict) -> Splits:
    """A registered version's own splits: its train and validation days as recorded, and as test every day
    after its validation ended (its test days and any since). Never a day it was trained or tuned on,
    whatever the configuration says now."""
    def number(d) -> int:
        return (dt.date.fromisoformat(str(d)) - dt.date(1970, 1, 1)).days

    splits = _by_day(rows, number(version["valid_from"]), number(version["test_from"]),
                     [f"evaluated on the days after version {version['version']}'s validation ended ({version['test_from']} onwards)"])
    if splits.test.is_empty():
        raise ValueError(f"no feature rows on or after {version['test_from']}, the first day after version "
                         f"{version['version']}'s validation: nothing it has not seen to evaluate it on")
    return splits


def segments(rows: pl.DataFrame, splits: Splits) -> dict[str, np.ndarray]:
    """Boolean masks over ``rows`` (a validation or test frame) for the evaluation segments.

    new_users / new_tracks: not seen in the training period; light / heavy users: below / at or above
    the median of the listener's plays before the row's day.
    """
    seen_users = set(splits.train["user_id"].unique().to_list())
    seen_tracks = set(splits.train["track_id"].unique().to_list())
    median = float(rows["u_plays_all"].median() or 0)
    return {
        "new_users": (~rows["user_id"].is_in(list(seen_users))).to_numpy(),
        "new_tracks": (~rows["track_id"].is_in(list(seen_tracks))).to_numpy(),
        "light_users": (rows["u_plays_all"] < median).to_numpy(),
        "heavy_users": (rows["u_plays_all"] >= median).to_numpy(),
    }
