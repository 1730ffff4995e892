"""One interface for every model kind: what training, the gate, the night, the API, SHAP and
``skipify tune`` call.

    kind = KINDS["deep"]                                  # or "lightgbm"
    model = kind.fit(splits.train, splits.valid, kind.configure(None, cfg), resources)
    newer = kind.warm_start(model, new_train, splits.valid, resources, "cpu")   # trained on from its weights
    p = model.predict(rows)                               # dislike probabilities
    blocks, values = model.explain(rows, background)      # SHAP values of the logit per block
    reasons = model.reasoner(background)                  # fast per-row reasons (the API)
    blocks, values, logits = reasons(rows, model.prepare(rows))
    paths = model.save(folder)
    same = kind.load(folder, resources)

A model (:class:`Model`) is the trained thing; a :class:`Kind` is how to make, configure, tune and
load one. ``KINDS`` lists them in the order the gate prefers on a tie (the baseline first). A new
model kind is one module (its model class and the functions :class:`Kind` names) and one line in
``KINDS``: training, the evaluation's summary (``<kind>_roc_auc``...), the gate, the night, the API,
the app and the analysts' SQL loop over the kinds a version holds (docs/models.md, "A new kind").
The interface itself (``Model``, ``Resources``) is in skipify.models.base, which imports no stage.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import polars as pl

from skipify.config import Config
from skipify.models.base import Model, Resources

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Kind:
    """One kind of model: its names and the module that holds it.

    The module (``module``) defines the kind's functions, imported on first use (a process that only reads
    the labels imports no network):

    * ``configure(config, cfg, device, epochs)``: the configuration to train with (``config``: a given or
      tuned one, None for the defaults);
    * ``fit(train, valid, config, resources) -> Model``; ``warm_start(model, train, valid, resources, device) -> Model``
      (trained on from its weights; ``resources.cfg``: the configuration);
    * ``load(folder, resources) -> Model``; ``config_from_dict(raw)``;
    * optionally ``space(trial, cfg)``: skipify tune's search space (a kind without one is not tuned).
    """

    name: str
    label: str  # how people call it ("LightGBM", "deep model")
    module: str  # the module that holds it
    marker: str  # the file of a version's folder that says the version holds this kind (load_models)
    explainer: str  # how its SHAP values are computed (the app's captions)

    def _impl(self):
        return importlib.import_module(self.module)

    def configure(self, config: Any, cfg: Config, device: str = "auto", epochs: int | None = None) -> Any:
        return self._impl().configure(config, cfg, device, epochs)

    def fit(self, train: pl.DataFrame, valid: pl.DataFrame, config: Any, resources: Resources) -> Model:
        return self._impl().fit(train, valid, config, resources)

    def warm_start(self, model: Model, train: pl.DataFrame, valid: pl.DataFrame, resources: Resources,
                   device: str = "auto") -> Model:
        return self._impl().warm_start(model, train, valid, resources, device)

    def load(self, folder: Path, resources: Resources) -> Model:
        return self._impl().load(Path(folder), resources)

    def config_from_dict(self, raw: dict) -> Any:
        return self._impl().config_from_dict(raw)

    def space(self, trial: "optuna.Trial", cfg: Config) -> Any:
        return self._impl().space(trial, cfg)

    @property
    def tunable(self) -> bool:
        """Whether skipify tune can search it (its module has a ``space``)."""
        return hasattr(self._impl(), "space")


# Every kind, in the order the gate prefers on a tie (the baseline first). A new kind: its module, and a line here.
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("lightgbm", "LightGBM", "skipify.models.lgbm", "lightgbm.txt", "TreeSHAP"),
    Kind("deep", "deep model", "skipify.models.deep", "deep_config.json", "expected gradients"),
    Kind("blend", "blend", "skipify.models.blend", "blend.json", "its kinds' SHAP, weighted"),
)}


def kind_of(name: str) -> Kind:
    """The kind called ``name``.

    Raises:
        ValueError: no such kind.
    """
    if name not in KINDS:
        raise ValueError(f"unknown model kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]


def load_models(folder: Path, resources: Resources, held: Iterable[str] | None = None) -> dict[str, Model]:
    """The models of a version, by kind: the kinds it holds (``held``: models.registry.kinds), else, for a
    folder without that record, each kind whose file (``marker``) is there. A kind added since the version
    was trained is not loaded: the version serves with the kinds it has.

    Raises:
        ValueError: the folder holds no kind at all, or the version holds a kind this code does not know.
    """
    folder = Path(folder)
    names = list(held) if held is not None else [name for name, kind in KINDS.items() if (folder / kind.marker).is_file()]
    models: dict[str, Model] = {}
    before, resources.trained = resources.trained, models  # a kind may be made of the ones loaded before it (a blend)
    try:
        for name in names:
            models[name] = kind_of(name).load(folder, resources)
    finally:
        resources.trained = before
    if not models:
        raise ValueError(f"{folder} holds no model of any kind ({', '.join(k.marker for k in KINDS.values())})")
    return models


def baseline_of(served: str, held: Iterable[str]) -> str:
    """The kind whose probability is published beside the served one's (``p_dislike_baseline``): the first
    other kind of KINDS the version holds (``held``), else the served kind itself."""
    return next((k for k in KINDS if k != served and k in held), served)


def served_and_baseline(version: dict, models: dict[str, Model]) -> tuple[Model, Model]:
    """A version's served model (``p_dislike``, the reasons) and its baseline (``p_dislike_baseline``), as its
    registry row names them (served_model, baseline_model). Where the gate chose another model for a domain's rows
    (``domain_served``: a joint kind, or one trained on the domain alone, ``version["domain_models"]``, which
    skipify.versions.load_version loads), each is the per-domain choice (skipify.models.domains.ByDomain)."""
    from skipify.models.domains import JOINT, ByDomain, choices_of

    served, baseline = models[version["served_model"]], models[version["baseline_model"]]
    own = version.get("domain_models") or {}

    def model(domain: str, trained_on: str, kind: str) -> Model:
        return models[kind] if trained_on == JOINT else own[domain][kind]

    routed = {d: c for d, c in choices_of(version).items()
              if (c["trained_on"], c["served_model"]) != (JOINT, version["served_model"])}
    if not routed:
        return served, baseline
    return (ByDomain(served, {d: model(d, c["trained_on"], c["served_model"]) for d, c in routed.items()}),
            ByDomain(baseline, {d: model(d, c["trained_on"], c["baseline_model"]) for d, c in routed.items()}))
