"""Why a score: the SHAP tools every kind's explanations use.

Each kind explains its own network in its own module (``Model.explain``, ``Model.reasoner``: the deep
model by expected gradients through its own forward pass, LightGBM by its TreeSHAP); both explain the
**logit** (log-odds of a dislike), so their values add up and compare. Here:

* ``expected_gradients``: shap.GradientExplainer's estimate for any differentiable function, batched;
* ``global_importance``: mean |SHAP| per block (the scorecard's importances);
* ``local_reasons``: a row's top blocks (the night's reasons).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    import torch


def expected_gradients(f: "torch.nn.Module", x: torch.Tensor, background: torch.Tensor, nsamples: int = 100, seed: int = 0,
                       chunk: int = 20_000) -> np.ndarray:
    """SHAP values of ``f``'s single output by expected gradients: per row, the mean over ``nsamples`` draws
    (a background row b, a point t on [0, 1]) of the gradient at ``b + t (x - b)`` times ``x - b``.

    What ``shap.GradientExplainer(f, background).shap_values(x, nsamples, rseed=seed)`` computes, draw for
    draw (the same random sequence, so the same values to float rounding), with the gradients taken for
    ``chunk`` samples at once instead of a Python loop per row and sample (five times faster on two cores: bench/explain.py).
    """
    import torch

    rng = np.random.RandomState(seed)  # shap's draws: for each row, for each sample, a background row then t
    picks, ts = np.empty(x.shape[0] * nsamples, dtype=np.int64), np.empty(x.shape[0] * nsamples)
    for k in range(picks.size):
        picks[k], ts[k] = rng.randint(0, background.shape[0]), rng.uniform()
    index = torch.from_numpy(picks).view(x.shape[0], nsamples)
    t, one_minus_t = (torch.from_numpy(a).float().view(x.shape[0], nsamples, 1) for a in (ts, 1 - ts))
    out = np.empty(tuple(x.shape), dtype=np.float64)
    rows = max(1, chunk // nsamples)
    for lo in range(0, x.shape[0], rows):
        xs, bg = x[lo:lo + rows].unsqueeze(1), background[index[lo:lo + rows]]  # (rows, 1, width), (rows, nsamples, width)
        points = (t[lo:lo + rows] * xs + one_minus_t[lo:lo + rows] * bg).reshape(-1, x.shape[1]).requires_grad_(True)
        (grad,) = torch.autograd.grad(f(points)[:, 0].sum(), points)
        out[lo:lo + rows] = (grad.view(bg.shape).double() * (xs - bg).double()).mean(dim=1).numpy()
    return out


def global_importance(blocks: list[str], values: np.ndarray) -> pl.DataFrame:
    """Mean |SHAP| per block, largest first, with its rank (1 = most important)."""
    return (
        pl.DataFrame({"block": blocks, "mean_abs_shap": np.abs(values).mean(axis=0).astype(np.float64)})
        .sort(["mean_abs_shap", "block"], descending=[True, False])
        .with_row_index("rank", offset=1)
    )


def local_reasons(blocks: list[str], values: np.ndarray, keys: pl.DataFrame, top: int = 10) -> pl.DataFrame:
    """Per row of ``keys`` (user_id, track_id): its ``top`` blocks by |SHAP|, with the value and rank."""
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top]
    n = values.shape[0]
    return pl.DataFrame({
        "user_id": np.repeat(keys["user_id"].to_numpy(), order.shape[1]),
        "track_id": np.repeat(keys["track_id"].to_numpy(), order.shape[1]),
        "rank": np.tile(np.arange(1, order.shape[1] + 1), n),
        "block": np.asarray(blocks, dtype=object)[order].ravel(),
        "shap": np.take_along_axis(values, order, axis=1).ravel().astype(np.float64),
    })
