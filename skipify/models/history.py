"""The listening-history encoder: the candidate track attends over the listener's recent plays.

Two sequences per row, both from the feature families (sql/features/families/50_, 60_), gathered
as list columns by skipify.sequences:

* the listener's last ``history_len`` plays before the row's day (``h_track_ids``, ``h_outcomes``,
  ``h_days_before``);
* the earlier plays of the row's own session (``hs_track_ids``, ``hs_outcomes``, ``hs_minutes_before``).

Each play becomes a vector: its track (a hashed id embedding plus its projected content vector: the
MiniLM text vector and the audio descriptors, which place a track's style within its genre),
plus an outcome embedding (completed / early skip / dislike) and a time-gap bucket embedding. The
candidate track, encoded the same way, is the query of a target attention (as in DIN): the plays
that ended in a dislike or an early skip and those that were completed are pooled **separately**,
so the model can ask "is this track like what they just skipped?" and "like what they finish?"
apart. Per sequence and pool the output is the pooled vector and its element-wise product with the
candidate (as the WSDM Cup 2019 winner did with the history state), plus the pool's share of the
sequence: ``HistoryEncoder.width`` numbers that join the dislike MLP's input.

``pooling="mean"`` (an ablation: no attention) averages each pool instead. ``pooling="transformer"``
first runs one transformer block (self-attention over the sequence's plays, pre-norm, two heads)
and then pools its outputs with the same target attention. ``outcomes=False`` (an ablation) drops the
outcome embedding and the split: one pool over every play.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa
import torch
from torch import nn
from torch.nn import functional as F

from skipify.lookup import SMALL_FRAME, SortedIds
from skipify.sequences import SEQUENCES as _SEQUENCES

# (track ids, outcomes, time before the row) per sequence, as skipify.sequences gathers them
SEQUENCES = {kind: seq.columns for kind, seq in _SEQUENCES.items()}
# a track's content vector (skipify.models.base.content_vectors): its MiniLM text vector, then its audio
# descriptors (sql/models/track_vectors.sql)
TEXT_DIM = 384
AUDIO_DIM = 11
CONTENT_DIM = TEXT_DIM + AUDIO_DIM
GAP_BUCKETS = 16  # log2 buckets of the time before the row (days, or minutes in a session)


@dataclass
class HistoryConfig:
    """Sizes of the history encoder, saved with the weights (``enabled=False``: a model without it)."""

    enabled: bool = False  # on or off per training run, by validation (DeepConfig.choose_history; docs/models.md)
    dim: int = 32
    track_buckets: int = 50_000
    content_dim: int = CONTENT_DIM  # the whole content vector: text and audio
    pooling: str = "attention"  # or "mean" (ablation), "transformer" (one self-attention block first)
    outcomes: bool = True  # False (ablation): no outcome embedding, one pool


def gap_bucket(x: np.ndarray) -> np.ndarray:
    """Time before the row (days or minutes, >= 0) as a log2 bucket in [0, GAP_BUCKETS)."""
    return np.clip(np.floor(np.log2(1.0 + np.maximum(x, 0.0))), 0, GAP_BUCKETS - 1).astype(np.int8)


class TrackIndex:
    """Tracks by position: a frame to join large batches to; for small ones a binary search when the ids are sorted
    and distinct (the catalogue's, whose dict held 7 MiB in each API worker at 55,000 tracks), else a dict (made
    on first use)."""

    def __init__(self, ids: pa.Array):
        self.ids = ids

    @cached_property
    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({"track": pl.Series(self.ids).cast(pl.String), "idx": np.arange(len(self.ids), dtype=np.int32)})

    @cached_property
    def positions(self) -> dict[str, int] | SortedIds:
        found = SortedIds.if_sorted(pl.Series(self.ids))
        return found if found is not None else {t: i for i, t in enumerate(self.ids.to_pylist())}

    def lookup(self, tracks: pl.Series) -> np.ndarray:
        """Each track's position (-1: not in the index)."""
        if tracks.len() <= SMALL_FRAME:
            found = self.positions
            if isinstance(found, SortedIds):
                return found.positions(tracks)
            return np.array([found.get(t, -1) for t in tracks.to_list()], dtype=np.int64)
        found = tracks.cast(pl.String).to_frame("track").join(self.frame, on="track", how="left", maintain_order="left")
        return found["idx"].fill_null(-1).to_numpy().astype(np.int64)


@dataclass
class Flat:
    """One sequence of a frame's rows, every kept play end to end (a row's plays most recent first):
    its row, its position in the row's sequence (0 = most recent), its track's position in the track
    index (-1: a track the index does not hold), its outcome and the time from it to the row."""

    row: np.ndarray
    pos: np.ndarray
    idx: np.ndarray
    outcome: np.ndarray
    before: np.ndarray


def flat_sequence(rows: pl.DataFrame, columns: tuple[str, str, str], index: TrackIndex, length: int) -> Flat:
    """The first ``length`` plays of each row's sequence (``columns``: tracks, outcomes, time before).

    Large frames stay in Polars (a list column of strings converted to Arrow is copied, which cost
    more than the rest); small ones (an API request) go through Python lists, where a Polars call's
    fixed cost would be most of the time. Both give the same arrays (tests/model/test_history.py).
    """
    tracks, outcomes, gaps = columns
    if rows.height <= SMALL_FRAME:
        found = [(r, p, t, o, g) for r, (ts, os, gs) in enumerate(zip(*(rows[c].to_list() for c in columns)))
                 for p, (t, o, g) in enumerate(zip((ts or [])[:length], os or [], gs or []))]
        row, pos, names, outcome, before = (list(x) for x in zip(*found)) if found else ([], [], [], [], [])
        return Flat(np.array(row, np.int64), np.array(pos, np.int64), index.lookup(pl.Series(names, dtype=pl.String)),
                    np.array(outcome, np.int8), np.array(before, np.float64))
    lengths = rows[tracks].list.len().fill_null(0).to_numpy().astype(np.int64)
    # an empty or missing list explodes to one null: such rows are left out first
    plays = (rows.select(pl.col(tracks).alias("track"), pl.col(outcomes).alias("outcome"), pl.col(gaps).alias("before"))
             .filter(pl.col("track").list.len() > 0).explode("track", "outcome", "before"))
    starts = np.cumsum(lengths) - lengths
    row = np.repeat(np.arange(rows.height), lengths)
    pos = np.arange(plays.height) - np.repeat(starts, lengths)
    keep = pos < length
    return Flat(row[keep], pos[keep], index.lookup(plays["track"])[keep],
                plays["outcome"].to_numpy().astype(np.int8)[keep], plays["before"].to_numpy().astype(np.float64)[keep])


def padded(rows: pl.DataFrame, columns: tuple[str, str, str], track_index: "pa.Array | TrackIndex", length: int) -> dict[str, np.ndarray]:
    """One sequence of ``rows`` as padded matrices (rows x ``length``), most recent first.

    ``idx``: position of each play's track in ``track_index`` (-1: padding, or a track the index does
    not hold); ``outcome`` (0 completed, 1 early skip, 2 dislike); ``gap``: bucket of the time before the row.
    """
    n = rows.height
    out = {"idx": np.full((n, length), -1, np.int32), "outcome": np.zeros((n, length), np.int8),
           "gap": np.zeros((n, length), np.int8)}
    f = flat_sequence(rows, columns, track_index if isinstance(track_index, TrackIndex) else TrackIndex(track_index), length)
    out["idx"][f.row, f.pos] = f.idx
    out["outcome"][f.row, f.pos] = f.outcome
    out["gap"][f.row, f.pos] = gap_bucket(f.before)
    return out


def history_track_ids(rows: pl.DataFrame) -> pa.Array:
    """Every distinct track id in the rows' sequences."""
    parts = [rows[cols[0]].explode().drop_nulls() for cols in SEQUENCES.values()]
    return pl.concat(parts).cast(pl.String).unique(maintain_order=True).to_arrow().cast(pa.string())


class HistoryEncoder(nn.Module):
    """Target attention of the candidate track over the two sequences; see the module docstring."""

    def __init__(self, cfg: HistoryConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.ids = nn.Embedding(cfg.track_buckets, d)
        self.content = nn.Linear(cfg.content_dim, d)
        self.outcome = nn.Embedding(3, d)
        self.gaps = nn.ModuleDict({k: nn.Embedding(GAP_BUCKETS, d) for k in SEQUENCES})
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)
        self.norm = nn.LayerNorm(d)
        if cfg.pooling == "transformer":
            self.block = nn.TransformerEncoderLayer(d, nhead=2, dim_feedforward=2 * d, dropout=0.1, batch_first=True, norm_first=True)

    @property
    def pools(self) -> tuple[tuple[int, ...], ...]:
        """Outcome codes pooled together: (dislike, early skip) and (completed), or all in one."""
        return ((1, 2), (0,)) if self.cfg.outcomes else ((0, 1, 2),)

    @property
    def width(self) -> int:
        return len(SEQUENCES) * len(self.pools) * (2 * self.cfg.dim + 1)

    def items(self, bucket: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """Track vectors from hashed ids and content vectors (text and audio)."""
        return self.norm(self.ids(bucket) + self.content(content))

    def pool(self, query: torch.Tensor, items: torch.Tensor, outcome: torch.Tensor, gap: torch.Tensor,
             mask: torch.Tensor, kind: str) -> torch.Tensor:
        """(N, pools x (2 dim + 1)): per pool, the pooled plays, their product with the query, the pool's share."""
        # small tables as one-hot products: on CPU their backward is a matmul, not a scatter
        e = items + F.one_hot(gap, GAP_BUCKETS).to(items.dtype) @ self.gaps[kind].weight
        if self.cfg.outcomes:
            e = e + F.one_hot(outcome, 3).to(items.dtype) @ self.outcome.weight
        if self.cfg.pooling == "transformer":  # each play in the context of the others
            pad = ~mask
            pad[:, 0] = False  # a row without plays keeps one (padding) position: a fully masked row gives NaN
            e = self.block(e, src_key_padding_mask=pad)
        scores = (self.key(e) @ self.query(query).unsqueeze(2)).squeeze(2) / math.sqrt(self.cfg.dim)
        n = mask.sum(dim=1, keepdim=True).clamp(min=1)
        out = []
        for codes in self.pools:
            member = mask & torch.isin(outcome, torch.tensor(codes, device=outcome.device))
            if self.cfg.pooling == "mean":
                w = member.float()
            else:  # a softmax over the pool's plays (all weights 0 for an empty pool)
                s = scores.masked_fill(~member, float("-inf"))
                top = s.max(dim=1, keepdim=True).values.detach()
                w = torch.exp(s - torch.where(torch.isfinite(top), top, torch.zeros_like(top)))
            w = w / w.sum(dim=1, keepdim=True).clamp(min=1e-9)
            pooled = (w.unsqueeze(2) * e).sum(dim=1)
            out += [pooled, pooled * query, member.sum(dim=1, keepdim=True) / n]
        return torch.cat(out, dim=1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The history block of a batch (see ``deep.Inputs.batch``): shape (N, width).

        The batch holds its distinct tracks once (``seq_bucket``, ``seq_content``); the candidate
        (``seq_cand``) and the plays (``<kind>_pos``, -1 = padding) point into them."""
        vectors = self.items(batch["seq_bucket"], batch["seq_content"])
        query = vectors[batch["seq_cand"]]
        parts = []
        for kind in SEQUENCES:
            pos = batch[f"{kind}_pos"]
            parts.append(self.pool(query, F.embedding(pos.clamp(min=0), vectors), batch[f"{kind}_outcome"].long(),
                                   batch[f"{kind}_gap"].long(), pos >= 0, kind))
        return torch.cat(parts, dim=1)


def batch_tracks(cand: torch.Tensor, seqs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """A batch's distinct tracks (indices into the Inputs' track table), and the candidate's and each
    sequence's positions among them (-1 stays padding)."""
    flat = torch.cat([cand] + [s.reshape(-1) for s in seqs.values()])
    uniq, inverse = torch.unique(flat.clamp(min=0), return_inverse=True)
    lo = n = cand.shape[0]
    out = {}
    for k, s in seqs.items():
        size = s.numel()
        out[k] = torch.where(s >= 0, inverse[lo : lo + size].reshape(s.shape), -1)
        lo += size
    return uniq, inverse[:n], out
