"""The champion gate on constructed cases."""

from __future__ import annotations

from skipify.registry import gate


def s(deep, lgbm):
    return {"deep_roc_auc": deep, "lightgbm_roc_auc": lgbm}


def test_first_model_is_promoted_only_if_deep_beats_lightgbm():
    assert gate(s(0.80, 0.78), None, 0.005).promoted
    v = gate(s(0.77, 0.78), None, 0.005)
    assert not v.promoted and "does not beat LightGBM" in v.text
    assert not gate(s(0.78, 0.78), None, 0.005).promoted  # a tie is not a win


def test_against_a_champion():
    champ = s(0.80, 0.78)
    assert gate(s(0.81, 0.79), champ, 0.005).promoted  # better
    assert gate(s(0.797, 0.79), champ, 0.005).promoted  # slightly worse, within tolerance
    worse = gate(s(0.79, 0.78), champ, 0.005)
    assert not worse.promoted and "falls behind the champion" in worse.text
    assert not gate(s(None, 0.78), champ, 0.005).promoted
