"""What the listening history says that needs a fitted model: the similarity of a row's track to
the tracks the listener recently finished and to those they recently disliked, in a projection of
the text vectors learnt when the model is trained. A table model (the LightGBM baseline) reads them
beside the counts and shares of the same plays, which are feature columns (``hx_*``, ``hsx_genre_*``:
sql/features/families/31, 32, 40, 50), so that comparing it with the history encoder measures the
architecture, not the information (docs/models.md, "a fair comparison").

From the sequence columns of the listening-history families (``h_*``: the listener's last plays
before the row's day; ``hs_*``: the earlier plays of the row's session) and, per track, its MiniLM
text vector, each row gets the columns of :data:`COLUMNS`: the mean cosine similarity of the row's
track to the recently completed and to the recently disliked tracks, among the listener's last plays
and among the session's earlier ones. This is the model's own transform (saved with it); the labels
are the catalogue's (``skipify.catalogue.MODEL_INPUTS``).

Similarities are taken in a small space: the text vectors projected on their first ``dims``
principal axes (fitted on the catalogue's vectors when the model is trained, saved with it). A play
of a track the catalogue does not know counts as no play; an unknown candidate matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from skipify.catalogue import MODEL_INPUTS  # their labels and sentences, kept with every feature's

if TYPE_CHECKING:
    from skipify.models.base import Resources

# skipify.models.history (torch) is imported where it is used

COLUMNS = tuple(MODEL_INPUTS)
CHUNK = 100_000  # rows per block: its plays (up to rows x history_len) and their vectors are held at once


@dataclass
class TrackTable:
    """Per track: its id and its text vector in the projected space (unit length; 0 without text)."""

    ids: pa.Array
    vectors: np.ndarray

    @cached_property
    def axes_first(self) -> np.ndarray:
        """The vectors as (dims x tracks), each axis contiguous."""
        return np.ascontiguousarray(self.vectors.T)

    @cached_property
    def index(self):
        from skipify.models.history import TrackIndex

        return TrackIndex(self.ids)

    @classmethod
    def build(cls, keys: pl.DataFrame, content: dict[str, np.ndarray], projection: "Projection") -> "TrackTable":
        """From the catalogue's keys (track_id) and content vectors (text first)."""
        from skipify.models.history import TEXT_DIM

        ids = keys["track_id"].cast(pl.String)
        text = np.stack([content[t][:TEXT_DIM] if t in content else np.zeros(TEXT_DIM, np.float32) for t in ids.to_list()]) \
            if keys.height else np.zeros((0, TEXT_DIM), np.float32)
        return cls(ids.to_arrow(), projection.apply(text))


@dataclass
class Projection:
    """Centre and principal axes of the text vectors (fitted on the catalogue when a model is trained)."""

    mean: np.ndarray
    axes: np.ndarray  # TEXT_DIM x dims

    @classmethod
    def fit(cls, content: dict[str, np.ndarray], dims: int) -> "Projection":
        from skipify.models.history import TEXT_DIM

        text = np.stack([v[:TEXT_DIM] for v in content.values()]) if content else np.zeros((0, TEXT_DIM), np.float32)
        text = text[np.linalg.norm(text, axis=1) > 0]  # tracks not embedded yet say nothing about the space
        if len(text) <= dims:
            return cls(np.zeros(TEXT_DIM, np.float32), np.zeros((TEXT_DIM, dims), np.float32))
        mean = text.mean(axis=0)
        _, _, vt = np.linalg.svd(text - mean, full_matrices=False)
        return cls(mean.astype(np.float32), vt[:dims].T.astype(np.float32))

    def apply(self, text: np.ndarray) -> np.ndarray:
        """Unit vectors in the projected space; a track without text stays 0 (similar to nothing)."""
        x = (text - self.mean) @ self.axes
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.where(norm > 0, x / np.maximum(norm, 1e-12), 0.0)
        return np.where(np.linalg.norm(text, axis=1, keepdims=True) > 0, x, 0.0).astype(np.float32)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.maximum(whole, 1), np.nan)


def similarities(rows: pl.DataFrame, table: TrackTable, length: int) -> pl.DataFrame:
    """The :data:`COLUMNS` of ``rows`` (which carry track_id and the sequence columns), in blocks of
    ``CHUNK`` rows (memory: a block's plays and their vectors, not the whole frame's).

    A similarity is missing (NaN) where there is nothing to average (no such plays, or a candidate without text).
    """
    parts = [_block(rows.slice(lo, CHUNK), table, length) for lo in range(0, rows.height, CHUNK)]
    return pl.concat(parts) if parts else pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.Float64))


def _block(rows: pl.DataFrame, table: TrackTable, length: int) -> pl.DataFrame:
    from skipify.models.history import SEQUENCES, flat_sequence

    n = rows.height
    cand = table.index.lookup(rows["track_id"])
    known = cand >= 0
    pick = np.where(known, cand, 0)
    if len(table.ids) == 0:  # no catalogue: nothing is similar
        cand_vec = np.zeros((n, table.vectors.shape[1]), np.float32)
    else:
        cand_vec = np.where(known[:, None], table.vectors[pick], 0.0).astype(np.float32)
    has_text = np.linalg.norm(cand_vec, axis=1) > 0  # a candidate without text is similar to nothing

    def per_row(weights: np.ndarray, row: np.ndarray) -> np.ndarray:
        # float even without plays (bincount of nothing is int64 whatever the weights)
        return np.bincount(row, weights=weights.astype(np.float64), minlength=n).astype(np.float64)

    out: dict[str, np.ndarray] = {}
    for prefix, kind in (("hx", "listening"), ("hsx", "session")):
        f = flat_sequence(rows, SEQUENCES[kind], table.index, length)
        played = f.idx >= 0  # a track the catalogue does not know counts as no play
        row, idx, bad = f.row[played], f.idx[played], f.outcome[played] > 0
        sims = np.zeros(len(row), np.float32)  # one axis at a time: no (plays x dims) copies
        for d, axis in enumerate(table.axes_first):
            sims += axis[idx] * cand_vec[row, d]
        plays, dislikes = per_row(np.ones(len(row)), row), per_row(bad, row)
        out[f"{prefix}_sim_completed"] = np.where(has_text, _share(per_row(sims * ~bad, row), plays - dislikes), np.nan)
        out[f"{prefix}_sim_disliked"] = np.where(has_text, _share(per_row(sims * bad, row), dislikes), np.nan)
    return pl.DataFrame({c: out[c] for c in COLUMNS})


@dataclass
class Recent:
    """The similarities a model adds to its rows: the text projection (fitted when the model is
    trained, saved with it) and the catalogue's tracks (as of loading)."""

    projection: Projection
    tracks: TrackTable
    length: int

    @classmethod
    def fit(cls, resources: "Resources", dims: int, length: int) -> "Recent":
        projection = Projection.fit(resources.content, dims)
        return cls(projection, TrackTable.build(resources.track_keys, resources.content, projection), length)

    def add(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` with the :data:`COLUMNS` (a model saved when it made more of them, before the history's
        counts became feature columns, finds those among the rows' features)."""
        return rows.hstack(similarities(rows, self.tracks, self.length))  # eager: a concat is a query (0.2 ms a request)

    def save(self, path: Path) -> Path:
        np.savez(path, mean=self.projection.mean, axes=self.projection.axes, length=np.int64(self.length))
        return path

    @classmethod
    def load(cls, path: Path, resources: "Resources") -> "Recent":
        with np.load(path) as z:
            projection, length = Projection(z["mean"], z["axes"]), int(z["length"])
        return cls(projection, TrackTable.build(resources.track_keys, resources.content, projection), length)
