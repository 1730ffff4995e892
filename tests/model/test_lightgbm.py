"""Time splits, preprocessing and the LightGBM baseline."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.data import segments, time_splits
from skipify.metrics import roc_auc
from skipify.models.lgbm import LGBMConfig, LGBMModel, train_lgbm
from skipify.models.preprocess import Preprocessor


@pytest.fixture(scope="module")
def splits(small_rows):
    return time_splits(small_rows, load_config(split_test_days=4, split_valid_days=3))


def test_splits_are_by_time_and_cover_every_row(small_rows, splits):
    assert splits.train.height + splits.valid.height + splits.test.height == small_rows.height
    assert splits.train["ts"].max() < splits.valid["ts"].min()
    assert splits.valid["ts"].max() < splits.test["ts"].min()
    assert splits.test["day"].n_unique() == 4 or splits.test["day"].n_unique() == 5  # + a spill-over day
    seg = segments(splits.test, splits)
    assert seg["new_users"].any() and seg["new_tracks"].any()  # cold start lives in test
    assert not set(splits.test.filter(pl.Series(seg["new_users"]))["user_id"]) & set(splits.train["user_id"])
    with pytest.raises(ValueError, match="cannot fill train, validation and test"):
        time_splits(small_rows, load_config(split_test_days=10, split_valid_days=10))


def test_preprocessor_handles_unknown_and_missing_values(splits):
    prep = Preprocessor.fit(splits.train)
    assert "label" not in prep.features and "c_context_type" in prep.categorical
    odd = splits.test.head(3).with_columns(pl.lit("never-seen").alias("c_context_type"), pl.lit(None).alias("u_age"))
    X = prep.tree_matrix(odd)
    j = prep.features.index("c_context_type")
    assert np.isnan(X[:, j]).all() and np.isnan(X[:, prep.features.index("u_age")]).all()
    dense, codes = prep.dense(odd)
    assert np.isfinite(dense).all() and (codes[:, prep.categorical.index("c_context_type")] == 0).all()


def test_networks_get_heavy_tailed_counts_on_a_log_scale(tmp_path):
    rng = np.random.default_rng(0)
    rows = pl.DataFrame({"plays": rng.pareto(1.5, 2000) * 10, "hour": rng.uniform(0, 24, 2000), "delta": rng.normal(0, 1, 2000)})
    prep = Preprocessor.fit(rows)
    assert prep.log_scale == ["plays"]  # skewed and non-negative; the others are left as they are
    dense, _ = prep.dense(rows.with_columns(pl.col("plays") * 1e6))
    assert np.abs(dense).max() <= 5  # clipped, even far outside the training range
    z = dense[:, prep.numeric.index("plays")]
    assert np.corrcoef(np.log1p(rows["plays"].to_numpy()), prep.dense(rows)[0][:, 0])[0, 1] > 0.999 and z.max() == 5
    prep.save(tmp_path / "p.json")
    assert Preprocessor.load(tmp_path / "p.json").log_scale == ["plays"]


def test_lightgbm_learns_is_deterministic_and_round_trips(splits, tmp_path):
    cfg = LGBMConfig(num_leaves=15, max_rounds=300, early_stopping_rounds=20, min_data_in_leaf=20)
    model = train_lgbm(splits.train, splits.valid, cfg)
    p = model.predict(splits.test)
    assert roc_auc(splits.test["label"].to_numpy(), p) > 0.65
    assert model.best_iteration < cfg.max_rounds  # early stopping on validation did stop it
    again = train_lgbm(splits.train, splits.valid, cfg)
    assert np.array_equal(again.predict(splits.test), p)  # same data, same seed, same scores
    model.save(tmp_path)
    loaded = LGBMModel.load(tmp_path)
    assert np.allclose(loaded.predict(splits.test), p, atol=1e-12)


def test_cold_start_rows_get_finite_scores(splits):
    model = train_lgbm(splits.train, splits.valid, LGBMConfig(num_leaves=7, max_rounds=50))
    cold = splits.test.head(5).with_columns(
        pl.lit("nobody").alias("user_id"), pl.lit(0).alias("u_plays_all"), pl.lit("new-genre").alias("t_genre"),
        pl.lit(None, dtype=pl.Float64).alias("t_energy"),
    )
    p = model.predict(cold)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
