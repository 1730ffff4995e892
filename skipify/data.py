"""Training data for the models: feature rows split by time, never at random.

    train  <  validation (the `split_valid_days` before the test days)  <  test (the last `split_test_days`)

Listeners and tracks first seen in validation or test stay there: they are the cold-start segments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from skipify.config import Config, load_config
from skipify.warehouse import connect, read_sql


@dataclass
class Splits:
    """Feature rows by time. ``*_start`` are the first days (days since 1970) of validation and test."""

    train: pl.DataFrame
    valid: pl.DataFrame
    test: pl.DataFrame
    valid_start: int
    test_start: int

    @property
    def dates(self) -> dict[str, str]:
        def day(d: int) -> str:
            return str(dt.date(1970, 1, 1) + dt.timedelta(days=int(d)))

        return {
            "train_from": day(self.train["day"].min()),
            "valid_from": day(self.valid_start),
            "test_from": day(self.test_start),
            "test_to": day(self.test["day"].max()),
        }


def load_rows(cfg: Config | None = None) -> pl.DataFrame:
    """features.training_rows, ordered by time (read-only connection)."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        return con.execute(read_sql("models/training_rows")).pl()
    finally:
        con.close()


def time_splits(rows: pl.DataFrame, cfg: Config | None = None) -> Splits:
    """Split by day: the last ``split_test_days`` days are test, the ``split_valid_days`` before validation.

    Raises:
        ValueError: too few days for three non-empty splits.
    """
    cfg = cfg or load_config()
    last = int(rows["day"].max())
    test_start = last - cfg.split_test_days + 1
    valid_start = test_start - cfg.split_valid_days
    train = rows.filter(pl.col("day") < valid_start)
    valid = rows.filter((pl.col("day") >= valid_start) & (pl.col("day") < test_start))
    test = rows.filter(pl.col("day") >= test_start)
    if not (train.height and valid.height and test.height):
        raise ValueError(
            f"need more than {cfg.split_valid_days + cfg.split_test_days} days of plays for train/validation/test, "
            f"got {rows['day'].n_unique()}"
        )
    return Splits(train, valid, test, valid_start, test_start)


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
