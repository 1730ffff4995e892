"""Ids found without a Python object per id: :class:`SortedIds`, sorted strings searched as fixed-width bytes.

A request's few ids are looked up one way, a night's batches another: below ``SMALL_FRAME`` rows (an API
request) Python lists and binary searches, where a Polars expression's fixed cost would be most of the time;
above it, joins. Both give the same answers (tests/api/test_serving.py, tests/code/test_features.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl

SMALL_FRAME = 256  # rows; at most this many (an API request), lookups go through Python lists, not expressions


class SortedIds:
    """Distinct strings, sorted: each one's position and membership, without a Python object per id. Held twice,
    as a column (Polars joins for large batches) and as fixed-width UTF-8 bytes (a binary search for a request's few
    ids), so that a process maps both from files (skipify.snapshots) instead of building a dict or a set of its own."""

    def __init__(self, values: pl.Series, encoded: np.ndarray | None = None):
        self.values = values.cast(pl.String).rename("id")  # sorted, distinct, no null
        self.encoded = _as_bytes(self.values) if encoded is None else encoded

    @classmethod
    def of(cls, values: pl.Series) -> "SortedIds":
        return cls(values.cast(pl.String).drop_nulls().unique().sort())

    @classmethod
    def if_sorted(cls, values: pl.Series) -> "SortedIds | None":
        """``values`` as they are when they are sorted, distinct and without nulls; else None."""
        values = values.cast(pl.String)
        if values.null_count():
            return None
        try:
            return cls(values)
        except ValueError:  # not in order of their bytes, or repeated (_as_bytes checks)
            return None

    def __len__(self) -> int:
        return len(self.values)

    def positions(self, keys: pl.Series) -> np.ndarray:
        """Each key's position among the values (-1: null, or not among them)."""
        if keys.len() <= SMALL_FRAME:
            return self._search(keys.to_list())
        index = pl.DataFrame({"id": self.values, "pos": np.arange(len(self.values), dtype=np.int64)})
        found = keys.cast(pl.String).rename("id").to_frame().join(index, on="id", how="left", maintain_order="left")
        return found["pos"].fill_null(-1).to_numpy()

    def has(self, keys: pl.Series) -> np.ndarray:
        return self.positions(keys) >= 0

    def _search(self, keys: list) -> np.ndarray:
        out = np.full(len(keys), -1, dtype=np.int64)
        raw = [None if k is None else k.encode() for k in keys]
        # an id longer than the widest value is none of them (cut to the width, it could match one)
        ok = [i for i, b in enumerate(raw) if b is not None and len(b) <= self.encoded.dtype.itemsize]
        if ok and len(self.encoded):
            probe = np.array([raw[i] for i in ok], dtype=self.encoded.dtype)
            pos = np.minimum(np.searchsorted(self.encoded, probe), len(self.encoded) - 1)
            hit = self.encoded[pos] == probe
            out[np.array(ok)[hit]] = pos[hit]
        return out


def _as_bytes(values: pl.Series) -> np.ndarray:
    """Sorted strings as fixed-width UTF-8 bytes, in the same order (checked: a binary search relies on it)."""
    raw = [v.encode() for v in values.to_list()]
    out = np.array(raw, dtype=f"S{max((len(b) for b in raw), default=1) or 1}")
    if len(out) > 1 and not (out[:-1] < out[1:]).all():
        raise ValueError("ids sorted by Polars are not in the order of their UTF-8 bytes")
    return out
