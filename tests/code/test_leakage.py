"""Proof that no feature sees the future or the label of its own play."""

from __future__ import annotations

import dataclasses
import datetime as dt

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.features import build_features
from skipify.generate import WorldParams, build_world, write_world
from skipify.metrics import roc_auc
from skipify.ingest import ingest_paths
from skipify.models.preprocess import Preprocessor
from skipify.data import load_rows

pytestmark = pytest.mark.slow  # trains models on the small world (`make test-fast` leaves it out)

PARAMS = WorldParams(users=300, tracks=250, days=21, seed=11)
END = PARAMS.start + dt.timedelta(days=PARAMS.days + 1)


@pytest.fixture(scope="module")
def world():
    return build_world(PARAMS)


@pytest.fixture(scope="module")
def real_rows(world, tmp_path_factory):
    """The world's own training rows (built once: two tests compare against them)."""
    return _features(world, tmp_path_factory.mktemp("real"))


def _features(world, home) -> pl.DataFrame:
    """Write the world, ingest it into a fresh warehouse, build features; the training rows."""
    write_world(world, home / "world")
    cfg = load_config(home=home)
    ingest_paths([home / "world" / "landing"], cfg=cfg)
    build_features(END, cfg, with_text=False)
    return load_rows(cfg, sequences=True)  # the sequences too: the future must not reach the histories


def feature_matrix(rows: pl.DataFrame) -> tuple[np.ndarray, list[str], list[int]]:
    """The models' own tree input: (X, feature names, indices of the categorical columns)."""
    prep = Preprocessor.fit(rows)
    return prep.tree_matrix(rows), prep.features, list(range(len(prep.numeric), len(prep.features)))


def _holdout_auc(rows: pl.DataFrame) -> float:
    """LightGBM trained on the first two weeks, ROC AUC on the last week."""
    X, names, cats = feature_matrix(rows)
    y = rows["label"].to_numpy()
    test = (rows["day"] >= rows["day"].max() - 6).to_numpy()
    params = dict(objective="binary", learning_rate=0.05, num_leaves=31, min_data_in_leaf=50, verbose=-1,
                  deterministic=True, force_row_wise=True, seed=1, num_threads=2)
    model = lgb.train(params, lgb.Dataset(X[~test], y[~test], feature_name=names, categorical_feature=cats), 200)
    return roc_auc(y[test], model.predict(X[test]))


def test_changing_the_future_leaves_the_past_bit_identical(world, real_rows, tmp_path):
    t = dt.datetime.combine(PARAMS.start + dt.timedelta(days=12), dt.time(15), dt.UTC)
    base = real_rows

    ev = world.events
    after = pl.col("ts") > t
    rng = np.random.default_rng(0)
    keep = pl.Series(rng.random(ev.height) > 0.3)  # delete ~30% of the later plays ...
    changed = (
        ev.with_columns(
            # ... and flip the outcome of the rest: early skips become full plays and back
            pl.when(after).then(pl.when(pl.col("ms_played") < 30_000).then(200_000).otherwise(5_000)).otherwise(pl.col("ms_played")).alias("ms_played"),
            pl.when(after).then(pl.lit("dislike")).otherwise(pl.col("feedback").cast(pl.String)).alias("feedback"),
        )
        .filter(~after | keep)
    )
    other = _features(dataclasses.replace(world, events=changed), tmp_path / "b")

    past_a = base.filter(pl.col("ts") <= t)
    past_b = other.filter(pl.col("ts") <= t)
    assert past_a.height > 1000 and past_a.equals(past_b)
    assert not base.filter(pl.col("ts") > t).equals(other.filter(pl.col("ts") > t))  # the future did change


def test_shuffled_labels_leave_nothing_to_learn(world, real_rows, tmp_path):
    ev = world.events
    perm = np.random.default_rng(1).permutation(ev.height)
    outcome = ["ms_played", "skipped", "feedback", "reason_end", "dislike"]
    shuffled = ev.with_columns([ev[c].gather(perm).alias(c) for c in outcome])
    rows = _features(dataclasses.replace(world, events=shuffled), tmp_path)
    auc = _holdout_auc(rows)
    n_test = int((rows["day"] >= rows["day"].max() - 6).sum())
    assert n_test > 3000
    assert abs(auc - 0.5) < 0.035, auc  # about 5 standard errors at this size

    real = _holdout_auc(real_rows)
    assert real > 0.65  # the same pipeline on the real labels does learn


def test_a_field_equal_to_the_label_predicts_nothing_through_the_features(world, tmp_path):
    ev = world.events
    leaky = ev.with_columns(pl.when(pl.col("dislike")).then(pl.lit("disliked")).otherwise(pl.lit("liked")).alias("reason_end"))
    rows = _features(dataclasses.replace(world, events=leaky), tmp_path)
    X, names, _ = feature_matrix(rows)
    y = rows["label"].to_numpy()
    for j, name in enumerate(names):  # no single feature gives the label away
        col = np.nan_to_num(X[:, j], nan=-1e9)
        auc = roc_auc(y, col)
        assert max(auc, 1 - auc) < 0.85, (name, auc)
    assert _holdout_auc(rows) < 0.85  # nor do they all together (the oracle itself is about 0.8)
