"""The blend's weights: a logistic regression of the labels on its kinds' logits, recovered from labels drawn
with known weights; and a blend of one good and one useless kind leans on the good one."""

from __future__ import annotations

import numpy as np

from skipify.models.blend import BlendConfig, _fit_weights


def test_the_weights_are_the_ones_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (40_000, 2))
    y = (rng.random(40_000) < 1 / (1 + np.exp(-(0.3 + 0.8 * logits[:, 0] + 0.4 * logits[:, 1])))).astype(np.float64)
    weights, bias = _fit_weights(logits, y, BlendConfig(l2=0.0))
    assert np.allclose(weights, [0.8, 0.4], atol=0.05) and abs(bias - 0.3) < 0.05


def test_a_useless_kind_gets_no_weight():
    rng = np.random.default_rng(1)
    good = rng.normal(0, 2, 20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-good))).astype(np.float64)
    weights, _ = _fit_weights(np.column_stack([good, rng.normal(0, 2, 20_000)]), y, BlendConfig())
    assert abs(weights[0] - 1) < 0.1 and abs(weights[1]) < 0.05
