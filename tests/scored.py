"""The shared scored tiny warehouse's world and settings (used by tests/conftest.py and the tests that read it)."""

from __future__ import annotations

import datetime as dt

START = dt.date(2026, 1, 1)
NIGHT = START + dt.timedelta(days=14)  # the last published night; NIGHT - 1 day is published too
SCORED_SETTINGS = {"split_test_days": 3, "split_valid_days": 3, "candidates_k": 8, "rotation_k": 4,
                   "nightly_shards": 3, "shap_night_sample": 60, "shap_sample": 200}


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
