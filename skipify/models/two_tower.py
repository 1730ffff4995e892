"""Two-tower network: a user tower and a track tower whose dot product scores a dislike.

    user tower : hashed user id embedding  + user features
                 (+ taste from the last plays, mean track vectors by outcome: optional) -> MLP -> d-dim vector
    track tower: hashed track id embedding + track features
                 + MiniLM text vector (projected) + genre embedding    -> MLP -> d-dim vector
    logit = <user, track> + bias

**Objective: a direct dislike objective on the dot product** (binary cross-entropy against the
label), not in-batch softmax over played tracks. Softmax over plays learns what a listener *plays*,
which mixes exposure (charts, rotation) with taste; Skipify needs vectors whose similarity says
*will this listener dislike it*, and the same vectors serve candidate generation (tracks with the
lowest predicted dislike that the listener has not played). The towers stay separate from the
loss (``TwoTowerTask``), so the objective can change without touching them.

**Cold start**: ids are hashed into buckets with bucket 0 meaning "unknown"; during training each
id is replaced by 0 with probability ``id_dropout``, so a new user or track still gets a vector
from its features alone.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from torch import nn

from skipify.lookup import SMALL_FRAME


@dataclass
class TwoTowerConfig:
    """Sizes and training knobs, saved with the weights."""

    dim: int = 32
    hidden: int = 64
    user_buckets: int = 50_000
    track_buckets: int = 50_000
    artist_buckets: int = 20_000
    n_genres: int = 64
    user_features: int = 0  # filled in from the data
    track_features: int = 0
    text_dim: int = 384
    id_dropout: float = 0.15
    dropout: float = 0.1
    # the user tower also reads the listener's recent plays (TwoTower.taste); off by default: on the demo
    # world it did not win on validation (3 seeds, docs/models.md) and doubles the training time
    taste_from_history: bool = False
    ids: bool = True  # False (an ablation): no id embeddings, every listener, track and artist in the "unknown" bucket


def hash_ids(ids, buckets: int) -> np.ndarray:
    """Stable id -> bucket in [1, buckets); None (and "") -> 0 (unknown). crc32 of each distinct id (Python's
    hash() is salted per process, so it would not survive a restart). ``ids``: a list or a Polars Series."""
    if len(ids) <= SMALL_FRAME:  # a request's few ids: Python's loop costs less than Polars' mapping
        values = ids.cast(pl.String).to_list() if isinstance(ids, pl.Series) else [None if i is None else str(i) for i in ids]
        return np.array([0 if not u else 1 + zlib.crc32(u.encode()) % (buckets - 1) for u in values], dtype=np.int64)
    s = ids.cast(pl.String) if isinstance(ids, pl.Series) else pl.Series(values=[None if i is None else str(i) for i in ids], dtype=pl.String)
    uniq = s.drop_nulls().unique().to_list()  # once per distinct id: a column of a million rows holds a few thousand
    codes = [0 if u == "" else 1 + zlib.crc32(u.encode()) % (buckets - 1) for u in uniq]
    return s.replace_strict(uniq, codes, default=0, return_dtype=pl.Int64).to_numpy(writable=True)  # torch.from_numpy wants a writable array


def _mlp(inp: int, hidden: int, out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inp, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out)
    )


class UserTower(nn.Module):
    def __init__(self, cfg: TwoTowerConfig):
        super().__init__()
        self.ids = nn.Embedding(cfg.user_buckets, cfg.dim)
        self.body = _mlp(cfg.dim + cfg.user_features + (2 * cfg.dim + 2 if cfg.taste_from_history else 0), cfg.hidden, cfg.dim, cfg.dropout)

    def forward(self, user_bucket: torch.Tensor, user_x: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
        return self.combine(self.ids(user_bucket), user_x, history)

    def combine(self, id_vector: torch.Tensor, user_x: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
        """The tower from its id vector on (what the deep model's explanations differentiate)."""
        return self.body(torch.cat([id_vector, user_x] + ([history] if history is not None else []), dim=1))


class TrackTower(nn.Module):
    def __init__(self, cfg: TwoTowerConfig):
        super().__init__()
        self.ids = nn.Embedding(cfg.track_buckets, cfg.dim)
        self.artists = nn.Embedding(cfg.artist_buckets, cfg.dim)
        self.genres = nn.Embedding(cfg.n_genres, 8)
        self.text = nn.Linear(cfg.text_dim, cfg.dim)
        self.body = _mlp(2 * cfg.dim + 8 + cfg.dim + cfg.track_features, cfg.hidden, cfg.dim, cfg.dropout)

    def forward(
        self, track_bucket: torch.Tensor, artist_bucket: torch.Tensor, genre: torch.Tensor, text: torch.Tensor, track_x: torch.Tensor
    ) -> torch.Tensor:
        return self.combine(self.ids(track_bucket), self.artists(artist_bucket), self.genres(genre), text, track_x)

    def combine(self, id_vector: torch.Tensor, artist: torch.Tensor, genre: torch.Tensor, text: torch.Tensor,
                track_x: torch.Tensor) -> torch.Tensor:
        """The tower from its embedded ids on (what the deep model's explanations differentiate)."""
        return self.body(torch.cat([id_vector, artist, genre, self.text(text), track_x], dim=1))


class TwoTower(nn.Module):
    """The two encoders; ``score`` is the dot product plus a bias."""

    def __init__(self, cfg: TwoTowerConfig):
        super().__init__()
        self.cfg = cfg
        self.user = UserTower(cfg)
        self.track = TrackTower(cfg)
        self.bias = nn.Parameter(torch.zeros(1))

    def taste(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The listener's taste as of the row, from their last plays (the listening-history family):
        the mean track vector (id and text, embedded by the track tower's own tables) of the plays they
        completed and of those they disliked or skipped early, and the share of each. Shape (N, 2 dim + 2).

        A listener's id vector is one taste for the whole training period; this one follows their
        recent plays, so it moves when their taste does and exists for a listener the id table never saw."""
        items = self.track.ids(batch["seq_track_bucket"]) + self.track.text(batch["seq_content"][:, : self.cfg.text_dim])
        pos = batch["listening_pos"]
        mask = pos >= 0
        vec = torch.nn.functional.embedding(pos.clamp(min=0), items)
        out, n = [], mask.sum(1, keepdim=True).clamp(min=1)
        for member in (mask & (batch["listening_outcome"] == 0), mask & (batch["listening_outcome"] > 0)):
            k = member.sum(1, keepdim=True)
            out += [(vec * member.unsqueeze(2)).sum(1) / k.clamp(min=1), k / n]
        return torch.cat([out[0], out[2], out[1], out[3]], dim=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.user(batch["user_bucket"], batch["user_x"], self.taste(batch) if self.cfg.taste_from_history else None)
        t = self.track(batch["track_bucket"], batch["artist_bucket"], batch["genre"], batch["text"], batch["track_x"])
        return u, t

    def score(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (u * t).sum(dim=1) + self.bias


class TwoTowerTask(nn.Module):
    """The towers plus their training objective and id dropout.

    logit = <user, track> + wide(features) + bias, trained with binary cross-entropy on the dislike
    label. The wide part (a linear term over every tabular feature and a scalar per category) takes
    the main effects (a picky listener, a weak track, a late-night shuffle), so the dot product is
    left with what only the pair explains: this listener's taste against this track's style. Only
    the towers are kept after training; the wide part is scaffolding.
    """

    def __init__(self, model: TwoTower, n_wide: int, cat_sizes: list[int]):
        super().__init__()
        self.model = model
        self.wide = nn.Linear(n_wide, 1)
        self.wide_cats = nn.ModuleList(nn.Embedding(n, 1) for n in cat_sizes)
        with torch.no_grad():  # the wide term starts at 0: the model starts at the bias (the base rate)
            self.wide.weight.zero_()
            self.wide.bias.zero_()
            for emb in self.wide_cats:
                emb.weight.zero_()
        self.loss = nn.BCEWithLogitsLoss()

    def wide_logit(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The linear term over the tabular features and the categories, shape (N,)."""
        return self.wide_of(batch["user_x"], batch["track_x"], batch["dense"],
                            [emb(batch["cats"][:, i]) for i, emb in enumerate(self.wide_cats)])

    def wide_of(self, user_x: torch.Tensor, track_x: torch.Tensor, dense: torch.Tensor, cats: list[torch.Tensor]) -> torch.Tensor:
        """The linear term from the features and each category's looked-up term (N, 1) on, shape (N,)."""
        wide = self.wide(torch.cat([user_x, track_x, dense], dim=1)).squeeze(1)
        for term in cats:
            wide = wide + term.squeeze(1)
        return wide

    def logit(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        u, t = self.model(batch)
        return self.model.score(u, t) + self.wide_logit(batch)

    def drop_ids(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The batch with each id replaced by 0 (unknown) with probability ``id_dropout``."""
        if self.model.cfg.id_dropout <= 0:
            return batch
        batch = dict(batch)
        for key in ("user_bucket", "track_bucket", "artist_bucket"):
            keep = torch.rand(batch[key].shape, device=batch[key].device) >= self.model.cfg.id_dropout
            batch[key] = batch[key] * keep
        return batch

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.training:
            batch = self.drop_ids(batch)
        return self.loss(self.logit(batch), batch["label"])
