"""One interface for every model kind: what training, the gate, the night, the API, SHAP and
``skipify tune`` call.

    kind = KINDS["deep"]                                  # or "lightgbm"
    model = kind.fit(splits.train, splits.valid, kind.configure(None, cfg), resources)
    newer = kind.warm_start(model, new_train, splits.valid, cfg, "cpu")   # trained on from its weights
    p = model.predict(rows)                               # dislike probabilities
    blocks, values = model.explain(rows, background)      # SHAP values of the logit per block
    reasons = model.reasoner(background)                  # fast per-row reasons (the API)
    blocks, values, logits = reasons(rows, model.prepare(rows))
    paths = model.save(folder)
    same = kind.load(folder, resources)

A model (:class:`Model`) is the trained thing; a :class:`Kind` is how to make, configure, tune and
load one. ``KINDS`` lists them in the order the gate prefers on a tie (the baseline first). A new
model kind is one module with a class that has these methods, and one entry in ``KINDS`` (issue 29: the
evaluation's summary, the app and the analysts' SQL still name the two kinds). The interface itself
(``Model``, ``Resources``) is in skipify.models.base, which imports no stage.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import polars as pl

from skipify.config import Config
from skipify.models.base import Model, Resources

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Kind:
    """How to make one kind of model."""

    name: str
    label: str  # how people call it ("LightGBM", "deep model")
    config_from_dict: Callable[[dict], Any]
    configure: Callable[[Any, Config, str, int | None], Any]  # (config or None, cfg, device, epochs) -> config to train
    fit: Callable[[pl.DataFrame, pl.DataFrame, Any, Resources], Model]
    load: Callable[[Path, Resources], Model]
    space: Callable[["optuna.Trial", Config], Any]  # skipify tune's search space
    warm_start: Callable[[Model, pl.DataFrame, pl.DataFrame, Config, str], Model]  # (model, train, valid, cfg, device): trained on
    marker: str  # the file of a version's folder that says the version holds this kind (load_models)


# --- LightGBM --------------------------------------------------------------------------------


def _lgbm_configure(config, cfg: Config, device: str = "cpu", epochs: int | None = None):
    from skipify.models.lgbm import LGBMConfig

    config = copy.deepcopy(config) if config is not None else LGBMConfig(seed=cfg.seed, threads=cfg.duckdb_threads)
    config.history_len = cfg.history_len  # the sequences are as long as the features make them
    return config


def _lgbm_fit(train, valid, config, resources: Resources) -> Model:
    from skipify.models.lgbm import train_lgbm

    return train_lgbm(train, valid, config, resources)


def _lgbm_warm(model, train, valid, cfg: Config, device: str = "cpu") -> Model:
    from skipify.models.lgbm import train_lgbm

    return train_lgbm(train, valid, start=model)  # more trees on the new rows, early-stopped on validation


def _lgbm_load(folder: Path, resources: Resources) -> Model:
    from skipify.models.lgbm import LGBMModel

    return LGBMModel.load(folder, resources)


def _lgbm_space(trial, cfg: Config):
    from skipify.models.lgbm import LGBMConfig

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


def _lgbm_from_dict(raw: dict):
    from skipify.models.lgbm import LGBMConfig

    return LGBMConfig(**raw)


# --- the deep model ----------------------------------------------------------------------------


def _deep_configure(config, cfg: Config, device: str = "auto", epochs: int | None = None):
    from skipify.models.deep import DeepConfig

    config = copy.deepcopy(config) if config is not None else DeepConfig(epochs=cfg.train_epochs, seed=cfg.seed)
    config.device = device
    config.history_len = cfg.history_len  # the sequences are as long as the features make them
    if epochs:
        config.epochs = epochs
    return config


def _deep_fit(train, valid, config, resources: Resources) -> Model:
    from skipify.models.deep import train_deep

    return train_deep(train, valid, resources.content, config)


def _deep_warm(model, train, valid, cfg: Config, device: str = "auto") -> Model:
    from skipify.models.deep import finetune_deep

    return finetune_deep(model, train, valid, cfg.warm_start_epochs, device)


def _deep_load(folder: Path, resources: Resources) -> Model:
    from skipify.models.deep import load_deep

    return load_deep(folder, resources.content)


def _deep_space(trial, cfg: Config):
    from skipify.models.deep import DeepConfig
    from skipify.models.history import HistoryConfig
    from skipify.models.mlp import MLPConfig
    from skipify.models.two_tower import TwoTowerConfig

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


def _deep_from_dict(raw: dict):
    from skipify.models.deep import DeepConfig

    return DeepConfig.from_dict(raw)


KINDS: dict[str, Kind] = {
    "lightgbm": Kind("lightgbm", "LightGBM", _lgbm_from_dict, _lgbm_configure, _lgbm_fit, _lgbm_load, _lgbm_space, _lgbm_warm,
                     "lightgbm.txt"),
    "deep": Kind("deep", "deep model", _deep_from_dict, _deep_configure, _deep_fit, _deep_load, _deep_space, _deep_warm,
                 "deep_config.json"),
}
# a version registered before the gate chose a kind served its deep model: sql/models/versions.sql and
# champion.sql read a missing served_model as this
LEGACY_SERVED = "deep"


def kind_of(name: str) -> Kind:
    """The kind called ``name``.

    Raises:
        ValueError: no such kind.
    """
    if name not in KINDS:
        raise ValueError(f"unknown model kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]


def load_models(folder: Path, resources: Resources) -> dict[str, Model]:
    """The models a version's folder holds, by kind: a kind whose file is not there (a version trained before
    the kind existed) is not loaded, and the version serves with the kinds it has.

    Raises:
        ValueError: the folder holds no kind at all.
    """
    folder = Path(folder)
    models = {name: kind.load(folder, resources) for name, kind in KINDS.items() if (folder / kind.marker).is_file()}
    if not models:
        raise ValueError(f"{folder} holds no model of any kind ({', '.join(k.marker for k in KINDS.values())})")
    return models


def baseline_of(served: str, held: Iterable[str]) -> str:
    """The kind whose probability is published beside the served one's (``p_dislike_baseline``): the first
    other kind of KINDS the version holds (``held``), else the served kind itself."""
    return next((k for k in KINDS if k != served and k in held), served)


def served_and_baseline(version: dict, models: dict[str, Model]) -> tuple[Model, Model]:
    """A version's served model (``p_dislike``, the reasons) and its baseline (``p_dislike_baseline``)."""
    return models[version["served_model"]], models[baseline_of(version["served_model"], models)]
