"""The shared scored tiny warehouse's world and settings (used by tests/conftest.py and the tests that read it)."""

from __future__ import annotations

import datetime as dt

START = dt.date(2026, 1, 1)
# music and podcasts (docs/domains.md): the night, the API and the app are tested with items of two domains
SCORED_DOMAINS = ("music", "podcast")
NIGHT = START + dt.timedelta(days=14)  # the last published night; NIGHT - 1 day is published too
# domain_models_min_rows: the podcasts (about 700 training and 200 validation plays) get models of their own, which the
# per-domain gate compares with the joint ones (tests/model/test_domain_gate.py)
SCORED_SETTINGS = {"split_test_days": 3, "split_valid_days": 3, "candidates_k": 8, "rotation_k": 4,
                   "nightly_shards": 3, "nightly_workers": 1, "shap_night_sample": 60, "shap_sample": 200, "domain_models_min_rows": 50,
                   "train_chunk_rows": 1024}  # training maps its rows and tensors, a chunk at a time (test_bounded.py)


def tiny_deep_config():
    from skipify.models.deep import DeepConfig
    from skipify.models.history import HistoryConfig
    from skipify.models.mlp import MLPConfig
    from skipify.models.two_tower import TwoTowerConfig

    return DeepConfig(epochs=2, batch_size=256, tower=TwoTowerConfig(dim=8, hidden=16, taste_from_history=True), mlp=MLPConfig(hidden=[32, 16]),
                      history=HistoryConfig(dim=8, track_buckets=1000))


def tiny_lgbm_config():
    from skipify.models.lgbm import LGBMConfig

    return LGBMConfig(num_leaves=15, max_rounds=100)


def assert_rows_equal(expected, got) -> None:
    """Feature rows equal column for column: lists and text exactly, numbers to 1e-12 (NaN where NaN)."""
    import numpy as np
    import polars as pl

    assert sorted(got.columns) == sorted(expected.columns) and got.height == expected.height
    for col in expected.columns:
        a, b = expected[col], got[col]
        if isinstance(a.dtype, pl.List):  # the sequences
            assert a.to_list() == b.to_list(), col
        elif a.dtype == pl.String or a.dtype.is_temporal():
            assert a.cast(pl.String).equals(b.cast(pl.String)), col
        else:
            x, y = a.cast(pl.Float64).to_numpy(), b.cast(pl.Float64).to_numpy()
            assert np.array_equal(np.isnan(x), np.isnan(y)) and np.allclose(x, y, rtol=0, atol=1e-12, equal_nan=True), col


def read(cfg, sql: str, params: dict | None = None):
    """A query's rows as a Polars frame, on a read-only connection to ``cfg``'s warehouse (closed after)."""
    from skipify.warehouse import connect

    con = connect(cfg, read_only=True)
    try:
        return con.execute(sql, params or {}).pl()
    finally:
        con.close()
