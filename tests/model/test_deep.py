"""The two-tower + MLP deep model: learns, deterministic by seed, calibrated, cold start safe."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from skipify.config import load_config
from skipify.data import time_splits
from skipify.metrics import log_loss, roc_auc
from skipify.models.deep import DeepConfig, train_deep
from skipify.models.history import CONTENT_DIM, HistoryConfig
from skipify.models.mlp import MLPConfig
from skipify.models.two_tower import TwoTower, TwoTowerConfig, TwoTowerTask, hash_ids

TINY = dict(epochs=2, batch_size=256, tower=TwoTowerConfig(dim=8, hidden=16, user_buckets=1000, track_buckets=1000, taste_from_history=True),
            mlp=MLPConfig(hidden=[32, 16]), history=HistoryConfig(dim=8, track_buckets=1000), choose_history=False)


@pytest.fixture(scope="module")
def splits(small_rows):
    return time_splits(small_rows, load_config(split_test_days=4, split_valid_days=3))


@pytest.fixture(scope="module")
def text(small_rows):
    rng = np.random.default_rng(0)
    return {t: rng.normal(size=CONTENT_DIM).astype(np.float32) for t in small_rows["track_id"].unique().to_list()}


@pytest.fixture(scope="module")
def model(splits, text):
    return train_deep(splits.train, splits.valid, text, DeepConfig(**TINY))


def test_learns_and_is_calibrated(model, splits):
    y = splits.test["label"].to_numpy()
    p = model.predict(splits.test)
    assert p.shape == (splits.test.height,) and ((p > 0) & (p < 1)).all()
    assert roc_auc(y, p) > 0.6
    assert abs(p.mean() - y.mean()) < 0.08


def test_temperature_does_not_worsen_validation_log_loss(model, splits):
    y = splits.valid["label"].to_numpy()
    calibrated = model.predict(splits.valid)
    with torch.no_grad():
        saved = model.mlp.log_temperature.clone()
        model.mlp.log_temperature.zero_()
        raw = model.predict(splits.valid)
        model.mlp.log_temperature.copy_(saved)
    assert log_loss(y, calibrated) <= log_loss(y, raw) + 1e-9


def test_same_seed_same_scores(model, splits, text):
    again = train_deep(splits.train, splits.valid, text, DeepConfig(**TINY))
    assert np.allclose(again.predict(splits.test), model.predict(splits.test), atol=1e-6)


def test_a_loaded_models_weights_are_its_files_pages_and_writing_them_leaves_the_files_as_they_were(model, splits, text, tmp_path):
    """load_deep maps the saved weights (copy-on-write), so the processes that load a version share them; what one
    writes into them (a fine-tuning's first steps, a temperature set by hand) is its own copy, never the file's."""
    import hashlib
    from pathlib import Path

    from skipify.models.deep import load_deep

    model.save(tmp_path)
    digest = lambda: {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in tmp_path.glob("*.pt")}  # noqa: E731
    before = digest()
    loaded = load_deep(tmp_path, text)
    assert str(tmp_path / "deep_towers.pt") in Path("/proc/self/maps").read_text()
    p = loaded.predict(splits.test)
    assert np.array_equal(p, model.predict(splits.test))
    with torch.no_grad():
        for param in loaded.towers.parameters():
            param.zero_()
    assert not np.array_equal(loaded.predict(splits.test), p)
    assert digest() == before and np.array_equal(load_deep(tmp_path, text).predict(splits.test), p)


def test_cold_start_rows_get_finite_scores(model, splits):
    cold = splits.test.head(8).with_columns(
        pl.lit("brand-new-user").alias("user_id"), pl.lit("brand-new-track").alias("track_id"),
        pl.lit(None, dtype=pl.Float64).alias("t_energy"), pl.lit("unheard-genre").alias("t_genre"),
    )
    p = model.predict(cold)
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()


def test_hashing_is_stable_and_unknown_is_zero():
    a = hash_ids(["u1", None, "u2", "u1"], 100)
    assert a[0] == a[3] and a[1] == 0 and (a[[0, 2]] >= 1).all() and (a < 100).all()
    assert np.array_equal(a, hash_ids(["u1", None, "u2", "u1"], 100))


def test_a_requests_few_ids_hash_as_a_batchs_many():
    """Up to SMALL_FRAME ids are hashed in a Python loop, more through Polars: the same buckets, "" and None unknown."""
    from skipify.models.preprocess import SMALL_FRAME

    ids = pl.Series([None, "", "u1", "t-42", "ü", *[f"x{i}" for i in range(SMALL_FRAME + 10)]])
    many = hash_ids(ids, 1000)
    assert len(ids) > SMALL_FRAME and many[0] == many[1] == 0
    for lo in range(0, len(ids), 50):
        assert np.array_equal(hash_ids(ids.slice(lo, 50), 1000), many[lo:lo + 50])
        assert np.array_equal(hash_ids(ids.slice(lo, 50).to_list(), 1000), many[lo:lo + 50])


def test_id_dropout_gives_unknown_ids_a_vector_from_features():
    cfg = TwoTowerConfig(dim=4, hidden=8, user_buckets=10, track_buckets=10, artist_buckets=10, user_features=2,
                         track_features=3, id_dropout=1.0, taste_from_history=False)
    model = TwoTower(cfg)
    batch = {"user_bucket": torch.tensor([3, 4]), "track_bucket": torch.tensor([5, 6]), "artist_bucket": torch.tensor([7, 8]),
             "genre": torch.tensor([1, 2]), "text": torch.randn(2, 384), "user_x": torch.randn(2, 2), "track_x": torch.randn(2, 3),
             "dense": torch.randn(2, 4), "cats": torch.tensor([[1], [2]]), "label": torch.tensor([0.0, 1.0])}
    loss = TwoTowerTask(model, n_wide=2 + 3 + 4, cat_sizes=[3]).train()(batch)
    loss.backward()
    for emb, used in ((model.user.ids, [3, 4]), (model.track.ids, [5, 6]), (model.track.artists, [7, 8])):
        assert emb.weight.grad[used].abs().sum() == 0  # ids dropped: only the unknown slot learns
        assert emb.weight.grad[0].abs().sum() > 0
