"""Turn feature rows into model inputs, with statistics fitted on training rows only.

Numbers are kept as they are for trees; for networks, heavy-tailed non-negative counts (play
counts, days since) are put on a log scale first, then everything is standardised and clipped; text columns become
integer codes from a vocabulary fitted on the training rows (unknown values get code -1 for trees,
a shared "unknown" slot for networks). Everything is saved as JSON with the model, so a model
scores new rows exactly as it saw its training rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from skipify.lookup import SMALL_FRAME

# keys, the label, and what a row's sequences are gathered from (the play's number, the anchors)
NOT_FEATURES = ("user_id", "track_id", "ts", "day", "label", "early_skip", "probe_id", "play_id", "n", "h_until", "hs_prev")


@dataclass
class Preprocessor:
    """Feature list and statistics of one model version."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    vocab: dict[str, list[str]] = field(default_factory=dict)  # column -> values, code = position
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    log_scale: list[str] = field(default_factory=list)  # numeric columns taken as log1p for networks

    @classmethod
    def fit(cls, rows: pl.DataFrame, max_categories: int = 200, skew_limit: float = 2.0) -> "Preprocessor":
        """Learn the feature list (every column but the keys, the label and sequences), vocabularies (the most frequent values), which counts to log-scale
        (non-negative, skewness above ``skew_limit``) and moments from training rows."""
        # list columns are sequences (the listening history): a sequence model reads them, not these inputs
        feats = [c for c in rows.columns if c not in NOT_FEATURES and not isinstance(rows.schema[c], pl.List)]
        cat = [c for c in feats if rows.schema[c] in (pl.String, pl.Categorical, pl.Enum)]
        num = [c for c in feats if c not in cat]
        vocab = {}
        for c in cat:
            counts = rows[c].cast(pl.String).drop_nulls().value_counts(sort=True)
            vocab[c] = counts[c].head(max_categories).sort().to_list()
        prep = cls(num, cat, vocab, {}, {}, [])
        for c in num:  # a column at a time: what is held is one column as floats, not the rows as a matrix
            x = rows[c].cast(pl.Float64)
            if (x.min() or 0) >= 0 and (x.skew() or 0) > skew_limit:
                prep.log_scale.append(c)
                x = x.log1p()
            x = x.fill_nan(None)  # missing, as NaN is to numpy's nanmean
            finite = bool(x.is_finite().any())
            prep.mean[c] = float(x.mean()) if finite else 0.0
            prep.std[c] = (float(x.std(ddof=0)) or 1.0) if finite else 1.0
        return prep

    def _numbers(self, rows: pl.DataFrame) -> np.ndarray:
        """Numeric columns for networks, log1p where the training rows were heavy-tailed (NaN = missing)."""
        return rows.select(self._network_numbers).to_numpy()

    # the expressions, made once (sixty of them cost a single-row request 0.2 ms each time)
    @cached_property
    def _network_numbers(self) -> list[pl.Expr]:
        logged = set(self.log_scale)
        return [(pl.col(c).cast(pl.Float64).log1p() if c in logged else pl.col(c).cast(pl.Float64)) for c in self.numeric]

    @cached_property
    def _tree_numbers(self) -> list[pl.Expr]:
        return [pl.col(c).cast(pl.Float64) for c in self.numeric]

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @cached_property
    def _lookups(self) -> dict[str, dict[str, int]]:
        return {c: {v: i for i, v in enumerate(values)} for c, values in self.vocab.items()}

    def _codes(self, rows: pl.DataFrame, c: str) -> np.ndarray:
        """Vocabulary positions of a text column (-1: unknown or missing)."""
        lookup = self._lookups[c]
        values = rows[c].cast(pl.String)
        if rows.height <= SMALL_FRAME:  # a few rows (the API): a dict lookup beats building polars' mapping
            return np.fromiter((lookup.get(v, -1) for v in values.to_list()), dtype=np.int64, count=rows.height)
        return values.replace_strict(lookup, default=-1, return_dtype=pl.Int64).fill_null(-1).to_numpy()

    def tree_matrix(self, rows: pl.DataFrame) -> np.ndarray:
        """Numbers as they are (NaN for missing), categories as codes (NaN when unknown)."""
        have = set(rows.columns)
        missing = [c for c in self.features if c not in have]
        if missing:
            raise ValueError(f"rows lack feature columns: {missing}")
        num = rows.select(self._tree_numbers).to_numpy()
        cats = np.stack([self._codes(rows, c) for c in self.categorical], axis=1).astype(np.float64) if self.categorical else np.empty((rows.height, 0))
        cats[cats < 0] = np.nan
        return np.hstack([num, cats]).astype(np.float32)

    def dense(self, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """For networks: standardised numbers clipped to [-5, 5] (missing -> 0 plus a missing flag) and
        category codes shifted by one (0 = unknown)."""
        num = self._numbers(rows)
        mu = np.array([self.mean[c] for c in self.numeric])
        sd = np.array([self.std[c] for c in self.numeric])
        missing = np.isnan(num)
        z = np.where(missing, 0.0, np.clip((num - mu) / sd, -5, 5))
        x = np.hstack([z, missing.astype(np.float64)]).astype(np.float32)
        codes = np.stack([self._codes(rows, c) + 1 for c in self.categorical], axis=1) if self.categorical else np.zeros((rows.height, 0), dtype=np.int64)
        return x, codes

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> "Preprocessor":
        return cls(**json.loads(Path(path).read_text()))
