"""The deep dislike classifier: an MLP with batch normalisation and dropout.

Input per row: the two-tower user and track vectors, their element-wise product, the tabular
features (standardised, with missing flags) and an embedding per categorical feature (context
type, platform, reason_start, ...). Output: one logit. Calibration (temperature) is fitted on
validation after training and applied in ``predict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class MLPConfig:
    """Sizes and training knobs, saved with the weights."""

    hidden: list[int] = field(default_factory=lambda: [256, 128, 64])
    dropout: float = 0.2
    cat_dim: int = 8
    tower_dim: int = 32
    n_dense: int = 0  # filled in from the data
    cat_sizes: list[int] = field(default_factory=list)  # vocabulary size + 1 (0 = unknown) per column
    history_width: int = 0  # the history encoder's block (models/history.py), 0 without one


class DislikeMLP(nn.Module):
    """[Linear -> BatchNorm -> ReLU -> Dropout] x len(hidden) -> Linear(1)."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        self.cats = nn.ModuleList(nn.Embedding(n, cfg.cat_dim) for n in cfg.cat_sizes)
        width = 3 * cfg.tower_dim + cfg.n_dense + cfg.cat_dim * len(cfg.cat_sizes) + cfg.history_width
        layers: list[nn.Module] = []
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)
        self.log_temperature = nn.Parameter(torch.zeros(1), requires_grad=False)  # fitted after training

    def forward(self, user: torch.Tensor, track: torch.Tensor, dense: torch.Tensor, cats: torch.Tensor,
                history: torch.Tensor | None = None) -> torch.Tensor:
        """Calibrated logit, shape (N, 1); ``history``: the history encoder's block, when the model has one."""
        return self.combine(user, track, dense, [emb(cats[:, i]) for i, emb in enumerate(self.cats)], history)

    def combine(self, user: torch.Tensor, track: torch.Tensor, dense: torch.Tensor, cats: list[torch.Tensor],
                history: torch.Tensor | None = None) -> torch.Tensor:
        """The calibrated logit (N, 1) from the categories' looked-up vectors on (what explanations differentiate)."""
        head = torch.cat([user, track, user * track, dense, *cats] + ([history] if history is not None else []), dim=1)
        return self.body(head) / self.log_temperature.exp()

    @torch.no_grad()
    def fit_temperature(self, logits: torch.Tensor, labels: torch.Tensor) -> float:
        """Temperature scaling: the T in [0.1, 10] minimising validation log loss of logits / T.

        ``logits`` are the model's outputs with its current temperature; a grid search over log T is
        robust where a gradient fit on one scalar can overshoot on small or degenerate data.
        """
        raw = logits * self.log_temperature.exp()  # undo the current temperature
        loss_fn = nn.BCEWithLogitsLoss()
        grid = torch.linspace(-2.3, 2.3, 93)
        losses = torch.stack([loss_fn(raw / g.exp(), labels) for g in grid])
        self.log_temperature.fill_(float(grid[int(torch.argmin(losses))]))
        return float(self.log_temperature.exp())
