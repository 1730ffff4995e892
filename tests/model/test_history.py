"""The listening-history encoder: sequences as padded matrices, target attention, saved and served with the model."""

from __future__ import annotations

import logging
from dataclasses import asdict

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import torch

from skipify.data import time_splits
from skipify.config import load_config, logger
from skipify.models.deep import DeepConfig, load_deep, save_deep, train_deep
from skipify.models.two_tower import TwoTowerConfig
from skipify.models.history import CONTENT_DIM, GAP_BUCKETS, SEQUENCES, HistoryConfig, HistoryEncoder, gap_bucket, padded
from tests.model.test_deep import TINY


def test_padded_keeps_order_pads_and_truncates():
    rows = pl.DataFrame({
        "h_track_ids": [["b", "a", "c"], [], ["a"]],
        "h_outcomes": [[2, 0, 1], [], [0]],
        "h_days_before": [[0.5, 3.0, 40.0], [], [1000.0]],
    }, schema={"h_track_ids": pl.List(pl.String), "h_outcomes": pl.List(pl.UInt8), "h_days_before": pl.List(pl.Float64)})
    table = pa.array(["a", "b", "c"])
    m = padded(rows, SEQUENCES["listening"], table, length=2)
    assert m["idx"].tolist() == [[1, 0], [-1, -1], [0, -1]]  # most recent first, cut at 2, -1 = padding
    assert m["outcome"].tolist() == [[2, 0], [0, 0], [0, 0]]
    assert m["gap"][0].tolist() == [0, 2] and m["gap"][2, 0] == 9  # log2 buckets of days: 0.5 -> 0, 3 -> 2, 1000 -> 9
    assert gap_bucket(np.array([0.0, 1.0, 3.0, 1e9])).tolist() == [0, 1, 2, GAP_BUCKETS - 1]


def test_small_and_large_frames_give_the_same_matrices(small_rows):
    """A request's few rows go through Python lists, a batch through Polars: the same numbers either way."""
    from skipify.models.history import SMALL_FRAME, TrackIndex, history_track_ids

    rows = small_rows.tail(3 * SMALL_FRAME)
    assert rows.height > SMALL_FRAME and rows["h_track_ids"].list.len().max() > 0 and rows["hs_track_ids"].list.len().max() > 0
    from skipify.lookup import SortedIds

    ids = history_track_ids(rows)
    half = sorted(ids.slice(0, len(ids) // 2).to_pylist())  # half the tracks unknown: -1
    # sorted ids: a request's tracks found by binary search; in another order, by a dict
    for index, search in ((TrackIndex(pa.array(half)), SortedIds), (TrackIndex(pa.array(half[::-1])), dict)):
        for kind, cols in SEQUENCES.items():
            whole = padded(rows, cols, index, length=5)
            parts = [padded(rows.slice(lo, 100), cols, index, length=5) for lo in range(0, rows.height, 100)]
            for name, m in whole.items():
                assert np.array_equal(m, np.concatenate([p[name] for p in parts])), (kind, name)
            assert (whole["idx"] == -1).any() and (whole["idx"] >= 0).any()
        assert isinstance(index.positions, search)


def _batch(n: int, length: int, outcome: int, present: bool) -> dict[str, torch.Tensor]:
    b = {"seq_bucket": torch.tensor([1, 2, 3]), "seq_content": torch.randn(3, CONTENT_DIM), "seq_cand": torch.zeros(n, dtype=torch.long)}
    for kind in SEQUENCES:
        pos = torch.full((n, length), 1 if present else -1)
        b[f"{kind}_pos"] = pos
        b[f"{kind}_outcome"] = torch.full((n, length), outcome, dtype=torch.int8)
        b[f"{kind}_gap"] = torch.zeros((n, length), dtype=torch.int8)
    return b


@torch.no_grad()
@pytest.mark.parametrize("pooling", ["attention", "transformer"])
def test_empty_history_and_empty_pools_give_zeros_not_nan(pooling):
    torch.manual_seed(0)
    enc = HistoryEncoder(HistoryConfig(dim=4, track_buckets=10, pooling=pooling)).eval()
    empty = enc(_batch(3, 5, 0, present=False))
    assert empty.shape == (3, enc.width) and torch.isfinite(empty).all() and float(empty.abs().sum()) == 0
    # all plays completed: the dislike pool of each sequence is empty, the completed one is not
    only_completed = enc(_batch(3, 5, 0, present=True))
    block = enc.width // len(SEQUENCES)
    pool = block // 2
    assert torch.isfinite(only_completed).all()
    assert float(only_completed[:, :pool].abs().sum()) == 0 and float(only_completed[:, pool:block].abs().sum()) > 0


@pytest.fixture(scope="module")
def trained(small_rows):
    splits = time_splits(small_rows, load_config(split_test_days=4, split_valid_days=3))
    rng = np.random.default_rng(0)
    text = {t: rng.normal(size=CONTENT_DIM).astype(np.float32) for t in small_rows["track_id"].unique().to_list()}
    with_encoder = {**TINY, "history": HistoryConfig(enabled=True, dim=8, track_buckets=1000)}
    return splits, text, train_deep(splits.train, splits.valid, text, DeepConfig(**with_encoder))


def test_the_score_reads_the_history(trained):
    splits, _, model = trained
    rows = splits.test.filter(pl.col("h_track_ids").list.len() > 0).head(50)
    flipped = rows.with_columns(pl.col("h_outcomes").list.eval(2 - pl.element()))  # completed <-> dislike
    assert model.encoder is not None and "h_track_ids" in model.columns
    assert not np.allclose(model.predict(rows), model.predict(flipped))
    # the user tower's taste alone reads it too (vectors come from the towers, not the encoder)
    assert not np.allclose(model.vectors(rows)[0], model.vectors(flipped)[0])


def test_saved_model_scores_the_same_and_needs_the_sequences(trained, tmp_path):
    splits, text, model = trained
    save_deep(model, tmp_path)
    again = load_deep(tmp_path, text)
    assert again.encoder is not None
    assert np.allclose(again.predict(splits.test), model.predict(splits.test), atol=1e-6)
    with pytest.raises(ValueError, match="sequence columns"):
        again.predict(splits.test.drop("hs_outcomes"))


def test_a_model_without_taste_or_encoder_reads_no_sequences(trained):
    splits, text, _ = trained
    tower = TwoTowerConfig(**{**asdict(TINY["tower"]), "taste_from_history": False})
    plain = train_deep(splits.train, splits.valid, text, DeepConfig(**{**TINY, "tower": tower, "history": HistoryConfig(enabled=False)}))
    assert plain.encoder is None and not any(c.startswith(("h_", "hs_")) for c in plain.columns)
    assert np.isfinite(plain.predict(splits.test.drop([c for cols in SEQUENCES.values() for c in cols]))).all()


def test_the_transformer_block_and_the_id_ablation_train_save_and_load(trained, tmp_path):
    """The one-block transformer (pooling="transformer") and the model without id embeddings (ids=False)
    train, score finitely, and load as saved; without ids, the listener's id no longer changes the score."""
    splits, text, _ = trained
    tower = TwoTowerConfig(**{**asdict(TINY["tower"]), "ids": False})
    cfg = DeepConfig(**{**TINY, "tower": tower, "history": HistoryConfig(enabled=True, dim=8, track_buckets=1000, pooling="transformer")})
    model = train_deep(splits.train, splits.valid, text, cfg)
    assert hasattr(model.encoder, "block") and np.isfinite(model.predict(splits.test)).all()
    save_deep(model, tmp_path)
    again = load_deep(tmp_path, text)
    assert again.config.tower.ids is False and np.allclose(again.predict(splits.test), model.predict(splits.test), atol=1e-6)
    rows = splits.test.head(30)
    assert np.allclose(model.predict(rows), model.predict(rows.with_columns(pl.lit("someone-else").alias("user_id"))))


def test_choose_history_trains_stage_one_once_and_goes_on_with_the_variant_ahead_after_the_first_rows(trained):
    splits, text, _ = trained
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger.addHandler(handler)
    try:
        model = train_deep(splits.train, splits.valid, text, DeepConfig(**{**TINY, "choose_history": True}))
    finally:
        logger.removeHandler(handler)
    assert len([x for x in lines if x.startswith("two-tower epoch 1:")]) == 1  # stage 1 trained once
    # both variants trained on the same first rows, then only the kept one ends its first epoch and goes on
    assert len([x for x in lines if x.startswith(("mlp epoch 1:", "mlp + encoder epoch 1:"))]) == 1
    c = model.choice
    assert set(c) == {"valid_roc_auc_without_encoder", "valid_roc_auc_with_encoder", "after_rows", "min_gain", "kept"}
    assert c["after_rows"] == splits.train.height  # the tiny world's epoch is shorter than choose_history_rows
    with_encoder = c["valid_roc_auc_with_encoder"] >= c["valid_roc_auc_without_encoder"] + c["min_gain"]
    assert (model.encoder is not None) == with_encoder == model.config.history.enabled
    assert c["kept"] == ("with" if with_encoder else "without") + " the history encoder"
    # the history holds stage 1 once and the kept variant's stage 2 from its first epoch on
    first = [h["epoch"] for h in model.history if h["stage"] == "two-tower"]
    assert first and first == list(range(1, len(first) + 1))
    second = [h for h in model.history if h["stage"].startswith("mlp")]
    assert second and [h["epoch"] for h in second] == list(range(1, len(second) + 1))
    assert {h["stage"] for h in second} == {"mlp + encoder" if with_encoder else "mlp"}
    assert not model.config.choose_history  # the saved configuration is the one trained


def test_the_encoder_is_kept_only_when_ahead_by_the_margin(trained):
    """The encoder goes on when its validation ROC AUC is ahead by ``history_min_gain`` or more, the cheaper
    model without it otherwise: pinned on either side of the lead it actually had (the decision's figures
    come from the same stage 1 and batches whatever the margin)."""
    splits, text, _ = trained

    def choose(margin: float) -> dict:
        return train_deep(splits.train, splits.valid, text, DeepConfig(**{**TINY, "choose_history": True, "history_min_gain": margin}))

    never = choose(1.0)
    assert never.encoder is None and never.choice["kept"] == "without the history encoder"
    c = never.choice
    lead = c["valid_roc_auc_with_encoder"] - c["valid_roc_auc_without_encoder"]
    just_reached, just_missed = choose(lead - 1e-9), choose(lead + 1e-9)
    assert just_reached.encoder is not None and just_reached.choice["kept"] == "with the history encoder"
    assert just_missed.encoder is None and just_missed.choice["kept"] == "without the history encoder"
    for model in (just_reached, just_missed):
        assert model.choice["valid_roc_auc_without_encoder"] == pytest.approx(c["valid_roc_auc_without_encoder"], abs=1e-12)
        assert model.choice["valid_roc_auc_with_encoder"] == pytest.approx(c["valid_roc_auc_with_encoder"], abs=1e-12)


def test_an_epoch_begun_part_way_ends_with_every_row_once():
    """What the choice relies on: ``train_rows`` stops after whole batches, ``epoch`` ends that epoch
    (no row twice, none skipped), and the next epoch is a new order of every row."""
    from skipify.models.deep import _Fit

    seen: list[int] = []
    w = torch.nn.Parameter(torch.zeros(1))

    def step(idx: torch.Tensor) -> torch.Tensor:
        seen.extend(idx.tolist())
        return (w - 1.0).pow(2).sum()

    fit = _Fit(step, [w], lambda: 0.0, DeepConfig(batch_size=64, epochs=3, patience=5), 1000, torch.Generator().manual_seed(0),
               "toy", [], [])
    fit.train_rows(150)
    assert len(seen) == 192 and fit.epochs == 0  # three whole batches
    fit.epoch()
    assert sorted(seen) == list(range(1000)) and fit.epochs == 1
    fit.epoch()
    assert sorted(seen[1000:]) == list(range(1000)) and seen[1000:] != seen[:1000]


def test_the_choice_after_part_of_an_epoch_goes_on_from_there(trained):
    """Decided after two batches, the kept variant ends the epoch it began and trains on."""
    splits, text, _ = trained
    cfg = DeepConfig(**{**TINY, "choose_history": True, "choose_history_rows": 300, "epochs": 1})
    model = train_deep(splits.train, splits.valid, text, cfg)
    assert model.choice["after_rows"] == 512  # whole batches: two of TINY's 256 rows
    second = [h for h in model.history if h["stage"].startswith("mlp")]
    assert len(second) == 1 and np.isfinite(second[0]["train_loss"]) and np.isfinite(model.predict(splits.test)).all()
