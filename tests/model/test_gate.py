"""The champion gate on constructed cases."""

from __future__ import annotations

import polars as pl
import pytest

from skipify.registry import SameRows, gate, served_kind


def s(deep, lgbm, valid=None, n=5000):
    """An evaluation summary: test ROC AUC per kind, validation ROC AUC (default: the test figures)."""
    vd, vl = valid or (deep, lgbm)
    return {"deep_roc_auc": deep, "lightgbm_roc_auc": lgbm, "deep_valid_roc_auc": vd, "lightgbm_valid_roc_auc": vl,
            "n_test_rows": n}


def same(challenger, champion, served="deep", n=5000, error=None):
    """Both versions scored on the same rows: (deep, LightGBM) ROC AUC of each."""
    return SameRows("20260101-000000", served, n, "2026-03-01", champion={"deep": champion[0], "lightgbm": champion[1]},
                    challenger={"deep": challenger[0], "lightgbm": challenger[1]}, error=error)


def test_the_kind_served_is_the_one_that_wins_on_validation():
    deep_wins = gate(s(0.77, 0.78, valid=(0.80, 0.79)), None, 0.005)
    assert deep_wins.served_model == "deep" and deep_wins.promoted and "no champion yet" in deep_wins.text
    lgbm_wins = gate(s(0.80, 0.78, valid=(0.79, 0.795)), None, 0.005)  # test figures play no part in the choice
    assert lgbm_wins.served_model == "lightgbm" and lgbm_wins.promoted and "serves the LightGBM" in lgbm_wins.text
    assert served_kind(s(0.8, 0.8, valid=(0.79, 0.79))) == "lightgbm"  # a tie goes to the baseline
    assert lgbm_wins.figures["valid_roc_auc"] == {"deep": 0.79, "lightgbm": 0.795}


def test_against_the_champion_on_the_same_rows():
    summary = s(0.81, 0.79, valid=(0.80, 0.79))  # serves deep
    better = gate(summary, same((0.81, 0.79), (0.80, 0.78)), 0.005)
    assert better.promoted and "on the same 5,000 rows from 2026-03-01" in better.text
    assert better.figures["champion"]["roc_auc"] == {"deep": 0.80, "lightgbm": 0.78}
    assert gate(summary, same((0.797, 0.79), (0.80, 0.78)), 0.005).promoted  # slightly worse, within tolerance
    worse = gate(summary, same((0.79, 0.79), (0.80, 0.78)), 0.005)
    assert not worse.promoted and worse.decided and "falls behind the champion" in worse.text
    # the champion serves LightGBM: the challenger's served kind is held against the champion's served kind
    vs_lgbm = gate(summary, same((0.79, 0.70), (0.70, 0.80), served="lightgbm"), 0.005)
    assert not vs_lgbm.promoted and "0.7900 < 0.8000" in vs_lgbm.text
    # the challenger's test figures on its whole window play no part: only the shared rows do
    assert not gate(s(0.99, 0.79, valid=(0.80, 0.79)), same((0.79, 0.79), (0.80, 0.78)), 0.005).promoted


def test_a_champion_that_cannot_be_scored_or_shares_too_few_rows():
    summary = s(0.81, 0.79, valid=(0.80, 0.79))
    broken = gate(summary, same((0.8, 0.8), (0.8, 0.8), error="FileNotFoundError: lightgbm.txt"), 0.005)
    assert broken.promoted and "could not be scored" in broken.text and "FileNotFoundError" in broken.text
    few = gate(summary, same((0.9, 0.9), (0.5, 0.5), n=300), 0.005, min_test_rows=1000)
    assert not few.promoted and not few.decided and "300 test rows fall after the champion" in few.text


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
    few = s(0.90, 0.70, n=73)  # a listener's own export: 73 plays in its last seven days
    v = gate(few, None, 0.005, min_test_rows=1000)
    assert not v.promoted and not v.decided and "undecided: 73 test rows" in v.text and "gate_min_test_rows" in v.text
    assert v.served_model == "deep"  # the kind is chosen all the same: the night serves it while there is no champion
    enough = gate(s(0.90, 0.70, n=1000), None, 0.005, min_test_rows=1000)
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


def test_a_domain_is_served_by_its_own_or_another_kind_only_when_it_beats_the_served_kind_beyond_the_noise():
    from skipify.registry import domain_choices

    rows = {"train": 5000, "valid": 1500, "test": 1500}

    def ci(diff, lo):
        return {"diff": diff, "lo": lo, "hi": 2 * diff - lo}

    domains = {
        "music": {"own": False, "rows": rows, "valid": {"all/lightgbm": 0.78, "all/deep": 0.79}},
        # two candidates beat the served deep model beyond the noise: the larger lead serves, its baseline the other
        # kind trained on the podcasts alone
        "podcast": {"own": True, "rows": rows, "valid": {"all/lightgbm": 0.65, "all/deep": 0.62, "podcast/lightgbm": 0.67,
                                                         "podcast/deep": 0.60},
                    "valid_minus_served": {"all/lightgbm": ci(0.03, 0.01), "podcast/lightgbm": ci(0.05, 0.02),
                                           "podcast/deep": ci(-0.02, -0.04)}},
        # another joint kind is better beyond the noise: it serves, joint
        "video": {"own": True, "rows": rows, "valid": {"all/lightgbm": 0.70, "all/deep": 0.66, "video/lightgbm": 0.69},
                  "valid_minus_served": {"all/lightgbm": ci(0.04, 0.01), "video/lightgbm": ci(0.03, -0.001)}},
        # better on validation, but within the noise: the served kind keeps it
        "audiobook": {"own": True, "rows": rows, "valid": {"all/lightgbm": 0.61, "all/deep": 0.61, "audiobook/lightgbm": 0.63},
                      "valid_minus_served": {"all/lightgbm": ci(0.0, -0.01), "audiobook/lightgbm": ci(0.02, -0.003)}},
    }
    got = domain_choices(domains, "deep", ["lightgbm", "deep"])
    assert got["music"] == {"trained_on": "all", "served_model": "deep", "baseline_model": "lightgbm"}
    assert got["podcast"] == {"trained_on": "podcast", "served_model": "lightgbm", "baseline_model": "deep"}
    assert got["video"] == {"trained_on": "all", "served_model": "lightgbm", "baseline_model": "deep"}
    assert got["audiobook"] == {"trained_on": "all", "served_model": "deep", "baseline_model": "lightgbm"}
    verdict = gate(s(0.79, 0.78, valid=(0.80, 0.79)), None, 0.005, domains=domains, held=["lightgbm", "deep"])
    assert verdict.domain_served == got and verdict.figures["domains"]["podcast"]["served_model"] == "lightgbm"
    assert "podcast: served by the LightGBM trained on podcast (better than the served kind beyond the noise" in verdict.text
    assert "audiobook: served by the deep model trained on all (the served kind; none of the other 2 beat it" in verdict.text
    assert gate(s(0.79, 0.78), None, 0.005).domain_served == {}  # one domain: no choice per domain
