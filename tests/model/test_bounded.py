"""Training in bounded memory: the rows written in chunks and mapped, the splits as slices of them, the deep
model's inputs made a chunk at a time into mapped files, LightGBM reading a chunk at a time, the preprocessing's
moments a column at a time. Each is the in-memory path's result, and what it holds is files, not copies."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

from skipify.config import load_config
from skipify.data import _by_day, load_rows, sample_rows, stream_rows, time_splits
from skipify.metrics import roc_auc
from skipify.models.base import Resources
from skipify.models.deep import BLOCKS_PER_CHUNK, SHUFFLE_CHUNKS, DeepConfig, Inputs, epoch_order, train_deep
from skipify.models.history import CONTENT_DIM
from skipify.models.lgbm import TreeRows, train_lgbm
from skipify.models.preprocess import Preprocessor
from tests.conftest import SMALL_END
from tests.model.test_deep import TINY
from tests.scored import tiny_lgbm_config

CHUNK = 1024  # the smallest the configuration allows: the small world's rows in several chunks


@pytest.fixture(scope="module")
def chunked(small_built):
    return dataclasses.replace(small_built[0], train_chunk_rows=CHUNK)


@pytest.fixture(scope="module")
def splits(small_rows):
    return time_splits(small_rows, load_config(split_test_days=4, split_valid_days=3))


@pytest.mark.parametrize("window", [None, 6])
def test_streamed_rows_are_the_loaded_rows_mapped_from_a_file(chunked, tmp_path, window):
    since = None if window is None else SMALL_END - dt.timedelta(days=window)
    loaded = load_rows(chunked, sequences=True, since=since, until=SMALL_END)
    streamed = stream_rows(tmp_path / "rows", chunked, sequences=True, since=since, until=SMALL_END)
    assert streamed.n_chunks() > 1 and loaded.height > CHUNK  # written a chunk at a time
    assert_frame_equal(streamed, loaded)  # the sequences reach back before a window as in memory
    assert (tmp_path / "rows" / "rows.arrow").stat().st_size > 0


def test_a_sample_of_mapped_rows_is_the_same_rows_as_of_the_rows_in_memory(chunked, small_rows, tmp_path):
    streamed = stream_rows(tmp_path / "rows", chunked, sequences=True, until=SMALL_END)
    assert streamed.n_chunks() > 1
    n = 500
    drawn = sample_rows(streamed, n, seed=3, size=CHUNK)
    assert_frame_equal(drawn, sample_rows(small_rows, n, seed=3, size=10 * CHUNK))  # however chunked or sliced
    keys = drawn.select("ts", "user_id", "track_id")
    assert drawn.height == n and keys.is_unique().all()  # without replacement
    assert keys.equals(keys.sort("ts", "user_id", "track_id"))  # in the rows' order
    assert drawn.join(small_rows, on=["ts", "user_id", "track_id"], how="anti").height == 0  # rows of the frame
    assert not drawn.equals(sample_rows(small_rows, n, seed=4))  # seeded
    assert sample_rows(small_rows, small_rows.height + 1, seed=3).height == small_rows.height  # all, when fewer


def test_splits_of_rows_in_day_order_are_slices_equal_to_the_filtered_splits(small_rows):
    shuffled = small_rows.sample(fraction=1.0, shuffle=True, seed=1)  # not in day order: filtered
    day = small_rows["day"]
    train_end, valid_end = int(day.quantile(0.6)), int(day.quantile(0.8))
    sliced, filtered = _by_day(small_rows, train_end, valid_end), _by_day(shuffled, train_end, valid_end)
    for name in ("train", "valid", "test"):
        a, b = getattr(sliced, name), getattr(filtered, name)
        assert a.height == b.height > 0
        assert_frame_equal(a, b.sort("ts", "user_id", "track_id"))
    assert sliced.train["day"].max() < train_end <= sliced.valid["day"].min()
    assert sliced.valid["day"].max() < valid_end <= sliced.test["day"].min()


def test_preprocessing_moments_are_numpys_with_nan_and_null_as_missing():
    rows = pl.DataFrame({"x": [1.0, float("nan"), None, 4.0, 10.0, 200.0], "y": [None] * 6, "z": [3, 3, 3, 3, 3, 3]},
                        schema={"x": pl.Float64, "y": pl.Float64, "z": pl.Int64})
    prep = Preprocessor.fit(rows)
    x = np.log1p(np.array([1.0, np.nan, np.nan, 4.0, 10.0, 200.0])) if "x" in prep.log_scale else np.array([1.0, np.nan, np.nan, 4.0, 10.0, 200.0])
    assert prep.mean["x"] == pytest.approx(np.nanmean(x), rel=1e-12) and prep.std["x"] == pytest.approx(np.nanstd(x), rel=1e-12)
    assert (prep.mean["y"], prep.std["y"]) == (0.0, 1.0)  # nothing to measure
    assert (prep.mean["z"], prep.std["z"]) == (3.0, 1.0)  # no spread: scaled by 1


def test_mapped_inputs_equal_the_inputs_made_at_once_and_are_file_backed(splits, tmp_path):
    text = {t: np.full(CONTENT_DIM, i, np.float32) for i, t in enumerate(splits.train["track_id"].unique().sort().to_list())}
    cfg = DeepConfig(**{**TINY, "history": dataclasses.replace(TINY["history"], enabled=True)})
    prep = Preprocessor.fit(splits.train)
    whole = Inputs(splits.train, prep, text, cfg)
    mapped = Inputs.mapped(splits.train, prep, text, cfg, tmp_path / "inputs", 500)
    assert mapped.n == whole.n > 2 * 500 and set(mapped.t) == set(whole.t)
    for k, v in whole.t.items():
        assert torch.equal(mapped.t[k], v), k
    assert torch.equal(mapped.text_table, whole.text_table) and torch.equal(mapped.bucket_table, whole.bucket_table)
    maps = open("/proc/self/maps").read()  # the tensors are views of the files' pages, not copies
    assert all(f"{tmp_path / 'inputs' / k}.npy (deleted)" in maps for k in whole.t)
    assert not (tmp_path / "inputs").exists()  # removed once mapped: the disk goes with the tensors
    idx = torch.tensor([0, 503, 1200, whole.n - 1])
    for k, v in whole.batch(idx, torch.device("cpu")).items():
        assert torch.equal(mapped.batch(idx, torch.device("cpu"))[k], v), k


def test_the_deep_model_trained_on_mapped_inputs_is_the_same_model(splits, tmp_path):
    text = {t: np.full(CONTENT_DIM, 0.01 * i, np.float32) for i, t in enumerate(splits.train["track_id"].unique().sort().to_list())}
    cfg = DeepConfig(**{**TINY, "epochs": 1})
    in_memory = train_deep(splits.train, splits.valid, text, cfg)
    # a few chunks: mapped, each epoch in the same random order of every row
    mapped = train_deep(splits.train, splits.valid, text, cfg, scratch=tmp_path, chunk=500)
    assert not list(tmp_path.iterdir())  # its inputs' files, removed once mapped
    np.testing.assert_allclose(mapped.predict(splits.test), in_memory.predict(splits.test), atol=1e-6)
    # many chunks: drawn a few chunks at a time (epoch_order); another order, a model that learns as well
    y = splits.test["label"].to_numpy()
    buffered = train_deep(splits.train, splits.valid, text, cfg, scratch=tmp_path, chunk=100)
    assert abs(roc_auc(y, buffered.predict(splits.test)) - roc_auc(y, in_memory.predict(splits.test))) < 0.03


def test_an_epoch_over_many_chunks_is_every_row_once_a_few_chunks_worth_of_blocks_at_a_time():
    n, chunk = 2_000, 128
    block = chunk // BLOCKS_PER_CHUNK
    order = epoch_order(n, torch.Generator().manual_seed(0), chunk)
    assert sorted(order.tolist()) == list(range(n))
    group = chunk * SHUFFLE_CHUNKS
    groups = [order[i:i + group] for i in range(0, n, group)]
    # a group's rows: whole blocks (pages the page cache holds together), no more than a group's worth of them
    for g in groups:
        blocks = set((g // block).tolist())
        assert len(blocks) <= group // block
        assert sum(min(block, n - b * block) for b in blocks) == len(g)
    # from across the rows, not a few neighbouring chunks (which are a few spans of days)
    assert len(set((groups[0] // chunk).tolist())) > SHUFFLE_CHUNKS
    assert order[:block].tolist() != sorted(order[:block].tolist())  # shuffled within the group
    again = epoch_order(n, torch.Generator().manual_seed(0), chunk)
    assert torch.equal(order, again) and not torch.equal(order, epoch_order(n, torch.Generator().manual_seed(1), chunk))
    few = epoch_order(n, torch.Generator().manual_seed(0), 1_000)  # two chunks: every row in a random order
    assert torch.equal(few, torch.randperm(n, generator=torch.Generator().manual_seed(0)))


def test_lightgbm_reads_rows_a_chunk_at_a_time_and_learns_the_same(chunked, splits, tmp_path, monkeypatch):
    prep = Preprocessor.fit(splits.train)
    seq = TreeRows(splits.train, prep, CHUNK)
    whole = prep.tree_matrix(splits.train)
    assert len(seq) == splits.train.height
    np.testing.assert_array_equal(seq[CHUNK - 5:CHUNK + 5], whole[CHUNK - 5:CHUNK + 5])
    for i in (0, 3, CHUNK - 1, CHUNK, len(seq) - 1):  # single rows, in increasing order as LightGBM samples
        np.testing.assert_array_equal(seq[i], whole[i])
    y = splits.test["label"].to_numpy()
    in_memory = train_lgbm(splits.train, splits.valid, tiny_lgbm_config(), Resources(chunked))
    read, depth = [], [0]
    real = TreeRows.__getitem__

    def counted(self, idx):  # what LightGBM asks for (not TreeRows' own reads of a chunk for a row)
        if depth[0] == 0:
            read.append(idx)
        depth[0] += 1
        try:
            return real(self, idx)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(TreeRows, "__getitem__", counted)
    from_chunks = train_lgbm(splits.train, splits.valid, tiny_lgbm_config(), Resources(chunked, tmp_path))
    # LightGBM read it as a Sequence: single rows for its bins' sample, then the rows a chunk at a time (what it
    # does not take for a Sequence it reads row by row into one sparse matrix: 16 GiB at 10M plays)
    ranges = [(i.start, i.stop) for i in read if isinstance(i, slice)]
    assert ranges[:2] == [(0, CHUNK), (CHUNK, splits.train.height)] and len(ranges) < len(read)
    # every row is in the bins' sample at this size: the same bins, the same trees
    assert roc_auc(y, from_chunks.predict(splits.test)) == pytest.approx(roc_auc(y, in_memory.predict(splits.test)), abs=1e-9)


def test_a_domains_rows_written_and_mapped_are_its_filtered_rows(splits, tmp_path):
    both = time_splits(splits.train.vstack(splits.valid).vstack(splits.test).with_columns(
        pl.when(pl.col("track_id").hash() % 3 == 0).then(pl.lit("podcast")).otherwise(pl.lit("music")).alias("t_domain")),
        load_config(split_test_days=4, split_valid_days=3))
    held, mapped = both.of_domain("podcast"), both.of_domain("podcast", tmp_path / "podcast", 500)
    for name in ("train", "valid", "test"):
        assert getattr(mapped, name).height > 0
        assert_frame_equal(getattr(mapped, name), getattr(held, name))
    assert sorted(p.name for p in (tmp_path / "podcast").iterdir()) == ["test.arrow", "train.arrow", "valid.arrow"]
