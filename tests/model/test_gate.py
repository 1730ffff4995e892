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


def test_the_gate_does_not_decide_on_too_few_test_rows():
    few = {**s(0.90, 0.70), "n_test_rows": 73}  # a listener's own export: 73 plays in its last seven days
    v = gate(few, None, 0.005, min_test_rows=1000)
    assert not v.promoted and not v.decided and "undecided: 73 test rows" in v.text and "gate_min_test_rows" in v.text
    enough = gate({**s(0.90, 0.70), "n_test_rows": 1000}, None, 0.005, min_test_rows=1000)
    assert enough.promoted and enough.decided


def _export_like(days: int, per_day) -> "pl.DataFrame":
    import polars as pl

    return pl.DataFrame({"day": [20000 + d for d in range(days) for _ in range(per_day(d))]})


def test_split_windows_extend_back_by_whole_days_to_hold_the_minimum_plays():
    from skipify.config import load_config
    from skipify.data import time_splits

    rows = _export_like(120, lambda d: 1 + d % 3)  # 2 plays a day on average: a 7-day window holds 13-15
    cfg = load_config(split_test_days=7, split_valid_days=7, split_min_test_rows=40, split_min_valid_rows=60)
    sp = time_splits(rows, cfg)
    assert sp.test.height >= 40 and sp.valid.height >= 60
    test_days, valid_days = sp.test["day"].n_unique(), sp.valid["day"].n_unique()
    assert sp.test.filter(sp.test["day"] > sp.test["day"].min()).height < 40  # one day fewer would not do
    assert sp.valid.filter(sp.valid["day"] > sp.valid["day"].min()).height < 60
    assert test_days > 7 and valid_days > 7 and sp.train["day"].max() + 1 == sp.valid["day"].min()
    assert sp.notes == [n for n in sp.notes if "extended from 7 to" in n] and len(sp.notes) == 2
    plenty = time_splits(_export_like(120, lambda d: 50), cfg)  # enough plays: the configured days, no note
    assert plenty.test["day"].n_unique() == plenty.valid["day"].n_unique() == 7 and plenty.notes == []
    with pytest.raises(ValueError, match="240 plays over 120 days cannot fill train, validation and test"):
        time_splits(_export_like(120, lambda d: 2), load_config(split_min_test_rows=200, split_min_valid_rows=100))
