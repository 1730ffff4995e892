"""Why a score: SHAP values of both models, grouped into blocks that read as features.

    blocks, values = explain_deep(model, rows, background)   # values: (rows, blocks), log-odds
    blocks, values = explain_lightgbm(model, rows)

Both explain the **logit** (log-odds of a dislike), so their values add up and compare.

* LightGBM: exact TreeSHAP (LightGBM's own, ``pred_contrib``: shap.TreeExplainer's values), one block per feature.
* Deep model: expected gradients (``expected_gradients``: shap.GradientExplainer's estimate, batched) on a float-only view of the whole
  network (``FlatDeep``): the id embeddings are looked up first (SHAP cannot take gradients through
  integer inputs), then everything from the towers to the calibrated MLP output is differentiable.
  Its inputs are grouped into blocks: ``user embedding`` (the listener's id vector), ``track
  embedding`` (the track's id vector), ``artist embedding``, ``genre``, ``text embedding`` (the 384
  MiniLM dimensions), one block per tabular feature (a value and its missing flag together),
  one per categorical context feature, and, for a model with the history encoder, ``listening
  history`` and ``session history`` (the encoder's output for the row: its attention depends on the
  candidate, so a sequence is explained as a whole). A block's value is the sum of its dimensions' values.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import torch
from torch import nn

from skipify.models.deep import DeepModel, Inputs
from skipify.models.history import SEQUENCES
from skipify.models.lgbm import LGBMModel

# What reads the sequences, as blocks: the user tower's taste (from the listening history) and the
# history encoder's output per sequence (its target attention depends on the candidate track: the
# block is the encoder's output for this row, explained as one input of the MLP).
HISTORY_BLOCKS = {"listening": "listening history", "session": "session history"}
TASTE = "taste"  # folded into the "listening history" block
WIDE_CATS = "wide cats"  # a residual model's linear term per category, folded into that category's block


class FlatDeep(nn.Module):
    """The deep model as a function of one float matrix (ids already embedded); output (N, 1) logits."""

    def __init__(self, model: DeepModel, data: Inputs):
        super().__init__()
        self.towers, self.mlp = model.towers.eval(), model.mlp.eval()
        self.task = model.task.eval() if model.task is not None else None
        cfg = model.config.tower
        widths = [
            ("user embedding", cfg.dim), ("user features", data.sizes["user_features"]),
            (TASTE, 2 * cfg.dim + 2 if cfg.taste_from_history else 0),
            ("track embedding", cfg.dim), ("artist embedding", cfg.dim), ("genre", self.towers.track.genres.embedding_dim),
            ("text embedding", cfg.text_dim), ("track features", data.sizes["track_features"]),
            ("dense", data.sizes["n_dense"]), ("cats", model.mlp.cfg.cat_dim * len(model.mlp.cfg.cat_sizes)),
        ]
        self.encoder = model.encoder.eval() if model.encoder is not None else None
        if self.encoder is not None:  # one block per sequence, in the encoder's output order
            widths += [(HISTORY_BLOCKS[k], self.encoder.width // len(SEQUENCES)) for k in SEQUENCES]
        widths.append((WIDE_CATS, len(self.task.wide_cats) if self.task is not None else 0))
        self.slices: dict[str, slice] = {}
        lo = 0
        for name, width in widths:
            self.slices[name] = slice(lo, lo + width)
            lo += width
        self.width = lo

    @torch.no_grad()
    def inputs(self, data: Inputs) -> torch.Tensor:
        """The float matrix for the rows of ``data``."""
        b = data.batch(torch.arange(data.n), torch.device("cpu"))
        u, t = self.towers.user, self.towers.track
        cats = [emb(b["cats"][:, i]) for i, emb in enumerate(self.mlp.cats)]
        taste = [self.towers.taste(b)] if self.towers.cfg.taste_from_history else []
        parts = [u.ids(b["user_bucket"]), b["user_x"], *taste, t.ids(b["track_bucket"]), t.artists(b["artist_bucket"]),
                 t.genres(b["genre"]), b["text"], b["track_x"], b["dense"]] + cats
        if self.encoder is not None:
            parts.append(self.encoder(b))
        if self.task is not None:
            parts += [emb(b["cats"][:, i]) for i, emb in enumerate(self.task.wide_cats)]
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.slices
        user = self.towers.user.body(torch.cat([x[:, s["user embedding"]], x[:, s["user features"]], x[:, s[TASTE]]], dim=1))
        track = self.towers.track.body(torch.cat([
            x[:, s["track embedding"]], x[:, s["artist embedding"]], x[:, s["genre"]],
            self.towers.track.text(x[:, s["text embedding"]]), x[:, s["track features"]]], dim=1))
        head = [user, track, user * track, x[:, s["dense"]], x[:, s["cats"]]]
        head = torch.cat(head + [x[:, s[HISTORY_BLOCKS[k]]] for k in SEQUENCES if self.encoder is not None], dim=1)
        logit = self.mlp.body(head)
        if self.task is not None:  # a residual model: stage 1's dot product and wide term underneath
            wide = self.task.wide(torch.cat([x[:, s["user features"]], x[:, s["track features"]], x[:, s["dense"]]], dim=1))
            logit = logit + self.towers.score(user, track).unsqueeze(1) + wide + x[:, s[WIDE_CATS]].sum(dim=1, keepdim=True)
        return logit / self.mlp.log_temperature.exp()


def deep_blocks(model: DeepModel, flat: FlatDeep) -> dict[str, list[int]]:
    """Block name -> column indices of FlatDeep's input."""
    prep = model.prep
    names = prep.numeric + [f"{c}_missing" for c in prep.numeric]
    user_cols = [n for n in names if n.startswith("u_")]
    track_cols = [n for n in names if n.startswith("t_")]
    dense_cols = [n for n in names if not n.startswith(("u_", "t_"))]
    blocks: dict[str, list[int]] = {}

    def add(feature: str, index: int) -> None:
        blocks.setdefault(feature.removesuffix("_missing"), []).append(index)

    s = flat.slices
    for name in ("user embedding", "track embedding", "artist embedding", "genre", "text embedding", *HISTORY_BLOCKS.values()):
        if name in s and s[name].stop > s[name].start:
            blocks[name] = list(range(s[name].start, s[name].stop))
    if s[TASTE].stop > s[TASTE].start:  # the taste reads the listening history too: one block
        blocks["listening history"] = list(range(s[TASTE].start, s[TASTE].stop)) + blocks.get("listening history", [])
    for group, cols in (("user features", user_cols), ("track features", track_cols), ("dense", dense_cols)):
        for i, col in enumerate(cols):
            add(col, s[group].start + i)
    mlp_cats = [c for c in prep.categorical if c != "t_artist"]
    width = model.mlp.cfg.cat_dim
    for i, col in enumerate(mlp_cats):
        blocks[col] = list(range(s["cats"].start + i * width, s["cats"].start + (i + 1) * width))
        if s[WIDE_CATS].stop > s[WIDE_CATS].start:
            blocks[col].append(s[WIDE_CATS].start + i)
    if "t_genre" in blocks:  # the genre reaches the network twice (track tower and MLP): one block
        blocks["t_genre"] = blocks.pop("genre") + blocks["t_genre"]
    return blocks


def expected_gradients(f: nn.Module, x: torch.Tensor, background: torch.Tensor, nsamples: int = 100, seed: int = 0,
                       chunk: int = 20_000) -> np.ndarray:
    """SHAP values of ``f``'s single output by expected gradients: per row, the mean over ``nsamples`` draws
    (a background row b, a point t on [0, 1]) of the gradient at ``b + t (x - b)`` times ``x - b``.

    What ``shap.GradientExplainer(f, background).shap_values(x, nsamples, rseed=seed)`` computes, draw for
    draw (the same random sequence, so the same values to float rounding), with the gradients taken for
    ``chunk`` samples at once instead of a Python loop per row and sample (five times faster on two cores: bench/explain.py).
    """
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


def explain_deep(model: DeepModel, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0,
                 nsamples: int = 100) -> tuple[list[str], np.ndarray]:
    """SHAP values of the deep model's logit per block: (block names, array rows x blocks)."""
    data, bg = Inputs(rows, model.prep, model.text, model.config), Inputs(background, model.prep, model.text, model.config)
    flat = FlatDeep(model, data)
    x, x_bg = flat.inputs(data), flat.inputs(bg)
    values = expected_gradients(flat, x, x_bg, nsamples=nsamples, seed=seed)
    blocks = deep_blocks(model, flat)
    return list(blocks), np.stack([values[:, idx].sum(axis=1) for idx in blocks.values()], axis=1)


def explain_lightgbm(model: LGBMModel, rows: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """TreeSHAP values of LightGBM's logit per feature: (feature names, array rows x features).

    LightGBM's own TreeSHAP (``pred_contrib``): the values of ``shap.TreeExplainer`` (a test compares
    them), without importing the shap package (four seconds of every scoring process's start)."""
    contrib = model.booster.predict(model.prepare(rows), num_iteration=model.best_iteration, pred_contrib=True)
    return list(model.prep.features), np.asarray(contrib)[:, :-1].reshape(rows.height, len(model.prep.features))  # last: the base


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


class DeepReasons:
    """Integrated gradients of the deep model's logit per block, from the mean background input.

        reasons = DeepReasons(model, background_rows)
        blocks, values, logits = reasons(rows)       # values: (rows, blocks); sum = logit - reasons.reference_logit
    """

    def __init__(self, model: DeepModel, background: pl.DataFrame, steps: int = 16):
        data = Inputs(background, model.prep, model.text, model.config)
        self.model, self.steps = model, steps
        self.flat = FlatDeep(model, data)
        self.reference = self.flat.inputs(data).mean(dim=0, keepdim=True)
        with torch.no_grad():
            self.reference_logit = float(self.flat(self.reference)[0, 0])
        blocks = deep_blocks(model, self.flat)
        self.blocks = list(blocks)
        self.members = torch.zeros(self.flat.width, len(blocks))  # input column -> its block
        for j, idx in enumerate(blocks.values()):
            self.members[idx, j] = 1.0

    def __call__(self, rows: pl.DataFrame, data: Inputs | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(block names, values rows x blocks, logits of the rows); ``data``: the rows' Inputs, when built."""
        x = self.flat.inputs(data or self.model.inputs(rows))
        n, width = x.shape
        alphas = (torch.arange(self.steps, dtype=x.dtype) + 0.5) / self.steps  # midpoint rule
        delta = x - self.reference
        path = (self.reference + alphas[:, None, None] * delta[None]).reshape(-1, width).requires_grad_(True)
        out = self.flat(path)
        (grad,) = torch.autograd.grad(out.sum(), path)
        values = (grad.reshape(self.steps, n, width).mean(dim=0) * delta) @ self.members
        with torch.no_grad():
            logits = self.flat(x)[:, 0]
        return self.blocks, values.detach().numpy().astype(np.float64), logits.numpy().astype(np.float64)
