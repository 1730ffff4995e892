"""The champion gate on constructed cases."""

from __future__ import annotations

import pytest

from skipify.registry import gate


def s(deep, lgbm):
    return {"deep_roc_auc": deep, "lightgbm_roc_auc": lgbm}


def test_first_model_is_promoted_only_if_deep_beats_lightgbm():
    assert gate(s(0.80, 0.78), None, 0.005).promoted
    v = gate(s(0.77, 0.78), None, 0.005)
    assert not v.promoted and "does not beat LightGBM" in v.text
    assert not gate(s(0.78, 0.78), None, 0.005).promoted  # a tie is not a win


def test_against_a_champion():
    champ = s(0.80, 0.78)
    assert gate(s(0.81, 0.79), champ, 0.005).promoted  # better
    assert gate(s(0.797, 0.79), champ, 0.005).promoted  # slightly worse, within tolerance
    worse = gate(s(0.79, 0.78), champ, 0.005)
    assert not worse.promoted and "falls behind the champion" in worse.text
    assert not gate(s(None, 0.78), champ, 0.005).promoted


def test_previous_in_session_baseline_is_fitted_on_train(small_rows):
    import numpy as np
    import polars as pl

    from skipify.config import load_config
    from skipify.data import time_splits
    from skipify.evaluate import baseline_scores

    sp = time_splits(small_rows, load_config(split_test_days=4, split_valid_days=3))
    p = baseline_scores(sp.test, sp.train)["previous_in_session"]
    after_dislike = sp.train.filter(pl.col("s_prev_dislike") == 1)["label"].mean()
    assert set(np.round(p, 12)) <= {round(v, 12) for v in sp.train.group_by(pl.col("s_prev_dislike").fill_null(-1)).agg(pl.col("label").mean())["label"]}
    assert p[(sp.test["s_prev_dislike"] == 1).fill_null(False).to_numpy()].mean() == pytest.approx(after_dislike)
    assert ((p > 0) & (p < 1)).all()
