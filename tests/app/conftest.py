"""A small warehouse with a trained version and one published night, shared by the app's tests."""

from __future__ import annotations

import datetime as dt

import pytest

from skipify.config import load_config
from skipify.generate import WorldParams, build_world, write_world
from skipify.models.deep import DeepConfig
from skipify.models.lgbm import LGBMConfig
from skipify.models.mlp import MLPConfig
from skipify.models.two_tower import TwoTowerConfig
from skipify.nightly import ingest_landing, run_night
from skipify.train import train

START = dt.date(2026, 1, 1)
NIGHT = START + dt.timedelta(days=14)


@pytest.fixture(scope="session")
def night() -> dt.date:
    return NIGHT


@pytest.fixture(scope="session")
def app_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("app_home")
    cfg = load_config(home=home, split_test_days=3, split_valid_days=3, shap_night_sample=30, shap_sample=200)
    write_world(build_world(WorldParams(users=150, tracks=150, days=17, seed=11, start=START)), cfg.world_dir)
    ingest_landing(NIGHT, cfg)
    train(NIGHT, cfg=cfg, device="cpu", lgbm_config=LGBMConfig(num_leaves=15, max_rounds=100),
          deep_config=DeepConfig(epochs=2, batch_size=256, tower=TwoTowerConfig(dim=8, hidden=16), mlp=MLPConfig(hidden=[32, 16])))
    run_night(NIGHT - dt.timedelta(days=1), cfg)
    run_night(NIGHT, cfg)
    return home
