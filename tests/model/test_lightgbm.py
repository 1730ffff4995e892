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


def test_history_similarities_average_over_the_sequences_plays():
    from skipify.models.recent import COLUMNS, Projection, TrackTable, similarities

    rng = np.random.default_rng(0)
    content = {f"t{i}": rng.normal(size=395).astype(np.float32) for i in range(40)}
    keys = pl.DataFrame({"track_id": [f"t{i}" for i in range(40)]})
    tracks = TrackTable.build(keys, content, Projection.fit(content, 8))
    seq = {"h_outcomes": pl.List(pl.UInt8), "hs_outcomes": pl.List(pl.UInt8)}
    rows = pl.DataFrame({
        # t0's history: t3 (completed), t6 (dislike), t1 (early skip), t5 (completed); its session: t0 itself, disliked
        "track_id": ["t0", "t1", "unknown", "t0"],
        "h_track_ids": [["t3", "t6", "t1", "t5"], [], ["t0"], ["t3", "t6"]], "h_outcomes": [[0, 2, 1, 0], [], [0], [0, 2]],
        "h_days_before": [[1.0, 2.0, 3.0, 4.0], [], [1.0], [1.0, 2.0]],
        "hs_track_ids": [["t0"], None, [], []], "hs_outcomes": [[2], None, [], []], "hs_minutes_before": [[1.0], None, [], []],
    }, schema_overrides=seq)
    a = similarities(rows, tracks, 50).to_dicts()
    assert list(a[0]) == list(COLUMNS)
    v = tracks.vectors[tracks.index.lookup(pl.Series(["t0", "t3", "t6", "t1", "t5"]))]
    assert a[0]["hx_sim_completed"] == pytest.approx(float((v[1] @ v[0] + v[4] @ v[0]) / 2), abs=1e-5)  # t3, t5
    assert a[0]["hx_sim_disliked"] == pytest.approx(float((v[2] @ v[0] + v[3] @ v[0]) / 2), abs=1e-5)  # t6, t1
    assert a[0]["hsx_sim_disliked"] == pytest.approx(1.0, abs=1e-5) and np.isnan(a[0]["hsx_sim_completed"])  # itself
    # no history: missing, not 0; a track the catalogue does not know is similar to nothing
    assert np.isnan(a[1]["hx_sim_completed"]) and np.isnan(a[2]["hx_sim_completed"])
    # only the last `length` plays count: t3 completed, t6 disliked
    two, same = similarities(rows, tracks, 2).row(0, named=True), similarities(rows.slice(3, 1), tracks, 50).row(0, named=True)
    assert [two["hx_sim_completed"], two["hx_sim_disliked"]] == pytest.approx([same["hx_sim_completed"], same["hx_sim_disliked"]])
    # every column a float, also where no row has any play (a block of early rows), so that blocks concatenate
    nothing = similarities(rows.slice(1, 1), tracks, 50)
    assert set(nothing.dtypes) == {pl.Float64} and set(similarities(rows, tracks, 50).dtypes) == {pl.Float64}


def test_path_attributions_add_up_to_the_logit_and_follow_treeshap(splits):
    model = train_lgbm(splits.train, splits.valid, LGBMConfig(num_leaves=15, max_rounds=80, min_data_in_leaf=20))
    rows = splits.test.head(300)
    features, values, logits = model.reasoner()(rows)
    x = model.prepare(rows)
    exact = np.asarray(model.booster.predict(x, num_iteration=model.best_iteration, pred_contrib=True))
    assert features == model.prep.features and values.shape == exact[:, :-1].shape
    assert np.allclose(logits, exact.sum(axis=1), atol=1e-9)  # the same logit as the booster's
    rest = logits - values.sum(axis=1)
    assert np.ptp(rest) < 1e-9  # what the paths do not credit is one constant: the trees' expected logit
    # an approximation of TreeSHAP, not another story: the same features matter, in the same direction
    assert np.corrcoef(values.ravel(), exact[:, :-1].ravel())[0, 1] > 0.8
