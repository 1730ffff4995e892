"""The LightGBM baseline: gradient-boosted trees on the tabular features alone.

Native categorical splits, early stopping on the validation split, deterministic
(``deterministic``, ``force_row_wise``, fixed seed and threads), saved as LightGBM's model text
next to its preprocessing JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from skipify.config import logger
from skipify.models.preprocess import Preprocessor

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
    kind: ClassVar[str] = "lightgbm"  # skipify.models.kinds

    @property
    def columns(self) -> list[str]:
        """The feature columns this model reads."""
        return self.prep.features

    def importance(self) -> pl.DataFrame:
        """Total split gain per feature, largest first."""
        gain = self.booster.feature_importance(importance_type="gain", iteration=self.best_iteration)
        return pl.DataFrame({"feature": self.prep.features, "gain": gain.astype(np.float64)}).sort("gain", descending=True)

    def prepare(self, rows: pl.DataFrame) -> np.ndarray:
        """The rows as the trees read them."""
        return self.prep.tree_matrix(rows)

    def predict(self, rows: pl.DataFrame, data: np.ndarray | None = None) -> np.ndarray:
        """Dislike probability for feature rows (``data``: ``prepare(rows)``, when already made)."""
        return self.booster.predict(self.prepare(rows) if data is None else data, num_iteration=self.best_iteration)

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame | None = None, seed: int = 0) -> tuple[list[str], np.ndarray]:
        """TreeSHAP values of the logit per feature (exact: no background, no sampling)."""
        from skipify.explain import explain_lightgbm

        return explain_lightgbm(self, rows)

    def reasoner(self, background: pl.DataFrame | None = None):
        """Per-row reasons: LightGBM's own TreeSHAP contributions (``pred_contrib``), the same values as
        ``explain`` without the shap package's overhead. Returns (features, values rows x features, logits):
        the values add up to the logit minus the expected logit (the bias column, left out)."""
        features = list(self.prep.features)

        def reasons(rows: pl.DataFrame, data: np.ndarray | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
            x = self.prepare(rows) if data is None else data
            contrib = np.asarray(self.booster.predict(x, num_iteration=self.best_iteration, pred_contrib=True), dtype=np.float64)
            contrib = contrib.reshape(x.shape[0], -1)
            return features, contrib[:, :-1], contrib.sum(axis=1)

        return reasons

    def save(self, folder: Path) -> dict[str, str]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "lightgbm.txt"), num_iteration=self.best_iteration)
        self.prep.save(folder / "lightgbm_preprocess.json")
        return {"lightgbm": str(folder / "lightgbm.txt"), "lightgbm_preprocess": str(folder / "lightgbm_preprocess.json")}

    @classmethod
    def load(cls, folder: Path) -> "LGBMModel":
        import lightgbm as lgb

        folder = Path(folder)
        booster = lgb.Booster(model_file=str(folder / "lightgbm.txt"))
        return cls(booster, Preprocessor.load(folder / "lightgbm_preprocess.json"), LGBMConfig(), booster.current_iteration(), 0.0)


def train_lgbm(train: pl.DataFrame, valid: pl.DataFrame, config: LGBMConfig | None = None) -> LGBMModel:
    """Fit the baseline on ``train``, stopping when validation ROC AUC stops improving.

    Args:
        train: training feature rows (with ``label``).
        valid: validation feature rows, for early stopping only.
        config: hyperparameters.

    Returns:
        The trained model.
    """
    import lightgbm as lgb

    config = config or LGBMConfig()
    t0 = time.perf_counter()
    prep = Preprocessor.fit(train)
    cats = list(range(len(prep.numeric), len(prep.features)))
    dtrain = lgb.Dataset(prep.tree_matrix(train), train["label"].to_numpy(), feature_name=prep.features,
                         categorical_feature=cats, free_raw_data=False)
    dvalid = lgb.Dataset(prep.tree_matrix(valid), valid["label"].to_numpy(), reference=dtrain)
    booster = lgb.train(
        config.params(),
        dtrain,
        num_boost_round=config.max_rounds,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False), lgb.log_evaluation(100)],
    )
    seconds = time.perf_counter() - t0
    logger.info("lightgbm: %d rounds (best %d), valid AUC %.4f, %.1fs", booster.current_iteration(),
                booster.best_iteration, booster.best_score["valid"]["auc"], seconds)
    return LGBMModel(booster, prep, config, booster.best_iteration, seconds)
