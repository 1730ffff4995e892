"""The LightGBM baseline: gradient-boosted trees on the tabular features (the counts and shares of the
listening history among them: what the history encoder reads, summed up per row), plus the history's
similarities to the row's track (skipify.models.recent: a text projection fitted with the model).

Native categorical splits, early stopping on the validation split, deterministic
(``deterministic``, ``force_row_wise``, fixed seed and threads), saved as LightGBM's model text
next to its preprocessing JSON (and the text projection of the similarities).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import polars as pl

from skipify.config import logger
from skipify.data import chunks, mapped
from skipify.sequences import SEQUENCE_COLUMNS
from skipify.models.base import PREDICT_CHUNK
from skipify.models.preprocess import Preprocessor
from skipify.models.recent import Recent, similarities

if TYPE_CHECKING:
    from skipify.config import Config
    from skipify.models.base import Resources


@dataclass
class LGBMConfig:
    """Hyperparameters of the baseline (tuned on validation by `skipify tune`)."""

    num_leaves: int = 63
    learning_rate: float = 0.05
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    seed: int = 42
    threads: int = 2
    history_aggregates: bool = True  # the history's similarities to the track (skipify.models.recent)
    history_dims: int = 16  # principal axes of the text vectors their similarities are taken in
    history_len: int = 50  # plays per sequence (the features' history_len)

    def params(self) -> dict:
        return {
            "objective": "binary",
            "metric": "auc",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "num_threads": self.threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }


@dataclass
class LGBMModel:
    """A trained baseline: the booster, its preprocessing, and how training went."""

    booster: "object"
    prep: Preprocessor
    config: LGBMConfig
    best_iteration: int
    seconds: float
    recent: "Recent | None" = None  # the history's similarities (None: a model without them)
    kind: ClassVar[str] = "lightgbm"  # skipify.models.kinds

    @property
    def columns(self) -> list[str]:
        """The feature columns this model reads (with the similarities: the sequences they are made from)."""
        return self.prep.features + (list(SEQUENCE_COLUMNS) if self.recent else [])

    def importance(self) -> pl.DataFrame:
        """Total split gain per feature, largest first."""
        gain = self.booster.feature_importance(importance_type="gain", iteration=self.best_iteration)
        return pl.DataFrame({"feature": self.prep.features, "gain": gain.astype(np.float64)}).sort("gain", descending=True)

    def prepare(self, rows: pl.DataFrame) -> np.ndarray:
        """The rows as the trees read them."""
        return self.prep.tree_matrix(self.recent.add(rows) if self.recent else rows)

    def predict(self, rows: pl.DataFrame, data: np.ndarray | None = None) -> np.ndarray:
        """Dislike probability for feature rows (``data``: ``prepare(rows)``, when already made); many rows are
        read a chunk at a time (PREDICT_CHUNK)."""
        if data is not None:
            return self.booster.predict(data, num_iteration=self.best_iteration)
        return np.concatenate([self.booster.predict(self.prepare(part), num_iteration=self.best_iteration)
                               for part in chunks(rows, PREDICT_CHUNK)])

    @property
    def fitted(self) -> dict:
        """What training chose beyond the configuration (kept in the version's params)."""
        return {"best_iteration": self.best_iteration}

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame | None = None, seed: int = 0) -> tuple[list[str], np.ndarray]:
        """TreeSHAP values of the logit per feature (exact: no background, no sampling): (features, rows x features).

        LightGBM's own TreeSHAP (``pred_contrib``): the values of ``shap.TreeExplainer`` (a test compares
        them), without importing the shap package (four seconds of every scoring process's start)."""
        contrib = self.booster.predict(self.prepare(rows), num_iteration=self.best_iteration, pred_contrib=True)
        features = list(self.prep.features)
        return features, np.asarray(contrib)[:, :-1].reshape(rows.height, len(features))  # the last column: the base

    def reasoner(self, background: pl.DataFrame | None = None):
        """Per-row reasons for the API: path attributions (Saabas; as the treeinterpreter package): along
        each tree's path of the row, each split's change of the expected score is credited to the split's
        feature. Returns (features, values rows x features, logits); the values add up to the logit minus
        the trees' expected logit, exactly. About 0.1 ms a row against 3 ms for exact TreeSHAP
        (``pred_contrib``), which ``explain`` keeps for the scorecard's importances; on the demo world the
        two agree on the top reason for 4 rows in 5 (docs/api.md)."""
        features = list(self.prep.features)
        table = path_attributions(self.booster, self.best_iteration)

        def reasons(rows: pl.DataFrame, data: np.ndarray | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
            x = self.prepare(rows) if data is None else data
            leaves = self.booster.predict(x, num_iteration=self.best_iteration, pred_leaf=True, num_threads=1)
            leaves = np.asarray(leaves, dtype=np.int64).reshape(x.shape[0], -1)
            values = table[np.arange(table.shape[0])[None, :], leaves].sum(axis=1)
            logits = np.asarray(self.booster.predict(x, num_iteration=self.best_iteration, raw_score=True, num_threads=1))
            return features, values, logits

        return reasons

    def save(self, folder: Path) -> dict[str, str]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "lightgbm.txt"), num_iteration=self.best_iteration)
        self.prep.save(folder / "lightgbm_preprocess.json")
        paths = {"lightgbm": str(folder / "lightgbm.txt"), "lightgbm_preprocess": str(folder / "lightgbm_preprocess.json")}
        if self.recent:
            paths["lightgbm_history"] = str(self.recent.save(folder / "lightgbm_history.npz"))
        return paths

    @classmethod
    def load(cls, folder: Path, resources: "Resources | None" = None) -> "LGBMModel":
        """A saved model; one with the history similarities needs ``resources`` (the catalogue's tracks as of now)."""
        import lightgbm as lgb

        folder = Path(folder)
        booster = lgb.Booster(model_file=str(folder / "lightgbm.txt"))
        recent = None
        if (folder / "lightgbm_history.npz").exists():
            if resources is None:
                raise ValueError(f"{folder}: a model with history similarities loads with the warehouse's resources")
            recent = Recent.load(folder / "lightgbm_history.npz", resources)
        return cls(booster, Preprocessor.load(folder / "lightgbm_preprocess.json"), LGBMConfig(), booster.current_iteration(),
                   0.0, recent)


def path_attributions(booster, iterations: int) -> np.ndarray:
    """Per tree and leaf, what the path from the root to the leaf credits each feature: (trees x leaves x
    features); each split's child value minus its own, credited to the split's feature. Summed over a
    row's leaves: its logit minus the sum of the roots' values."""
    dump = booster.dump_model(num_iteration=iterations)
    trees = dump["tree_info"]
    table = np.zeros((len(trees), max(t["num_leaves"] for t in trees), len(dump["feature_names"])))
    for i, tree in enumerate(trees):
        stack = [(tree["tree_structure"], np.zeros(table.shape[2]))]
        while stack:
            node, credit = stack.pop()
            if "leaf_value" in node:  # a tree of one leaf credits nothing
                continue
            for side in ("left_child", "right_child"):
                child = node[side]
                step = credit.copy()
                step[node["split_feature"]] += child.get("internal_value", child.get("leaf_value")) - node["internal_value"]
                if "leaf_index" in child:
                    table[i, child["leaf_index"]] = step
                else:
                    stack.append((child, step))
    return table


class TreeRows:
    """Feature rows as LightGBM reads data larger than memory (its ``lightgbm.Sequence``): ranges of rows for
    the Dataset's construction, single rows for the sample its bins are chosen from (in increasing order: the
    chunk holding the last one asked for is kept). What it holds is one chunk as the trees read it."""

    def __init__(self, rows: pl.DataFrame, prep: Preprocessor, batch_size: int):
        self.rows, self.prep, self.batch_size = rows, prep, batch_size
        self._chunk: tuple[int, np.ndarray] = (-1, np.empty((0, len(prep.features)), np.float32))

    def __len__(self) -> int:
        return self.rows.height

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            lo, hi, _ = idx.indices(self.rows.height)
            return self.prep.tree_matrix(self.rows.slice(lo, max(hi - lo, 0)))
        lo = idx - idx % self.batch_size
        if self._chunk[0] != lo:
            self._chunk = (lo, self[lo:lo + self.batch_size])
        return self._chunk[1][idx - lo].astype(np.float64)  # the bins' sample is read as doubles


def train_lgbm(train: pl.DataFrame, valid: pl.DataFrame, config: LGBMConfig | None = None,
               resources: "Resources | None" = None, start: LGBMModel | None = None) -> LGBMModel:
    """Fit the baseline on ``train``, stopping when validation ROC AUC stops improving.

    Args:
        train: training feature rows (with ``label``; with the sequence columns for the history similarities).
        valid: validation feature rows, for early stopping only.
        config: hyperparameters.
        resources: the catalogue's tracks, for the history similarities (without them: none).
        start: a warm start: ``start``'s trees go on growing on ``train`` (its preprocessing and history
            similarities kept, so the features mean what they meant).

    Returns:
        The trained model.
    """
    import lightgbm as lgb

    config = config or (start.config if start is not None else LGBMConfig())
    t0 = time.perf_counter()
    recent = start.recent if start is not None else None
    if start is None and config.history_aggregates and resources is not None and all(c in train.columns for c in SEQUENCE_COLUMNS):
        recent = Recent.fit(resources, config.history_dims, config.history_len)
    # past a chunk of rows (in a training with a scratch folder), the rows are read a chunk at a time: the
    # similarities into a mapped file, LightGBM's Dataset built from a Sequence (its binned copy is what it holds)
    scratch, size = (resources.scratch, resources.cfg.train_chunk_rows) if resources is not None else (None, 0)
    large = scratch is not None and max(train.height, valid.height) > size
    if recent is not None:
        if large:
            train, valid = (pl.concat([rows, mapped(scratch / f"lightgbm-{name}-similarities.arrow",
                                                    (similarities(c, recent.tracks, recent.length) for c in chunks(rows, size)),
                                                    f"lightgbm {name} similarities")], how="horizontal")
                            for name, rows in (("train", train), ("valid", valid)))
        else:
            train, valid = recent.add(train), recent.add(valid)
        logger.info("lightgbm: history similarities added (%.1fs)", time.perf_counter() - t0)
    prep = start.prep if start is not None else Preprocessor.fit(train)
    cats = list(range(len(prep.numeric), len(prep.features)))
    # a Sequence to LightGBM (an abstract base class: registered, not inherited, so that importing this module
    # imports no LightGBM); anything else it would turn into one matrix of every row, row by row
    lgb.Sequence.register(TreeRows)
    data = (lambda rows: TreeRows(rows, prep, size)) if large else prep.tree_matrix
    dtrain = lgb.Dataset(data(train), train["label"].to_numpy(), feature_name=prep.features,
                         categorical_feature=cats, free_raw_data=False)
    dvalid = lgb.Dataset(data(valid), valid["label"].to_numpy(), reference=dtrain)
    booster = lgb.train(
        config.params(),
        dtrain,
        num_boost_round=config.max_rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False), lgb.log_evaluation(100)],
        init_model=start.booster if start is not None else None,
    )
    seconds = time.perf_counter() - t0
    logger.info("lightgbm: %d rounds (best %d), valid AUC %.4f, %.1fs", booster.current_iteration(),
                booster.best_iteration, booster.best_score["valid"]["auc"], seconds)
    return LGBMModel(booster, prep, config, booster.best_iteration, seconds, recent)


# --- the kind (skipify.models.kinds.Kind) ----------------------------------------------------------


def configure(config: LGBMConfig | None, cfg: "Config", device: str = "cpu", epochs: int | None = None) -> LGBMConfig:
    config = copy.deepcopy(config) if config is not None else LGBMConfig(seed=cfg.seed, threads=cfg.duckdb_threads)
    config.history_len = cfg.history_len  # the sequences are as long as the features make them
    return config


def fit(train: pl.DataFrame, valid: pl.DataFrame, config: LGBMConfig, resources: "Resources") -> LGBMModel:
    return train_lgbm(train, valid, config, resources)


def warm_start(model: LGBMModel, train: pl.DataFrame, valid: pl.DataFrame, resources: "Resources", device: str = "cpu") -> LGBMModel:
    return train_lgbm(train, valid, start=model)  # more trees on the new rows, early-stopped on validation


def load(folder: Path, resources: "Resources") -> LGBMModel:
    return LGBMModel.load(folder, resources)


def config_from_dict(raw: dict) -> LGBMConfig:
    return LGBMConfig(**raw)


def space(trial, cfg: "Config") -> LGBMConfig:
    return LGBMConfig(
        num_leaves=trial.suggest_int("num_leaves", 15, 255, log=True),
        learning_rate=trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
        feature_fraction=trial.suggest_float("feature_fraction", 0.5, 1.0),
        lambda_l2=trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        seed=cfg.seed,
        threads=cfg.duckdb_threads,
        history_len=cfg.history_len,
    )
