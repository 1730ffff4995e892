"""A toy model kind, to prove that a kind is one module and one line in skipify.models.kinds.KINDS:
tests/model/test_new_kind.py copies the repository, adds this file as ``skipify/models/logreg.py`` and the line

    Kind("logreg", "logistic regression", "skipify.models.logreg", "logreg.json", "linear SHAP"),

and sees it trained, evaluated, gated, served by the night and the API with reasons, and shown in the app.

A logistic regression over the catalogue's numeric columns (missing values at the training mean,
standardised), fitted by Newton's method with an L2 penalty. Its SHAP values are exact for a linear
model: each column's weight times its distance from the background's mean.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl


@dataclass
class LogRegConfig:
    l2: float = 1.0
    iterations: int = 20


@dataclass
class LogRegModel:
    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # one per feature, then the intercept
    config: LogRegConfig
    kind: ClassVar[str] = "logreg"

    @property
    def columns(self) -> list[str]:
        return list(self.features)

    @property
    def fitted(self) -> dict:
        return {"features": len(self.features)}

    def prepare(self, rows: pl.DataFrame) -> np.ndarray:
        x = rows.select([pl.col(c).cast(pl.Float64) for c in self.features]).to_numpy()
        return (np.where(np.isnan(x), self.mean, x) - self.mean) / self.scale

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights[:-1] + self.weights[-1]

    def predict(self, rows: pl.DataFrame, data: np.ndarray | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._logits(self.prepare(rows) if data is None else data)))

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0) -> tuple[list[str], np.ndarray]:
        return self.columns, (self.prepare(rows) - self.prepare(background).mean(axis=0)) * self.weights[:-1]

    def reasoner(self, background: pl.DataFrame):
        reference = self.prepare(background).mean(axis=0)

        def reasons(rows: pl.DataFrame, data: np.ndarray | None = None):
            x = self.prepare(rows) if data is None else data
            return self.columns, (x - reference) * self.weights[:-1], self._logits(x)

        return reasons

    def save(self, folder: Path) -> dict[str, str]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "logreg.json"
        path.write_text(json.dumps({"features": self.features, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                                    "weights": self.weights.tolist(), "config": asdict(self.config)}))
        return {"logreg": str(path)}


def configure(config: LogRegConfig | None, cfg, device: str = "cpu", epochs: int | None = None) -> LogRegConfig:
    return config or LogRegConfig()


def fit(train: pl.DataFrame, valid: pl.DataFrame, config: LogRegConfig, resources) -> LogRegModel:
    from skipify.catalogue import catalogue

    features = [c for c in catalogue() if c in train.columns and train.schema[c].is_numeric()]
    x = train.select([pl.col(c).cast(pl.Float64) for c in features]).to_numpy()
    mean = np.nan_to_num(np.nanmean(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0))
    scale = np.nan_to_num(np.nanstd(x, axis=0), nan=1.0)
    scale[scale == 0] = 1.0
    model = LogRegModel(features, mean, scale, np.zeros(len(features) + 1), config)
    design = np.hstack([model.prepare(train), np.ones((train.height, 1))])
    y = train["label"].to_numpy().astype(np.float64)
    penalty = np.diag([config.l2] * len(features) + [0.0])
    for _ in range(config.iterations):
        p = 1.0 / (1.0 + np.exp(-design @ model.weights))
        gradient = design.T @ (p - y) + penalty @ model.weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        model.weights -= np.linalg.solve(hessian, gradient)
    return model


def warm_start(model: LogRegModel, train: pl.DataFrame, valid: pl.DataFrame, resources, device: str = "cpu") -> LogRegModel:
    return fit(train, valid, model.config, None)


def load(folder: Path, resources) -> LogRegModel:
    raw = json.loads((Path(folder) / "logreg.json").read_text())
    return LogRegModel(raw["features"], np.asarray(raw["mean"]), np.asarray(raw["scale"]), np.asarray(raw["weights"]),
                       LogRegConfig(**raw["config"]))


def config_from_dict(raw: dict) -> LogRegConfig:
    return LogRegConfig(**raw)
