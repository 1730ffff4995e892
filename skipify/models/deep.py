"""Train the deep model: two-tower first, then the dislike MLP on top of its frozen vectors.

    model = train_deep(splits.train, splits.valid, text_vectors, DeepConfig(epochs=3))
    p = model.predict(splits.test)

Both stages use AdamW, early stopping on validation log loss and fixed seeds; the MLP's output is
temperature-calibrated on validation. Everything runs on ``device`` ("auto" picks CUDA when present).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn

from skipify.config import logger
from skipify.data import chunks
from skipify.lookup import SMALL_FRAME
from skipify.models.base import PREDICT_CHUNK
from skipify.models.history import CONTENT_DIM, SEQUENCES, HistoryConfig, HistoryEncoder, TrackIndex, batch_tracks, padded
from skipify.models.mlp import DislikeMLP, MLPConfig
from skipify.models.preprocess import Preprocessor
from skipify.models.two_tower import TwoTower, TwoTowerConfig, TwoTowerTask, hash_ids

if TYPE_CHECKING:
    from skipify.config import Config
    from skipify.models.base import Resources

HIGH_CARDINALITY = ("t_artist",)  # left to the id embeddings and the affinity features
PROGRESS_S = 30.0  # an epoch logs how far it is at most this often


@dataclass
class DeepConfig:
    """Training knobs of both stages (sizes live in TwoTowerConfig / MLPConfig)."""

    tower: TwoTowerConfig = field(default_factory=TwoTowerConfig)
    mlp: MLPConfig = field(default_factory=MLPConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    history_len: int = 50  # plays per sequence read from the rows (the features' history_len)
    epochs: int = 8
    batch_size: int = 1024
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 1  # epochs without progress on validation loss before stopping (the best weights are kept)
    tower_lr_scale: float = 0.3  # learning rate of the towers in stage 2, relative to lr
    seed: int = 42
    device: str = "auto"
    # torch threads while training (0: one per core this process may use): fixed, so that the same rows and seed give
    # the same model whatever the process set before (the API sets one thread; sums split over other counts differ)
    threads: int = 0
    residual: bool = True  # stage 2 learns on top of stage 1's logit (wide + dot product) instead of replacing it
    # with the history encoder off: stage 2 starts both without and with it from one stage 1, and after
    # the same first ``choose_history_rows`` training rows the better on validation ROC AUC goes on (the
    # encoder, which costs three times the time, only when ahead by ``history_min_gain``; it helps where
    # the order of recent plays carries signal, not everywhere: docs/models.md)
    choose_history: bool = True
    choose_history_rows: int = 200_000
    history_min_gain: float = 0.002
    # the listening history summed up (the feature columns hx_*, hsx_*: what a table model reads of the plays) left out:
    # the network reads the plays themselves. Read, they made the early choice drop the encoder on the moods world
    # (after 200,704 rows 0.7749 without, 0.7761 with) and the model lost 0.011 test ROC AUC (docs/models.md)
    history_summaries: bool = False

    @property
    def reads_sequences(self) -> bool:
        """Whether the model reads the listening-history sequences (the user tower's taste, the encoder)."""
        return self.history.enabled or self.tower.taste_from_history

    @classmethod
    def from_dict(cls, raw: dict) -> "DeepConfig":
        """Back from ``asdict`` (deep_config.json, models.tuning)."""
        # a model saved before the listening history (issue 14) reads none and replaces stage 1's logit
        history = HistoryConfig(**raw["history"]) if "history" in raw else HistoryConfig(enabled=False)
        tower = TwoTowerConfig(**{"taste_from_history": False, **raw["tower"]})
        return cls(**{"residual": False, "choose_history": False, **raw, "tower": tower, "mlp": MLPConfig(**raw["mlp"]),
                      "history": history})


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _Tracks:
    """The distinct tracks of a set of rows (the candidates' and, with the history encoder, every play's), with
    what is gathered per batch: content vectors, the encoder's and the track tower's id buckets."""

    def __init__(self, table: pa.Array, text: dict[str, np.ndarray], cfg: DeepConfig):
        ids = table.to_pylist()
        zero = np.zeros(CONTENT_DIM, dtype=np.float32)
        self.table, self.index = table, TrackIndex(table)
        # content vectors per track: text, then audio (the towers read the text part)
        self.text_table = torch.from_numpy(np.stack([text.get(u, zero) for u in ids]) if ids else np.zeros((0, CONTENT_DIM), np.float32))
        if cfg.reads_sequences:
            self.bucket_table = torch.from_numpy(hash_ids(ids, cfg.history.track_buckets))  # the encoder's id table
            self.tower_bucket_table = torch.from_numpy(hash_ids(ids, cfg.tower.track_buckets))  # the track tower's

    @staticmethod
    def of(parts: list[pl.DataFrame], cfg: DeepConfig) -> pa.Array:
        """The distinct track ids of the rows ``parts`` (slices of one frame), in the order they first appear in
        it: the candidates', then the sequences' (each kind's in turn), as for the whole frame at once."""
        def ids(values: pl.Series) -> pa.Array:
            return pc.unique(values.cast(pl.String).to_arrow().cast(pa.string()))

        found = [pc.unique(_candidate_ids(p)) for p in parts]
        if cfg.reads_sequences:
            missing = [c for cols in SEQUENCES.values() for c in cols if c not in parts[0].columns]
            if missing:
                raise ValueError(f"rows lack the sequence columns the model reads: {missing} (load_rows(..., sequences=True))")
            found += [ids(p[cols[0]].explode().drop_nulls()) for cols in SEQUENCES.values() for p in parts]
        return pc.unique(pa.concat_arrays(found))


def _candidate_ids(rows: pl.DataFrame) -> pa.Array:
    """The rows' track ids as Arrow strings, a missing one as "" (a request's few: from a list, 0.2 ms less)."""
    ids = rows.get_column("track_id").cast(pl.String)
    if rows.height <= SMALL_FRAME:
        return pa.array(["" if v is None else v for v in ids.to_list()], pa.string())
    return ids.fill_null("").to_arrow().cast(pa.string())


class Inputs:
    """Feature rows as tensors, split for the towers and the MLP (``tracks``: the tracks' tables, when shared
    with other rows' inputs: :meth:`mapped`)."""

    def __init__(self, rows: pl.DataFrame, prep: Preprocessor, text: dict[str, np.ndarray], cfg: DeepConfig,
                 tracks: _Tracks | None = None):
        dense, codes = prep.dense(rows)
        names = prep.numeric + [f"{c}_missing" for c in prep.numeric]
        user_cols = [i for i, n in enumerate(names) if n.startswith("u_")]
        track_cols = [i for i, n in enumerate(names) if n.startswith("t_")]
        towers = set(user_cols) | set(track_cols)
        other_cols = [i for i in range(len(names)) if i not in towers]
        mlp_cats = [i for i, c in enumerate(prep.categorical) if c not in HIGH_CARDINALITY]
        genre = codes[:, prep.categorical.index("t_genre")] if "t_genre" in prep.categorical else np.zeros(rows.height, dtype=np.int64)
        dim = cfg.tower.text_dim
        def ids(values: pl.Series, buckets: int) -> torch.Tensor:
            # without ids (an ablation, TwoTowerConfig.ids=False) every row is in the "unknown" bucket
            return torch.from_numpy(hash_ids(values, buckets) if cfg.tower.ids else np.zeros(len(values), dtype=np.int64))

        if rows.height <= SMALL_FRAME:  # a request's few rows: a list, not an expression
            artist = pl.Series([None if a == "?" else a for a in rows.get_column("t_artist").cast(pl.String).to_list()], dtype=pl.String)
        else:
            artist = rows.select(pl.when(pl.col("t_artist").cast(pl.String) != "?").then(pl.col("t_artist").cast(pl.String))).to_series()
        self.t = {
            "user_bucket": ids(rows["user_id"], cfg.tower.user_buckets),
            "track_bucket": ids(rows["track_id"], cfg.tower.track_buckets),
            "artist_bucket": ids(artist, cfg.tower.artist_buckets),
            "genre": torch.from_numpy(np.minimum(genre, cfg.tower.n_genres - 1).astype(np.int64)),
            "user_x": torch.from_numpy(dense[:, user_cols]),
            "track_x": torch.from_numpy(dense[:, track_cols]),
            "dense": torch.from_numpy(dense[:, other_cols]),
            "cats": torch.from_numpy(codes[:, mlp_cats].astype(np.int64)),
            "label": torch.from_numpy(rows["label"].to_numpy().astype(np.float32)) if "label" in rows.columns else torch.zeros(rows.height),
        }
        # one row per distinct track, gathered per batch: text vectors are not copied per row
        tracks = tracks or _Tracks(_Tracks.of([rows], cfg), text, cfg)
        candidates = _candidate_ids(rows)
        self.history = cfg.reads_sequences
        self.text_table = tracks.text_table
        self.t["text_index"] = torch.from_numpy(pc.index_in(candidates, value_set=tracks.table).to_numpy(zero_copy_only=False).astype(np.int64))
        if self.history:
            self.bucket_table, self.tower_bucket_table = tracks.bucket_table, tracks.tower_bucket_table
            for kind, cols in SEQUENCES.items():
                for name, m in padded(rows, cols, tracks.index, cfg.history_len).items():
                    self.t[f"{kind}_{name}"] = torch.from_numpy(m)
        self.text_dim = dim
        self.n = rows.height
        self.chunk: int | None = None  # rows per chunk of mapped inputs (Inputs.mapped; None: in memory)
        self.sizes = {"user_features": len(user_cols), "track_features": len(track_cols), "n_dense": len(other_cols)}
        self.cat_sizes = [len(prep.vocab[prep.categorical[i]]) + 1 for i in mlp_cats]

    @classmethod
    def mapped(cls, rows: pl.DataFrame, prep: Preprocessor, text: dict[str, np.ndarray], cfg: DeepConfig,
               folder: "Path | None", size: int) -> "Inputs":
        """The same inputs as ``Inputs(rows, ...)``, made ``size`` rows at a time into files under ``folder``
        (``.npy``, removed once mapped) that the tensors map: what is held is one chunk's inputs and the tracks' tables, not every
        row's (the batches gather from the page cache). Rows that fit in one chunk (or no folder): in memory."""
        if folder is None or rows.height <= size:
            return cls(rows, prep, text, cfg)
        t0 = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        tracks = _Tracks(_Tracks.of(list(chunks(rows, size)), cfg), text, cfg)
        out = None
        for lo, part in zip(range(0, rows.height, size), chunks(rows, size)):
            piece = cls(part, prep, text, cfg, tracks)
            made = piece.t
            if out is None:
                out, out.n, out.chunk = piece, rows.height, size
                out.t = {k: torch.from_numpy(np.lib.format.open_memmap(
                    folder / f"{k}.npy", mode="w+", dtype=v.numpy().dtype, shape=(rows.height, *v.shape[1:])))
                    for k, v in made.items()}
            for k, v in made.items():
                out.t[k][lo:lo + part.height] = v
            logger.info("deep: inputs of %s of %s rows mapped from %s (%.0fs)", f"{lo + part.height:,}", f"{rows.height:,}",
                        folder, time.perf_counter() - t0)
        # the files' names go now: their pages stay mapped while the tensors live, and the disk is freed with
        # them (a tuning's trials, each with its own inputs, do not add up on disk)
        shutil.rmtree(folder)
        return out

    def batch(self, idx: torch.Tensor, device: torch.device, sequences: bool = True) -> dict[str, torch.Tensor]:
        """The rows ``idx`` as a model's batch; ``sequences=False`` leaves the sequences out (a variant without
        the encoder, trained on Inputs built with them)."""
        seqs = self.history and sequences
        skip = {"text_index", *(f"{k}_idx" for k in SEQUENCES)} if seqs else {"text_index", *self.sequence_keys}
        b = {k: v[idx].to(device) for k, v in self.t.items() if k not in skip}
        cand = self.t["text_index"][idx]
        b["text"] = self.text_table[cand, : self.text_dim].to(device)
        if seqs:
            uniq, b["seq_cand"], pos = batch_tracks(cand, {k: self.t[f"{k}_idx"][idx].long() for k in SEQUENCES})
            b["seq_cand"] = b["seq_cand"].to(device)
            b["seq_bucket"], b["seq_content"] = self.bucket_table[uniq].to(device), self.text_table[uniq].to(device)
            b["seq_track_bucket"] = self.tower_bucket_table[uniq].to(device)
            b.update({f"{k}_pos": p.to(device) for k, p in pos.items()})
        return b

    @property
    def sequence_keys(self) -> list[str]:
        return [k for k in self.t if k.startswith(tuple(f"{s}_" for s in SEQUENCES))]


def _under(folder: Path | None, name: str) -> Path | None:
    """A new folder of its own under ``folder`` for one set of mapped inputs (None: none)."""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"deep-{name}-", dir=folder))


def _batches(n: int, size: int, shuffle: bool, gen: torch.Generator | None = None):
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for lo in range(0, n, size):
        yield order[lo : lo + size]


@torch.no_grad()
def _tower_vectors(towers: TwoTower, data: Inputs, device: torch.device, size: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    towers.eval()
    us, ts = [], []
    for idx in _batches(data.n, size, shuffle=False):
        u, t = towers(data.batch(idx, device))
        us.append(u.cpu())
        ts.append(t.cpu())
    return torch.cat(us), torch.cat(ts)


class _Fit:
    """AdamW with early stopping on validation loss. ``epoch`` trains one epoch (or the rest of one
    begun by ``train_rows``, which stops part way so that two runs can be compared early); ``finish``
    runs on to the end and restores the best weights. One history row per epoch."""

    def __init__(self, step_loss, params, valid_loss, cfg: DeepConfig, n: int, gen: torch.Generator, name: str,
                 modules: list[nn.Module], history: list[dict], chunk: int | None = None):
        self.step_loss, self.valid_loss, self.cfg, self.n, self.gen, self.chunk = step_loss, valid_loss, cfg, n, gen, chunk
        self.name, self.modules, self.history = name, modules, history
        # fused: one pass over each parameter per step instead of one per operation (the id embeddings are
        # most of the 3.9M parameters): an epoch of stage 1 on the demo world a third faster, the same update
        # up to float rounding
        self.opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
        self.best, self.best_state, self.bad, self.epochs = float("inf"), None, 0, 0
        self.order: torch.Tensor | None = None  # the current epoch's row order (None: between epochs)
        self.pos = 0  # rows of the current epoch trained on
        self.total = self.busy = 0.0  # the epoch's loss sum and seconds so far (its own, not another run's beside it)

    @property
    def done(self) -> bool:
        return self.epochs >= self.cfg.epochs or self.bad >= self.cfg.patience

    def train_rows(self, rows: int | None = None) -> None:
        """Train on the current epoch's next ``rows`` rows, whole batches (None: to the end of the epoch)."""
        t0 = time.perf_counter()
        if self.order is None:
            self.order, self.pos, self.total, self.busy = epoch_order(self.n, self.gen, self.chunk), 0, 0.0, 0.0
        for m in self.modules:
            m.train()
        size, stop = self.cfg.batch_size, self.n if rows is None else min(self.n, self.pos + rows)
        steps, shown = (self.n + size - 1) // size, t0
        while self.pos < stop:
            idx = self.order[self.pos : self.pos + size]
            self.opt.zero_grad()
            loss = self.step_loss(idx)
            loss.backward()
            self.opt.step()
            self.pos, self.total = self.pos + len(idx), self.total + float(loss.detach()) * len(idx)
            if time.perf_counter() - shown >= PROGRESS_S:
                shown = time.perf_counter()
                logger.info("%s epoch %d: %d/%d batches, train loss %.4f (%.0fs)", self.name, self.epochs + 1,
                            (self.pos + size - 1) // size, steps, self.total / self.pos, self.busy + shown - t0)
        for m in self.modules:
            m.eval()
        self.busy += time.perf_counter() - t0

    def epoch(self) -> float:
        """One epoch over the training rows (the rest of it, when begun), then the validation loss (returned)."""
        self.train_rows(None)
        t0 = time.perf_counter()
        v = self.valid_loss()
        self.epochs += 1
        seconds = self.busy + time.perf_counter() - t0
        logger.info("%s epoch %d: train loss %.4f, valid loss %.4f (%.1fs)", self.name, self.epochs, self.total / self.n, v, seconds)
        self.history.append({"stage": self.name, "epoch": self.epochs, "train_loss": self.total / self.n, "valid_loss": v,
                             "seconds": round(seconds, 2)})
        self.order = None
        if v < self.best - 1e-4:
            self.best, self.best_state, self.bad = v, [copy.deepcopy(m.state_dict()) for m in self.modules], 0
        else:
            self.bad += 1
        return v

    def finish(self) -> float:
        """Epochs until the last or until ``patience`` epochs without progress; the best weights restored."""
        while not self.done:
            self.epoch()
        for m, state in zip(self.modules, self.best_state or []):
            m.load_state_dict(state)
        return self.best


def _fit(step_loss, params, valid_loss, cfg: DeepConfig, n: int, gen: torch.Generator, name: str, modules: list[nn.Module],
         history: list[dict], chunk: int | None = None) -> float:
    """AdamW with early stopping on validation loss; restores the best weights; one history row per epoch."""
    return _Fit(step_loss, params, valid_loss, cfg, n, gen, name, modules, history, chunk).finish()


SHUFFLE_CHUNKS = 4  # mapped inputs: an epoch's batches are drawn from this many chunks' worth of rows at a time
BLOCKS_PER_CHUNK = 64  # ... in blocks of a 64th of a chunk (4,096 rows of 262,144), from anywhere in the rows


def epoch_order(n: int, gen: torch.Generator, chunk: int | None = None) -> torch.Tensor:
    """The order of an epoch's rows: a random permutation; for inputs mapped in chunks of ``chunk`` rows, a
    block shuffle: the rows cut into blocks of ``chunk // BLOCKS_PER_CHUNK`` consecutive rows, the blocks in a
    random order, SHUFFLE_CHUNKS chunks' worth of them at a time, and the rows of each such group in a random
    order. The batches then read a group's pages, which the page cache holds, not pages across every file,
    which it may not; and a group holds rows of every part of the time range (whole chunks, which are a span
    of days each, gave groups of a few spans: 0.0014 of test ROC AUC less at 3M plays, docs/scale.md)."""
    if chunk is None or n <= chunk * SHUFFLE_CHUNKS:
        return torch.randperm(n, generator=gen)
    block = max(1, chunk // BLOCKS_PER_CHUNK)
    starts = torch.arange(0, n, block)[torch.randperm((n + block - 1) // block, generator=gen)]
    rows = (starts[:, None] + torch.arange(block)).flatten()
    rows = rows[rows < n]  # the last block's rows past the end (it may be anywhere in the order)
    group = chunk * SHUFFLE_CHUNKS
    return torch.cat([part[torch.randperm(len(part), generator=gen)] for part in rows.split(group)])


def _head_logits(mlp: DislikeMLP, encoder: HistoryEncoder | None, u: torch.Tensor, t: torch.Tensor,
                 b: dict[str, torch.Tensor], task: TwoTowerTask | None = None) -> torch.Tensor:
    """The MLP's logits (N,) over the tower vectors, the batch's features and its history block
    (plus stage 1's wide and dot-product logit, for a residual model)."""
    out = mlp(u, t, b["dense"], b["cats"], encoder(b) if encoder is not None else None).squeeze(1)
    if task is not None:
        out = out + (task.model.score(u, t) + task.wide_logit(b)) / mlp.log_temperature.exp()
    return out


@dataclass
class DeepModel:
    towers: TwoTower
    mlp: DislikeMLP
    prep: Preprocessor
    text: dict[str, np.ndarray]
    config: DeepConfig
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # per epoch: stage, epoch, train_loss, valid_loss, seconds
    encoder: HistoryEncoder | None = None  # the listening-history encoder (None: a model without one)
    task: TwoTowerTask | None = None  # stage 1's wide part, kept by a residual model
    choice: dict | None = None  # with choose_history: validation ROC AUC without and with the encoder, and which was kept
    kind: ClassVar[str] = "deep"  # skipify.models.kinds

    @property
    def columns(self) -> list[str]:
        """The feature columns this model reads: its tabular features and, when it reads them (the taste, the
        encoder), the sequence columns."""
        return self.prep.features + ([c for cols in SEQUENCES.values() for c in cols] if self.config.reads_sequences else [])

    @property
    def temperature(self) -> float:
        """The calibration temperature, kept in the MLP's state (so it is saved with its weights)."""
        return float(self.mlp.log_temperature.exp())

    def inputs(self, rows: pl.DataFrame) -> Inputs:
        """Feature rows as this model's input tensors."""
        return Inputs(rows, self.prep, self.text, self.config)

    prepare = inputs  # skipify.models.kinds.Model

    @property
    def fitted(self) -> dict:
        """What training chose beyond the configuration (kept in the version's params)."""
        return {"temperature": self.temperature, "history_choice": self.choice}

    def parts(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The network's float inputs for a batch, by name: every id and category looked up in its table (the
        only steps without a gradient), the sequences through the history encoder. ``logit_of`` goes on from
        here; predictions and explanations both take this path."""
        user, track = self.towers.user, self.towers.track
        out = {"user embedding": user.ids(b["user_bucket"]), "user features": b["user_x"]}
        if self.towers.cfg.taste_from_history:
            out[TASTE] = self.towers.taste(b)
        out |= {"track embedding": track.ids(b["track_bucket"]), "artist embedding": track.artists(b["artist_bucket"]),
                "genre": track.genres(b["genre"]), "text embedding": b["text"], "track features": b["track_x"],
                "dense": b["dense"]}
        out |= {f"cat {i}": emb(b["cats"][:, i]) for i, emb in enumerate(self.mlp.cats)}
        if self.encoder is not None:  # one part per sequence, in the encoder's output order
            block = self.encoder(b)
            width = self.encoder.width // len(SEQUENCES)
            out |= {HISTORY_BLOCKS[k]: block[:, i * width:(i + 1) * width] for i, k in enumerate(SEQUENCES)}
        if self.task is not None:
            out |= {f"wide cat {i}": emb(b["cats"][:, i]) for i, emb in enumerate(self.task.wide_cats)}
        return out

    def logit_of(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """The calibrated logit (N,) from the float inputs (``parts``): the towers, the MLP and, for a residual
        model, stage 1's dot product and wide term."""
        user = self.towers.user.combine(x["user embedding"], x["user features"], x.get(TASTE))
        track = self.towers.track.combine(x["track embedding"], x["artist embedding"], x["genre"], x["text embedding"],
                                          x["track features"])
        history = torch.cat([x[HISTORY_BLOCKS[k]] for k in SEQUENCES], dim=1) if self.encoder is not None else None
        logit = self.mlp.combine(user, track, x["dense"], [x[f"cat {i}"] for i in range(len(self.mlp.cats))], history).squeeze(1)
        if self.task is not None:
            wide = self.task.wide_of(x["user features"], x["track features"], x["dense"],
                                     [x[f"wide cat {i}"] for i in range(len(self.task.wide_cats))])
            logit = logit + (self.towers.score(user, track) + wide) / self.mlp.log_temperature.exp()
        return logit

    def eval(self) -> "DeepModel":
        for m in (self.towers, self.mlp, self.encoder, self.task):
            # only where a module trains: setting the flag on every module took a single pair 0.4 ms under cProfile
            if m is not None and any(x.training for x in m.modules()):
                m.eval()
        return self

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0, nsamples: int = 100) -> tuple[list[str], np.ndarray]:
        """SHAP values of the logit per block (module docstring, "Explanations"): expected gradients
        (skipify.explain.expected_gradients) over the float inputs (``parts``) through ``logit_of``."""
        from skipify.explain import expected_gradients

        bg = self.inputs(background)
        flat = FlatDeep(self, bg)
        x, x_bg = flat.inputs(self.inputs(rows)), flat.inputs(bg)
        values = expected_gradients(flat, x, x_bg, nsamples=nsamples, seed=seed)
        blocks = flat.blocks()
        return list(blocks), np.stack([values[:, idx].sum(axis=1) for idx in blocks.values()], axis=1)

    def reasoner(self, background: pl.DataFrame) -> "DeepReasons":
        """Per-row reasons: integrated gradients from the background's mean input (:class:`DeepReasons`)."""
        return DeepReasons(self, background)

    def save(self, folder) -> dict[str, str]:
        return save_deep(self, folder)

    @torch.no_grad()
    def vectors(self, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The two-tower user and track vectors of feature rows, shape (N, dim) each."""
        data = Inputs(rows, self.prep, self.text, self.config)
        u, t = _tower_vectors(self.towers.cpu(), data, torch.device("cpu"))
        return u.numpy(), t.numpy()

    @torch.no_grad()
    def predict(self, rows: pl.DataFrame, device: str = "cpu", data: Inputs | None = None) -> np.ndarray:
        """Calibrated dislike probability for feature rows (``data``: their Inputs, when already made)."""
        dev = torch.device(device)
        for m in (self.towers, self.mlp, self.encoder, self.task):
            # moved only when elsewhere: Module.to walks every parameter, 0.3 ms a module on each single-pair request
            if m is not None and next(m.parameters()).device != dev:
                m.to(dev)
        self.eval()
        if data is None and rows.height > PREDICT_CHUNK:  # the inputs of a chunk at a time; the same batches
            return np.concatenate([self.predict(part, device) for part in chunks(rows, PREDICT_CHUNK)])
        data = data or self.inputs(rows)
        out = [torch.sigmoid(self.logit_of(self.parts(data.batch(idx, dev)))).cpu() for idx in _batches(data.n, 8192, shuffle=False)]
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


# --- Explanations ----------------------------------------------------------------------------------
#
# Both explain the logit over the network's float inputs (DeepModel.parts: the ids already looked up;
# SHAP takes no gradient through an integer), grouped into blocks that read as features: "user embedding",
# "track embedding", "artist embedding", "text embedding" (the 384 MiniLM dimensions), one block per tabular
# feature (a value and its missing flag together) and per categorical feature (the genre's two lookups
# together), "listening history" (the taste and the encoder's output for it) and "session history". A
# block's value is the sum of its dimensions' values; the encoder's attention depends on the candidate, so
# a sequence is explained as a whole.

HISTORY_BLOCKS = {"listening": "listening history", "session": "session history"}
TASTE = "taste"  # the user tower's taste of the listening history: folded into "listening history"


class FlatDeep(nn.Module):
    """The deep model as a function of one float matrix: ``parts`` side by side; ``forward`` splits the matrix
    back into them and runs the model's own ``logit_of``. Output (N, 1)."""

    def __init__(self, model: DeepModel, sample: Inputs):
        super().__init__()
        self.model = model.eval()
        with torch.no_grad():
            shapes = self.model.parts(sample.batch(torch.arange(min(sample.n, 2)), torch.device("cpu")))
        self.slices: dict[str, slice] = {}
        lo = 0
        for name, part in shapes.items():
            self.slices[name] = slice(lo, lo + part.shape[1])
            lo += part.shape[1]
        self.width = lo

    @torch.no_grad()
    def inputs(self, data: Inputs) -> torch.Tensor:
        """The float matrix for the rows of ``data``."""
        return torch.cat(list(self.model.parts(data.batch(torch.arange(data.n), torch.device("cpu"))).values()), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logit_of({name: x[:, s] for name, s in self.slices.items()}).unsqueeze(1)

    def blocks(self) -> dict[str, list[int]]:
        """Block name -> column indices of the matrix."""
        prep, s = self.model.prep, self.slices
        names = prep.numeric + [f"{c}_missing" for c in prep.numeric]
        columns = {"user features": [n for n in names if n.startswith("u_")],
                   "track features": [n for n in names if n.startswith("t_")],
                   "dense": [n for n in names if not n.startswith(("u_", "t_"))]}
        cats = [c for c in prep.categorical if c not in HIGH_CARDINALITY]
        blocks: dict[str, list[int]] = {}
        for part, where in s.items():
            index = list(range(where.start, where.stop))
            if part in columns:  # a tabular feature's value and missing flag: one block
                for i, col in enumerate(columns[part]):
                    blocks.setdefault(col.removesuffix("_missing"), []).append(index[i])
            elif part.startswith(("cat ", "wide cat ")):
                blocks.setdefault(cats[int(part.rsplit(" ", 1)[1])], []).extend(index)
            elif part == "genre":  # the genre reaches the network twice (track tower and MLP): one block
                blocks.setdefault("t_genre", []).extend(index)
            elif index:
                blocks.setdefault(HISTORY_BLOCKS["listening"] if part == TASTE else part, []).extend(index)
        return {name: sorted(idx) for name, idx in blocks.items()}


class DeepReasons:
    """Integrated gradients of the deep model's logit per block, from the mean background input.

        reasons = DeepReasons(model, background_rows)
        blocks, values, logits = reasons(rows)       # values: (rows, blocks); sum = logit - reasons.reference_logit
    """

    def __init__(self, model: DeepModel, background: pl.DataFrame, steps: int = 16):
        data = model.inputs(background)
        self.model, self.steps = model, steps
        self.flat = FlatDeep(model, data)
        self.reference = self.flat.inputs(data).mean(dim=0, keepdim=True)
        with torch.no_grad():
            self.reference_logit = float(self.flat(self.reference)[0, 0])
        blocks = self.flat.blocks()
        self.blocks = list(blocks)
        self.members = torch.zeros(self.flat.width, len(blocks))  # input column -> its block
        for j, idx in enumerate(blocks.values()):
            self.members[idx, j] = 1.0

    def __call__(self, rows: pl.DataFrame, data: Inputs | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(block names, values rows x blocks, logits of the rows); ``data``: the rows' Inputs, when built."""
        x = self.flat.inputs(data or self.model.inputs(rows))
        n, width = x.shape
        alphas = (torch.arange(self.steps, dtype=x.dtype) + 0.5) / self.steps  # midpoint rule
        delta = x - self.reference
        path = (self.reference + alphas[:, None, None] * delta[None]).reshape(-1, width).requires_grad_(True)
        out = self.flat(path)
        (grad,) = torch.autograd.grad(out.sum(), path)
        values = (grad.reshape(self.steps, n, width).mean(dim=0) * delta) @ self.members
        with torch.no_grad():
            logits = self.flat(x)[:, 0]
        return self.blocks, values.detach().numpy().astype(np.float64), logits.numpy().astype(np.float64)


class _EndToEnd:
    """Stage 2: the MLP (and the history encoder) over the tower vectors and the features, the towers
    learning on at ``tower_lr_scale`` of the rate (``fit``, an epoch at a time); ``finish`` trains to
    the end and fits the temperature on validation."""

    def __init__(self, towers: TwoTower, task: TwoTowerTask, mlp: DislikeMLP, encoder: HistoryEncoder | None, tr: Inputs,
                 va: Inputs, cfg: DeepConfig, gen: torch.Generator, device: torch.device, history: list[dict]):
        self.towers, self.task, self.mlp, self.encoder, self.va, self.device, self.cfg = towers, task, mlp, encoder, va, device, cfg
        self.kept = task if cfg.residual else None
        self.sequences = encoder is not None or cfg.tower.taste_from_history
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.heads = [mlp] + ([encoder] if encoder is not None else [])

        def mlp_loss(idx: torch.Tensor) -> torch.Tensor:
            b = task.drop_ids(tr.batch(idx, device, self.sequences))
            u, t = towers(b)
            return self.loss_fn(_head_logits(mlp, encoder, u, t, b, self.kept), b["label"])

        params = [{"params": [p for m in self.heads for p in m.parameters()]},
                  {"params": (task if cfg.residual else towers).parameters(), "lr": cfg.lr * cfg.tower_lr_scale}]
        self.fit = _Fit(mlp_loss, params, self.valid_loss, cfg, tr.n, gen, "mlp" + (" + encoder" if encoder is not None else ""),
                        [task if cfg.residual else towers, *self.heads], history, tr.chunk)

    @torch.no_grad()
    def valid_logits(self) -> torch.Tensor:
        for m in (self.towers, *self.heads):
            m.eval()
        out = []
        for idx in _batches(self.va.n, 8192, shuffle=False):
            b = self.va.batch(idx, self.device, self.sequences)
            u, t = self.towers(b)
            out.append(_head_logits(self.mlp, self.encoder, u, t, b, self.kept).cpu())
        return torch.cat(out)

    def valid_loss(self) -> float:
        return float(self.loss_fn(self.valid_logits(), self.va.t["label"]))

    def valid_auc(self) -> float:
        """Validation ROC AUC of the weights as they are."""
        from skipify.metrics import roc_auc

        return roc_auc(self.va.t["label"].numpy(), self.valid_logits().numpy().astype(np.float64))

    def finish(self) -> float:
        """Train to the end (early stopping, best weights), then the temperature on validation. Returns it."""
        self.fit.finish()
        return self.mlp.fit_temperature(self.valid_logits(), self.va.t["label"])


def _end_to_end(towers: TwoTower, task: TwoTowerTask, mlp: DislikeMLP, encoder: HistoryEncoder | None, tr: Inputs, va: Inputs,
                cfg: DeepConfig, gen: torch.Generator, device: torch.device, history: list[dict]) -> float:
    """Stage 2 to the end, then the temperature (see _EndToEnd). Returns the temperature."""
    return _EndToEnd(towers, task, mlp, encoder, tr, va, cfg, gen, device, history).finish()


def finetune_deep(start: DeepModel, train: pl.DataFrame, valid: pl.DataFrame, epochs: int, device: str = "auto",
                  lr_scale: float = 0.5, scratch: tuple[Path | None, int] = (None, 0)) -> DeepModel:
    """A warm start: ``start``'s weights trained on by stage 2 (end to end) on new rows for at most ``epochs``,
    at ``lr_scale`` of its learning rate, early-stopped on ``valid``; the temperature refitted. The
    preprocessing (vocabularies, scaling) stays ``start``'s, so the features mean what they meant."""
    t_start = time.perf_counter()
    cfg = copy.deepcopy(start.config)
    cfg.epochs, cfg.device, cfg.lr = epochs, device, cfg.lr * lr_scale
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    dev = pick_device(device)
    # copied together, so that a residual model's stage-1 task keeps sharing the towers
    towers, mlp, encoder, task = copy.deepcopy((start.towers, start.mlp, start.encoder, start.task))
    if task is None:  # a model without stage 1's wide part kept: its id dropout and loss come from a fresh task
        task = TwoTowerTask(towers, cfg.tower.user_features + cfg.tower.track_features + cfg.mlp.n_dense, cfg.mlp.cat_sizes)
    for m in (towers, mlp, encoder, task):
        if m is not None:
            m.to(dev)
    tr, va = (Inputs.mapped(rows, start.prep, start.text, cfg, _under(scratch[0], name), scratch[1])
              for name, rows in (("train", train), ("valid", valid)))
    history = [{**h, "stage": f"start: {h['stage']}"} for h in start.history]
    temperature = _end_to_end(towers, task, mlp, encoder, tr, va, cfg, gen, dev, history)
    seconds = time.perf_counter() - t_start
    logger.info("deep model warm-started: %d rows, temperature %.3f, %.1fs on %s", tr.n, temperature, seconds, dev)
    return DeepModel(towers.cpu(), mlp.cpu(), start.prep, start.text, cfg, seconds, history,
                     encoder.cpu() if encoder is not None else None, task.cpu() if cfg.residual else None)


def train_deep(train: pl.DataFrame, valid: pl.DataFrame, text: dict[str, np.ndarray], cfg: DeepConfig | None = None,
               scratch: Path | None = None, chunk: int = 0) -> DeepModel:
    """Two-tower (stage 1), then the MLP over its vectors end to end (stage 2), then temperature on validation.

    With ``choose_history`` (and the encoder not asked for), stage 1 is trained once and stage 2 starts
    twice from it, without and with the history encoder; after the same first ``choose_history_rows``
    rows, the one with the better validation ROC AUC goes on from where it is (the encoder only when
    ahead by ``history_min_gain``) and the other is dropped.

    Args:
        train, valid: feature rows with ``label`` (time splits).
        text: track_id -> content vector (missing tracks get zeros).
        cfg: training configuration.
        scratch, chunk: a folder for the rows' input tensors, made ``chunk`` rows at a time and mapped
            (Inputs.mapped); None: held in memory.
    """
    cfg = copy.deepcopy(cfg or DeepConfig())
    choose = cfg.choose_history and not cfg.history.enabled
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    prep = Preprocessor.fit(train if cfg.history_summaries else train.drop(summaries(train.columns)))
    shape = copy.deepcopy(cfg)  # built once, with the sequences when the encoder may be kept
    shape.history.enabled = cfg.history.enabled or choose
    tr, va = (Inputs.mapped(rows, prep, text, shape, _under(scratch, name), chunk) for name, rows in (("train", train), ("valid", valid)))
    cfg.tower.user_features, cfg.tower.track_features = tr.sizes["user_features"], tr.sizes["track_features"]
    cfg.mlp.n_dense, cfg.mlp.cat_sizes, cfg.mlp.tower_dim = tr.sizes["n_dense"], tr.cat_sizes, cfg.tower.dim
    logger.info("deep: %s training and %s validation rows as tensors (%.1fs)", f"{tr.n:,}", f"{va.n:,}", time.perf_counter() - t_start)

    # start both outputs at the base rate, so early epochs learn signal rather than the mean
    rate = float(tr.t["label"].mean().clamp(1e-3, 1 - 1e-3))
    base_logit = float(np.log(rate / (1 - rate)))
    history: list[dict] = []

    # stage 1: two-tower on the dislike objective
    towers = TwoTower(cfg.tower).to(device)
    with torch.no_grad():
        towers.bias.fill_(base_logit)
    task = TwoTowerTask(towers, sum(tr.sizes.values()), tr.cat_sizes).to(device)
    taste = cfg.tower.taste_from_history

    @torch.no_grad()
    def tower_valid() -> float:
        task.eval()
        losses = [float(task(va.batch(idx, device, taste))) * len(idx) for idx in _batches(va.n, 8192, shuffle=False)]
        return sum(losses) / va.n

    _fit(lambda idx: task(tr.batch(idx, device, taste)), task.parameters(), tower_valid, cfg, tr.n, gen, "two-tower", [task], history,
         tr.chunk)

    # stage 2: the MLP over the tower vectors and the tabular features, trained end to end (the towers
    # keep learning, with id dropout, so the MLP never sees vectors that memorised its training rows);
    # once per variant when the encoder is to be chosen, each from its own copy of stage 1
    runs: dict[bool, _EndToEnd] = {}  # by whether the encoder is on
    for enabled in ((False, True) if choose else (cfg.history.enabled,)):
        c = copy.deepcopy(cfg)
        c.choose_history, c.history.enabled = False, enabled
        t, k = copy.deepcopy((towers, task)) if choose else (towers, task)  # copied together: the task holds the towers
        encoder = HistoryEncoder(c.history).to(device) if enabled else None
        c.mlp.history_width = encoder.width if encoder is not None else 0
        mlp = DislikeMLP(c.mlp).to(device)
        with torch.no_grad():
            if c.residual:  # starts as stage 1's model
                mlp.body[-1].bias.zero_()
                mlp.body[-1].weight.zero_()
            else:
                mlp.body[-1].bias.fill_(base_logit)
        g = torch.Generator()
        g.set_state(gen.get_state())  # both variants see the same batches
        runs[enabled] = _EndToEnd(t, k, mlp, encoder, tr, va, c, g, device, list(history))
    choice = _choose(runs, cfg) if choose else None
    run = runs[choice["kept"] == "with the history encoder"] if choice else runs[cfg.history.enabled]
    cfg = run.cfg
    temperature = run.finish()
    seconds = time.perf_counter() - t_start
    logger.info("deep model: temperature %.3f, %.1fs on %s", temperature, seconds, device)
    return DeepModel(run.towers.cpu(), run.mlp.cpu(), prep, text, cfg, seconds, run.fit.history,
                     run.encoder.cpu() if run.encoder is not None else None, run.task.cpu() if cfg.residual else None, choice)


def _choose(runs: dict[bool, _EndToEnd], cfg: DeepConfig) -> dict:
    """Stage 2 without and with the encoder on the same first ``choose_history_rows`` training rows (whole
    batches, at most an epoch); which goes on from there, and why."""
    auc = {}
    t0 = time.perf_counter()
    for enabled, run in runs.items():
        run.fit.train_rows(cfg.choose_history_rows)
        auc[enabled] = run.valid_auc()
    kept = "with" if auc[True] >= auc[False] + cfg.history_min_gain else "without"
    rows = runs[True].fit.pos
    logger.info("deep: going on %s the history encoder (validation ROC AUC after %s training rows: %.4f without, %.4f with; "
                "kept when ahead by %.4f; %.1fs)", kept, f"{rows:,}", auc[False], auc[True], cfg.history_min_gain,
                time.perf_counter() - t0)
    return {"valid_roc_auc_without_encoder": auc[False], "valid_roc_auc_with_encoder": auc[True], "after_rows": rows,
            "min_gain": cfg.history_min_gain, "kept": f"{kept} the history encoder"}


def save_deep(model: DeepModel, folder) -> dict[str, str]:
    """State dicts, configuration and preprocessing of a deep model (text vectors stay in the warehouse)."""
    import json
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "deep_towers": folder / "deep_towers.pt",
        "deep_mlp": folder / "deep_mlp.pt",
        "deep_config": folder / "deep_config.json",
        "deep_preprocess": folder / "deep_preprocess.json",
        "deep_history": folder / "deep_history.json",
    }
    torch.save(model.towers.state_dict(), paths["deep_towers"])
    torch.save(model.mlp.state_dict(), paths["deep_mlp"])
    if model.encoder is not None:
        paths["deep_sequence"] = folder / "deep_sequence.pt"
        torch.save(model.encoder.state_dict(), paths["deep_sequence"])
    if model.task is not None:  # a residual model keeps stage 1's wide part (the towers are saved above)
        paths["deep_wide"] = folder / "deep_wide.pt"
        torch.save({k: v for k, v in model.task.state_dict().items() if not k.startswith("model.")}, paths["deep_wide"])
    paths["deep_config"].write_text(json.dumps(asdict(model.config), indent=1))
    model.prep.save(paths["deep_preprocess"])
    paths["deep_history"].write_text(json.dumps(model.history, indent=1))
    return {k: str(v) for k, v in paths.items()}


def _weights(path) -> dict[str, torch.Tensor]:
    """A saved state dict whose tensors are the file's pages, mapped (copy-on-write: a model trained on from them
    writes its own copies): loaded with ``assign=True``, the processes that load a version (the API's workers, the
    night's shard tasks) share its weights in the page cache instead of each holding a copy."""
    return torch.load(path, map_location="cpu", mmap=True, weights_only=True)


def load_deep(folder, text: dict[str, np.ndarray]) -> DeepModel:
    """A saved deep model, ready to predict, without retraining."""
    import json
    from pathlib import Path

    folder = Path(folder)
    cfg = DeepConfig.from_dict(json.loads((folder / "deep_config.json").read_text()))
    towers, mlp = TwoTower(cfg.tower), DislikeMLP(cfg.mlp)
    towers.load_state_dict(_weights(folder / "deep_towers.pt"), assign=True)
    mlp.load_state_dict(_weights(folder / "deep_mlp.pt"), assign=True)
    towers.eval()
    mlp.eval()
    encoder = None
    if cfg.history.enabled:
        encoder = HistoryEncoder(cfg.history)
        encoder.load_state_dict(_weights(folder / "deep_sequence.pt"), assign=True)
        encoder.eval()
    task = None
    if cfg.residual:
        task = TwoTowerTask(towers, cfg.tower.user_features + cfg.tower.track_features + cfg.mlp.n_dense, cfg.mlp.cat_sizes)
        missing, unexpected = task.load_state_dict(_weights(folder / "deep_wide.pt"), strict=False, assign=True)
        if unexpected or any(not k.startswith("model.") for k in missing):
            raise ValueError(f"{folder / 'deep_wide.pt'} does not fit the model's configuration")
        task.eval()
    prep = Preprocessor.load(folder / "deep_preprocess.json")
    history = json.loads((folder / "deep_history.json").read_text()) if (folder / "deep_history.json").exists() else []
    return DeepModel(towers, mlp, prep, text, cfg, history=history, encoder=encoder, task=task)


# --- the kind (skipify.models.kinds.Kind) ----------------------------------------------------------


def configure(config: DeepConfig | None, cfg: "Config", device: str = "auto", epochs: int | None = None) -> DeepConfig:
    config = copy.deepcopy(config) if config is not None else DeepConfig(epochs=cfg.train_epochs, seed=cfg.seed)
    config.device = device
    config.history_len = cfg.history_len  # the sequences are as long as the features make them
    if epochs:
        config.epochs = epochs
    return config


def summaries(columns: list[str]) -> list[str]:
    """The feature columns that sum up the listening history (hx_*, hsx_*; sql/features/families/31, 32, 40, 50)."""
    return [c for c in columns if c.startswith(("hx_", "hsx_"))]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` (0: one per core this process may use) for the block, then as they were."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or len(os.sched_getaffinity(0)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(train: pl.DataFrame, valid: pl.DataFrame, config: DeepConfig, resources: "Resources") -> DeepModel:
    with torch_threads(config.threads):
        return train_deep(train, valid, resources.content, config, *_mapping(resources))


def warm_start(model: DeepModel, train: pl.DataFrame, valid: pl.DataFrame, resources: "Resources", device: str = "auto") -> DeepModel:
    with torch_threads(model.config.threads):
        return finetune_deep(model, train, valid, resources.cfg.warm_start_epochs, device, scratch=_mapping(resources))


def _mapping(resources: "Resources") -> tuple[Path | None, int]:
    """Where a training's inputs are mapped from (None: held in memory) and how many rows are made at a time."""
    return resources.scratch, resources.cfg.train_chunk_rows


def load(folder, resources: "Resources") -> DeepModel:
    return load_deep(folder, resources.content)


def config_from_dict(raw: dict) -> DeepConfig:
    return DeepConfig.from_dict(raw)


def space(trial, cfg: "Config") -> DeepConfig:
    width = trial.suggest_categorical("mlp_width", [64, 128, 256])
    return DeepConfig(
        history=HistoryConfig(enabled=trial.suggest_categorical("history_encoder", [False, True])),
        choose_history=False,  # the encoder is one of the searched values here
        tower=TwoTowerConfig(
            dim=trial.suggest_categorical("tower_dim", [16, 32, 64]),
            id_dropout=trial.suggest_float("id_dropout", 0.05, 0.4),
            dropout=trial.suggest_float("tower_dropout", 0.0, 0.3),
        ),
        mlp=MLPConfig(hidden=[width, width // 2, width // 4], dropout=trial.suggest_float("mlp_dropout", 0.0, 0.4)),
        lr=trial.suggest_float("lr", 3e-4, 5e-3, log=True),
        weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-2, log=True),
        epochs=cfg.train_epochs,
        seed=cfg.seed,
    )
