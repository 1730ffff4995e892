"""The model interface: what every kind's trained model offers (:class:`Model`), the resources a kind may
ask for besides the rows (:class:`Resources`: the tracks' content vectors, the catalogue's track keys) and
what a set of models reads (:func:`read_columns`).

It imports no stage (no training, tuning, registry or night): the API and the night load models through
it and skipify.models.kinds without loading the training code.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

import numpy as np
import polars as pl

from skipify.config import Config
from skipify.warehouse import connect, run_sql

Reasoner = Callable[[pl.DataFrame, Any], tuple[list[str], np.ndarray, np.ndarray]]


class Model(Protocol):
    """A trained model of any kind."""

    kind: ClassVar[str]
    config: Any

    @property
    def columns(self) -> list[str]:
        """The feature columns it reads (the API and the night build only these families)."""

    def prepare(self, rows: pl.DataFrame) -> Any:
        """The rows as this model's input, shared by ``predict`` and a reasoner on the same rows."""

    def predict(self, rows: pl.DataFrame, data: Any = None) -> np.ndarray:
        """Calibrated dislike probabilities (``data``: ``prepare(rows)``, when already made)."""

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0) -> tuple[list[str], np.ndarray]:
        """SHAP values of the logit per block: (block names, rows x blocks)."""

    def reasoner(self, background: pl.DataFrame) -> Reasoner:
        """A cheap per-row explainer: ``reasons(rows, data) -> (blocks, values rows x blocks, logits)``; the
        values are in log-odds and add up to each row's logit minus a reference logit."""

    def save(self, folder: Path) -> dict[str, str]:
        """Write the artefacts; name -> path."""

    @property
    def fitted(self) -> dict:
        """What training chose beyond the configuration (kept in the version's params), JSON-able."""


@runtime_checkable
class Retriever(Protocol):
    """A capability a kind's model may declare: user and track vectors whose dot product ranks the tracks a
    listener is likely to play (the night's candidates; today the deep model's two towers)."""

    def vectors(self, rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(user vectors, track vectors) of feature rows, shape (N, dim) each."""


# rows a model scores at once (its inputs for more rows are made a chunk at a time: the evaluation's and the
# night's rows are never held as one model input); a multiple of the deep model's scoring batch
PREDICT_CHUNK = 262_144


class Resources:
    """What a kind may need besides the rows, loaded on first use: the track content vectors, the
    catalogue's track keys; in training, the kinds trained before it (``trained``, by kind: what a blend
    combines)."""

    def __init__(self, cfg: Config, scratch: Path | None = None, content: dict[str, np.ndarray] | None = None):
        self.cfg = cfg
        self.scratch = scratch  # a folder for a training's mapped tensors (None: they are held in memory)
        self.trained: dict[str, Model] = {}
        if content is not None:  # given (the API's, mapped from the machine's snapshot folder): not read again
            self.content = content

    @classmethod
    def like(cls, other: "Resources") -> "Resources":
        """The same resources (the vectors and keys loaded once), none trained yet: for another set of models."""
        out = cls(other.cfg, other.scratch)
        out.__dict__.update({k: v for k, v in other.__dict__.items() if k in ("content", "track_keys")})
        return out

    @cached_property
    def content(self) -> dict[str, np.ndarray]:
        return content_vectors(self.cfg)

    @cached_property
    def track_keys(self) -> pl.DataFrame:
        """track_id, artist, genre of every catalogued track (sql/models/track_keys.sql)."""
        from skipify.features import load_macros

        con = connect(self.cfg, read_only=True)
        try:
            load_macros(con)
            return run_sql(con, "models/track_keys").pl()
        finally:
            con.close()


def content_vectors(cfg: Config) -> dict[str, np.ndarray]:
    """track_id -> its content vector: the MiniLM vector of its current text (zeros while not embedded),
    then its audio descriptors (sql/models/track_vectors.sql). The towers read the text part, the
    history encoder all of it. Each vector is a row of one matrix (:func:`content_matrix`)."""
    return dict(zip(*content_matrix(cfg)))


def content_matrix(cfg: Config) -> tuple[list[str], np.ndarray]:
    """The tracks' ids and their content vectors (:func:`content_vectors`), one row each."""
    from skipify.models.history import AUDIO_DIM, CONTENT_DIM, TEXT_DIM

    con = connect(cfg, read_only=True)
    try:
        rows = run_sql(con, "models/track_vectors", {"model_name": cfg.text_model_name}).pl()
    finally:
        con.close()
    # one matrix, each track's vector a row of it: through Python lists of floats (fetchall) it took 6.4 s and left
    # about 1 GB with the process at 54,000 tracks, for 85 MB of vectors
    matrix = np.zeros((rows.height, CONTENT_DIM), dtype=np.float32)
    text = rows["embedding"].cast(pl.List(pl.Float32))
    known = text.is_not_null()
    if known.any():
        matrix[known.to_numpy(), :TEXT_DIM] = text.filter(known).cast(pl.Array(pl.Float32, TEXT_DIM)).to_numpy()
    matrix[:, TEXT_DIM:] = rows["audio"].cast(pl.Array(pl.Float32, AUDIO_DIM)).to_numpy()
    return rows["track_id"].to_list(), matrix


def retriever(models: dict[str, Model]) -> Retriever:
    """The model that retrieves the night's candidates: the first of ``models`` with the capability
    (:class:`Retriever`; today the deep model's two towers), whichever kind is served.

    Raises:
        ValueError: none of them can (the night then needs supplied candidates).
    """
    for model in models.values():
        if isinstance(model, Retriever):
            return model
    raise ValueError(f"none of the models ({', '.join(models)}) gives user and track vectors for candidate retrieval; "
                     "supply the night's candidates (raw.candidates)")


def predict_pair(served: Model, baseline: Model, rows: pl.DataFrame, data: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A version's served model's p(dislike) (``data``: its ``prepare(rows)``, when made) and its baseline's, on the
    same rows. A served model made of other kinds (the blend: ``predict(rows, data, known)``) takes the baseline's
    scores as they are instead of computing them a second time, and the baseline reads the rows as the served model
    prepared them for it (``data[baseline.kind]``) instead of preparing them again."""
    reuses = getattr(served, "reuses_scores", False)
    prepared = data.get(baseline.kind) if reuses and isinstance(data, dict) else None
    p_base = baseline.predict(rows) if prepared is None else baseline.predict(rows, data=prepared)
    if served is baseline:
        return p_base, p_base
    if reuses:
        return served.predict(rows, data, known={baseline.kind: p_base}), p_base
    return served.predict(rows, data=data), p_base


def predict_each(models: dict[str, Model], rows: pl.DataFrame) -> dict[str, np.ndarray]:
    """Every model's p(dislike) on the same rows, by kind, in order; a model made of the others (the blend:
    ``predict(rows, known=...)``) takes their probabilities as computed instead of computing them again."""
    out: dict[str, np.ndarray] = {}
    for name, model in models.items():
        out[name] = model.predict(rows, known=out) if getattr(model, "reuses_scores", False) else model.predict(rows)
    return out


def explain_each(models: dict[str, Model], rows: pl.DataFrame, background: pl.DataFrame,
                 seed: int = 0) -> dict[str, tuple[list[str], np.ndarray]]:
    """Every model's SHAP values on the same rows, by kind, in order; a model made of the others (the blend:
    ``explain(rows, background, seed, known)``) takes their values as computed instead of computing them again."""
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for name, model in models.items():
        reuse = getattr(model, "reuses_scores", False)
        out[name] = model.explain(rows, background, seed=seed, known=out) if reuse else model.explain(rows, background, seed=seed)
    return out


def read_columns(models: dict[str, Model]) -> set[str]:
    """The feature columns any of the models reads: families without them are not built or loaded."""
    return {c for m in models.values() for c in m.columns}
