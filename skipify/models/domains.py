"""One gate per domain: a version's models of one domain alone, and the model that scores each row with its domain's.

A version trained on several domains (music, podcasts, ...: docs/domains.md) holds its kinds trained on every
domain's plays (**joint**, what every version holds) and, for each smaller domain with enough plays, the same kinds
trained on that domain's plays alone (its **own** models, in the version's folder under ``domain-<name>/``). The
gate (skipify.registry.domain_choices) picks per domain which serves its rows: the version's served kind, unless a
joint kind or one of its own beats it on the domain's validation rows beyond the noise; the choice is the version's
``domain_served`` (models.registry). A domain without a choice of its own (the largest, one with too few plays, every domain of a
version trained before domains had a gate) is served by the version's served kind.

:class:`ByDomain` is that choice as one model: rows of a domain served by its own model go to it, the rest to the
joint one. The night and the API score with it like with any model (skipify.models.kinds.served_and_baseline).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from skipify.lookup import SMALL_FRAME
from skipify.models.base import Model, Resources

JOINT = "all"  # trained_on of the joint models
DEFAULT_DOMAIN = "music"  # a row that names no domain


def row_domains(rows: pl.DataFrame) -> np.ndarray:
    """Each row's domain (``t_domain``; music where it names none)."""
    if "t_domain" not in rows.columns:
        return np.full(rows.height, DEFAULT_DOMAIN, dtype=object)
    if rows.height <= SMALL_FRAME:  # a request's few rows: a list (fill_null is a query of its own)
        return np.array([DEFAULT_DOMAIN if d is None else d for d in rows.get_column("t_domain").to_list()], dtype=object)
    return rows["t_domain"].fill_null(DEFAULT_DOMAIN).to_numpy()


def own_folder(folder: Path, domain: str) -> Path:
    """Where a version keeps the models of one domain alone."""
    return Path(folder) / f"domain-{domain}"


def choices_of(version: dict) -> dict[str, dict]:
    """A registry row's per-domain choices (``domain_served``, JSON): domain -> {trained_on, served_model,
    baseline_model}; empty for a version trained before domains had a gate."""
    raw = version.get("domain_served")
    return json.loads(raw) if isinstance(raw, str) and raw else dict(raw or {})


def load_own(folder: Path, resources: Resources, version: dict) -> dict[str, dict[str, Model]]:
    """The own models of each domain whose choice is one of them: domain -> kind -> every model of that domain's
    folder (the served one, its baseline, and the kinds a blend is made of)."""
    from skipify.models.kinds import KINDS, load_models

    out: dict[str, dict[str, Model]] = {}
    for domain, choice in choices_of(version).items():
        if choice["trained_on"] == JOINT:
            continue
        where = own_folder(folder, domain)
        out[domain] = load_models(where, Resources.like(resources), [k for k in KINDS if (where / KINDS[k].marker).is_file()])
    return out


class ByDomain:
    """A joint model, and for some domains a model of their own: each row is scored by its domain's (``t_domain``).

    It answers like any model (predict, reasoner, explain; its blocks the union of its models'); ``prepare`` is
    left to each of its models, on its own rows."""

    kind: ClassVar[str] = "by_domain"

    def __init__(self, joint: Model, own: dict[str, Model]):
        self.joint, self.own = joint, own
        self.config = joint.config

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.joint.columns, *(c for m in self.own.values() for c in m.columns), "t_domain"]))

    @property
    def fitted(self) -> dict:
        return self.joint.fitted

    def parts(self, rows: pl.DataFrame) -> list[tuple[Model, np.ndarray]]:
        """(model, the row positions it scores): the joint model's first; empty parts left out."""
        domain = row_domains(rows)
        mine = {d: np.flatnonzero(domain == d) for d in self.own}
        rest = np.flatnonzero(~np.isin(domain, list(self.own)))
        return [(m, idx) for m, idx in [(self.joint, rest), *((self.own[d], mine[d]) for d in self.own)] if idx.size]

    def prepare(self, rows: pl.DataFrame) -> Any:
        return None

    def predict(self, rows: pl.DataFrame, data: Any = None) -> np.ndarray:
        out = np.zeros(rows.height)
        for model, idx in self.parts(rows):
            out[idx] = model.predict(rows[idx])
        return out

    def explain(self, rows: pl.DataFrame, background: pl.DataFrame, seed: int = 0) -> tuple[list[str], np.ndarray]:
        got = [(idx, *model.explain(rows[idx], background, seed=seed)) for model, idx in self.parts(rows)]
        blocks, values, _ = _gather(rows.height, [(idx, b, v, np.zeros(idx.size)) for idx, b, v in got])
        return blocks, values

    def reasoner(self, background: pl.DataFrame):
        each = {id(m): m.reasoner(background) for m in [self.joint, *self.own.values()]}

        def reasons(rows: pl.DataFrame, data: Any = None) -> tuple[list[str], np.ndarray, np.ndarray]:
            got = []
            for model, idx in self.parts(rows):
                part = rows[idx]
                got.append((idx, *each[id(model)](part, model.prepare(part))))
            return _gather(rows.height, got)

        return reasons

    def save(self, folder: Path) -> dict[str, str]:
        raise TypeError("a per-domain choice is not saved: its models are, each in its version's folder")


def _gather(n: int, parts: list[tuple[np.ndarray, list[str], np.ndarray, np.ndarray]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per-part (positions, blocks, values, logits) as one table over ``n`` rows: the union of the blocks, in
    first-seen order (a block a part's model does not have: 0 for its rows)."""
    blocks = list(dict.fromkeys(b for _, names, _, _ in parts for b in names))
    at = {b: i for i, b in enumerate(blocks)}
    values, logits = np.zeros((n, len(blocks))), np.zeros(n)
    for idx, names, v, logit in parts:
        values[np.ix_(idx, [at[b] for b in names])] = np.asarray(v)
        logits[idx] = logit
    return blocks, values, logits
