"""Classification metrics for dislike probabilities, in NumPy (no model code here).

Every model and baseline is scored with the same functions, and against the planted truth's oracle
with :func:`lift_share`: (AUC - 0.5) / (oracle AUC - 0.5), the share of the best possible lift over
chance that a model reaches.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties get average ranks). NaN if only one class."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision: the mean of the precision at each positive, ranked by score (ties as one step)."""
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(score), kind="stable")
    s, yy = np.asarray(score)[order], y[order]
    tp = np.cumsum(yy)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # evaluate only where the score changes
    tp, k = tp[last_of_tie], np.arange(1, len(s) + 1)[last_of_tie]
    precision = tp / k
    recall_step = np.diff(np.r_[0, tp]) / y.sum()
    return float(np.sum(precision * recall_step))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: |mean p - rate| per equal-width bin, weighted by the bin's size."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, recall (share of dislikes caught) and false-positive rate when p >= threshold flags a dislike."""
    y = np.asarray(y).astype(bool)
    flag = np.asarray(p) >= threshold
    return {
        "threshold": float(threshold),
        "accuracy": float((flag == y).mean()),
        "recall": float((flag & y).sum() / max(y.sum(), 1)),
        "false_positive_rate": float((flag & ~y).sum() / max((~y).sum(), 1)),
    }


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold that maximises F1 (chosen on validation, then applied to test)."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(p), kind="stable")
    s, yy = np.asarray(p)[order], y[order]
    tp = np.cumsum(yy)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + y.sum())
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    f1 = np.where(last_of_tie, f1, -1)
    return float(s[int(np.argmax(f1))])


class _RankedScores:
    """One score vector sorted once, so that its ROC AUC under many row weightings costs O(n) each."""

    def __init__(self, y: np.ndarray, score: np.ndarray):
        order = np.argsort(score, kind="stable")
        s = np.asarray(score)[order]
        self.order, self.y = order, np.asarray(y).astype(np.float64)[order]
        self.group = np.r_[0, np.cumsum(s[1:] != s[:-1])]  # tied scores share a group

    def auc(self, w: np.ndarray) -> float:
        """ROC AUC with row weights ``w`` (in the original row order); ties count half."""
        w = w[self.order]
        pos = np.bincount(self.group, weights=w * self.y)
        neg = np.bincount(self.group, weights=w * (1 - self.y))
        below = np.cumsum(neg) - neg
        total = pos.sum() * neg.sum()
        return float((pos * (below + 0.5 * neg)).sum() / total) if total > 0 else float("nan")


def paired_bootstrap_auc_diff(y: np.ndarray, a: np.ndarray, b: np.ndarray, n_boot: int = 500, seed: int = 0,
                              level: float = 0.95) -> dict[str, float]:
    """ROC AUC of ``a`` minus that of ``b`` on the same rows, with a paired bootstrap interval.

    Each replicate reweights the rows (Poisson(1) counts, the streaming form of resampling with
    replacement) and scores both models on that same resample, so the interval is of the difference,
    not of two independent AUCs. Returns diff, lo, hi, n_boot, level.
    """
    y = np.asarray(y)
    ra, rb = _RankedScores(y, a), _RankedScores(y, b)
    ones = np.ones(len(y))
    rng = np.random.default_rng(seed)
    diffs = np.array([ra.auc(w) - rb.auc(w) for w in (rng.poisson(1.0, len(y)).astype(np.float64) for _ in range(n_boot))])
    diffs = diffs[np.isfinite(diffs)]
    lo, hi = (np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2]) if len(diffs) else (np.nan, np.nan))
    return {"diff": ra.auc(ones) - rb.auc(ones), "lo": float(lo), "hi": float(hi), "n_boot": n_boot, "level": level}


def lift_share(auc: float, oracle_auc: float | None) -> float | None:
    """(AUC - 0.5) / (oracle AUC - 0.5); None without an oracle."""
    if oracle_auc is None or not np.isfinite(oracle_auc) or oracle_auc <= 0.5:
        return None
    return float((auc - 0.5) / (oracle_auc - 0.5))


def scorecard(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Every metric of one model on one set of rows."""
    return {
        "n": int(len(y)),
        "positive_rate": float(np.mean(y)) if len(y) else float("nan"),
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
        "ece": ece(y, p),
        **at_threshold(y, p, threshold),
    }


def curves(y: np.ndarray, p: np.ndarray, points: int = 101, bins: int = 15) -> dict[str, list]:
    """Small, plottable curves: ROC [[fpr, tpr]], PR [[recall, precision]] at ``points`` score
    quantiles, and calibration [[mean p, dislike rate, rows]] per equal-width bin."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    n_pos, n_neg = max(y.sum(), 1.0), max((1 - y).sum(), 1.0)
    cuts = np.unique(np.quantile(p, np.linspace(0, 1, points)))[::-1]
    roc, pr = [[0.0, 0.0]], []
    for c in cuts:
        hit = p >= c
        tp, fp = float(y[hit].sum()), float((1 - y)[hit].sum())
        roc.append([fp / n_neg, tp / n_pos])
        pr.append([tp / n_pos, tp / max(tp + fp, 1.0)])
    idx = np.minimum((p * bins).astype(int), bins - 1)
    calibration = [[float(p[idx == b].mean()), float(y[idx == b].mean()), int((idx == b).sum())] for b in range(bins) if (idx == b).any()]
    return {"roc": roc, "pr": pr, "calibration": calibration}
