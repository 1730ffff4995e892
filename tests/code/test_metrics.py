"""Metrics against scikit-learn's reference implementations, and their edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from skipify import metrics as m


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.random(5000) < 0.3
    p = np.clip(0.3 + 0.25 * (y - 0.3) + rng.normal(0, 0.2, 5000), 0.001, 0.999)
    p[:500] = np.clip(np.round(p[:500], 1), 0.05, 0.95)  # ties (away from 0 and 1, where clipping differs)
    return y, p


def test_against_scikit_learn(data):
    y, p = data
    assert m.roc_auc(y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert m.pr_auc(y, p) == pytest.approx(sk.average_precision_score(y, p), abs=1e-9)
    assert m.log_loss(y, p) == pytest.approx(sk.log_loss(y, p), abs=1e-9)
    assert m.brier(y, p) == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)
    t = m.best_threshold(y, p)
    f1_best = sk.f1_score(y, p >= t)
    assert all(sk.f1_score(y, p >= other) <= f1_best + 1e-12 for other in np.unique(p)[::50])
    r = m.at_threshold(y, p, t)
    tn, fp, fn, tp = sk.confusion_matrix(y, p >= t).ravel()
    assert r["recall"] == pytest.approx(tp / (tp + fn)) and r["false_positive_rate"] == pytest.approx(fp / (fp + tn))


def test_calibration_error():
    rng = np.random.default_rng(1)
    p = rng.random(200_000)
    y = rng.random(200_000) < p  # perfectly calibrated
    assert m.ece(y, p) < 0.01
    assert m.ece(y, np.clip(p + 0.2, 0, 1)) > 0.15  # overconfident by 0.2


def test_edge_cases():
    assert np.isnan(m.roc_auc(np.ones(4), np.arange(4)))
    assert m.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert m.lift_share(0.75, 0.8) == pytest.approx(0.25 / 0.3)
    assert m.lift_share(0.75, None) is None
    assert m.scorecard(np.array([0, 1, 1]), np.array([0.1, 0.9, 0.4]), 0.5)["accuracy"] == pytest.approx(2 / 3)


def test_paired_bootstrap_interval_of_an_auc_difference(data):
    y, p = data
    rng = np.random.default_rng(1)
    # with unit weights the weighted AUC is the AUC (ties included)
    assert m._RankedScores(y, p).auc(np.ones(len(y))) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    # a row counted twice: the same as duplicating it
    w = np.ones(len(y))
    w[:100] = 2
    dup = np.r_[np.arange(len(y)), np.arange(100)]
    assert m._RankedScores(y, p).auc(w) == pytest.approx(sk.roc_auc_score(y[dup], p[dup]), abs=1e-12)
    same = m.paired_bootstrap_auc_diff(y, p, p, n_boot=50)
    assert same["diff"] == 0 and same["lo"] == 0 and same["hi"] == 0  # paired: identical models never differ
    noisier = np.clip(p + rng.normal(0, 0.3, len(p)), 0, 1)
    r = m.paired_bootstrap_auc_diff(y, p, noisier, n_boot=200)
    assert r["diff"] == pytest.approx(sk.roc_auc_score(y, p) - sk.roc_auc_score(y, noisier), abs=1e-12)
    assert 0 < r["lo"] < r["diff"] < r["hi"]
    flipped = m.paired_bootstrap_auc_diff(y, noisier, p, n_boot=200)
    assert flipped["hi"] < 0
