"""The blend: the other kinds' logits combined, with weights fitted on the validation split (stacking, as the
KKBox churn and WSDM music-recommendation winners blended their trees and networks).

    logit = bias + sum_k weight_k * logit_k        (k: the kinds trained before it, LightGBM and the deep model)

The weights are a logistic regression of the validation labels on the components' logits (Newton's method,
a small L2 penalty on the weights). It is a kind like any other: the gate serves it when its validation
ROC AUC is the best. Three parameters fitted on the validation rows the gate then reads make its validation
figure optimistic by about the noise of three parameters on that many rows (100,000 on the demo world);
its test figures are out of sample.

Explanations add up: a component's SHAP values (or reasons) sum to its logit minus a reference, so the
blend's value of a block is the weighted sum of its components' values of that block.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import polars as pl

from skipify.config import logger

if TYPE_CHECKING:
    from skipify.config import Config
    from skipify.models.base import Model, Resources

EPS = 1e-6  # probabilities clipped before their logit


@dataclass
class BlendConfig:
    l2: float = 1e-3  # on the weights, not the bias
    iterations: int = 25
    kinds: list[str] = field(default_factory=list)  # the kinds blended (empty: every kind trained before it)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass
class BlendModel:
    components: dict[str, "Model"]  # by kind, in the order of the weights
    weights: np.ndarray
    bias: float
    config: BlendConfig
    kind: ClassVar[str] = "blend"
    reuses_scores: ClassVar[bool] = True  # skipify.models.base.predict_pair: its kinds' scores, when known, are reused

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(c for m in self.components.values() for c in m.columns))

    @property
    def fitted(self) -> dict:
        return {"weights": dict(zip(self.components, self.weights.tolist())), "bias": self.bias}

    def prepare(self, rows: pl.DataFrame) -> dict[str, Any]:
        return {k: m.prepare(rows) for k, m in self.components.items()}

    def logits(self, rows: pl.DataFrame, data: dict[str, Any] | None = None,
               known: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The blended logit; ``known``: probabilities of some of its kinds on these rows, used as they are."""
        known = known or {}
        return self.bias + sum(w * _logit(known[k] if k in known else m.predict(rows, data=None if data is None else data[k]))
                               for w, (k, m) in zip(self.weights, self.components.items()))

    def predict(self, rows: pl.DataFrame, data: dict[str, Any] | None = None,
                known: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(rows, data, known)))

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0,
                known: dict[str, tuple[list[str], np.ndarray]] | None = None) -> tuple[list[str], np.ndarray]:
        """Its kinds' SHAP values, weighted (``known``: some kinds' values on these rows, used as they are)."""
        known = known or {}
        return _combine([(w, *(known[k] if k in known else m.explain(rows, background, seed=seed)))
                         for w, (k, m) in zip(self.weights, self.components.items())])

    def reasoner(self, background: pl.DataFrame):
        each = [(w, k, m.reasoner(background)) for w, (k, m) in zip(self.weights, self.components.items())]

        def reasons(rows: pl.DataFrame, data: dict[str, Any] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
            data = data if data is not None else self.prepare(rows)
            parts = [(w, *r(rows, data[k])) for w, k, r in each]
            blocks, values = _combine([(w, b, v) for w, b, v, _ in parts])
            return blocks, values, self.bias + sum(w * logit for w, _, _, logit in parts)

        return reasons

    def save(self, folder: Path) -> dict[str, str]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "blend.json"
        path.write_text(json.dumps({"kinds": list(self.components), "weights": self.weights.tolist(), "bias": self.bias,
                                    "config": asdict(self.config)}, indent=1))
        return {"blend": str(path)}


def _combine(parts: list[tuple[float, list[str], np.ndarray]]) -> tuple[list[str], np.ndarray]:
    """Weighted sum of several explanations, block by block (the union of their blocks, in first-seen order)."""
    blocks = list(dict.fromkeys(b for _, names, _ in parts for b in names))
    at = {b: i for i, b in enumerate(blocks)}
    out = np.zeros((parts[0][2].shape[0], len(blocks)))
    for w, names, values in parts:
        out[:, [at[b] for b in names]] += w * np.asarray(values)
    return blocks, out


def _fit_weights(logits: np.ndarray, y: np.ndarray, config: BlendConfig) -> tuple[np.ndarray, float]:
    """A logistic regression of ``y`` on the components' logits (columns) by Newton's method."""
    design = np.hstack([logits, np.ones((len(y), 1))])
    beta = np.zeros(design.shape[1])
    beta[:-1] = 1.0 / logits.shape[1]  # start at the mean of the logits
    penalty = np.diag([config.l2 * len(y)] * logits.shape[1] + [0.0])
    for _ in range(config.iterations):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (p - y) + penalty @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def _blend(components: dict[str, "Model"], valid: pl.DataFrame, config: BlendConfig) -> BlendModel:
    if not components:
        raise ValueError("a blend needs other kinds trained before it (skipify.models.kinds.KINDS lists it after them)")
    logits = np.column_stack([_logit(m.predict(valid)) for m in components.values()])
    weights, bias = _fit_weights(logits, valid["label"].to_numpy().astype(np.float64), config)
    logger.info("blend: %s, bias %.3f (fitted on %s validation rows)",
                ", ".join(f"{k} {w:.3f}" for k, w in zip(components, weights)), bias, f"{valid.height:,}")
    return BlendModel(dict(components), weights, bias, config)


# --- the kind (skipify.models.kinds.Kind) ----------------------------------------------------------


def configure(config: BlendConfig | None, cfg: "Config", device: str = "cpu", epochs: int | None = None) -> BlendConfig:
    return config or BlendConfig()


def fit(train: pl.DataFrame, valid: pl.DataFrame, config: BlendConfig, resources: "Resources") -> BlendModel:
    names = config.kinds or [k for k in resources.trained if k != BlendModel.kind]
    return _blend({k: resources.trained[k] for k in names}, valid, config)


def warm_start(model: BlendModel, train: pl.DataFrame, valid: pl.DataFrame, resources: "Resources",
               device: str = "cpu") -> BlendModel:
    """The weights fitted again over the components as warm-started (their logits moved)."""
    return _blend({k: resources.trained[k] for k in model.components}, valid, model.config)


def load(folder: Path, resources: "Resources") -> BlendModel:
    raw = json.loads((Path(folder) / "blend.json").read_text())
    missing = [k for k in raw["kinds"] if k not in resources.trained]
    if missing:
        raise ValueError(f"{folder}: the blend combines {', '.join(missing)}, not loaded before it")
    return BlendModel({k: resources.trained[k] for k in raw["kinds"]}, np.asarray(raw["weights"]), float(raw["bias"]),
                      BlendConfig(**raw["config"]))


def config_from_dict(raw: dict) -> BlendConfig:
    return BlendConfig(**raw)
