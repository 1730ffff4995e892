"""`skipify train` end to end on a tiny world (the session's scored warehouse): registry, artefacts,
evaluation, determinism, tuning, SHAP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.data import load_rows
from skipify.models.base import predict_each
from skipify.models.deep import DeepConfig
from skipify.models.kinds import KINDS
from skipify.registry import versions
from skipify.versions import load_version
from skipify.train import evaluate_version, train
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS, tiny_deep_config, tiny_lgbm_config


def tiny_deep() -> DeepConfig:
    return tiny_deep_config()


@pytest.fixture(scope="module")
def trained(copy_scored_home):
    """A copy of the session's scored warehouse (trained by tests/conftest.py with tiny_deep() and
    tiny_lgbm_config() at NIGHT): (config, {"version", "evaluation"}) of its one version."""
    cfg = load_config(home=copy_scored_home("train_home"), **SCORED_SETTINGS)
    con = connect(cfg, read_only=True)
    try:
        [row] = versions(con)
    finally:
        con.close()
    return cfg, {"version": row["version"], "evaluation": json.loads(row["metrics"])}


def test_train_registers_a_version_with_its_artefacts_and_oracle(trained):
    cfg, r = trained
    s = r["evaluation"]["summary"]
    assert s["n_test_rows"] > 500 and 0.6 < s["lightgbm_roc_auc"] < s["oracle_roc_auc"] < 0.95
    assert 0 < s["deep_lift_share"] < 1.05 and s["deep_roc_auc"] > 0.6
    assert set(r["evaluation"]["models"]) >= {"deep", "lightgbm", "global_rate", "user_rate", "track_rate", "previous_in_session"}
    assert set(r["evaluation"]["models"]["deep"]["segments"]) >= {"new_users", "light_users", "heavy_users"}
    con = connect(cfg, read_only=True)
    [row] = versions(con)
    assert row["version"] == r["version"] and row["status"] in ("champion", "rejected")
    assert row["gate_reasons"]
    for path in json.loads(con.execute("SELECT artefacts FROM models.registry").fetchone()[0]).values():
        assert Path(path).exists()


def test_the_blend_scored_with_its_kinds_scores_is_the_blend_scored_alone(trained):
    """The evaluation and the champion's rows score every kind once (predict_each): the blend takes its kinds'
    probabilities as computed, which must be what it computes itself."""
    cfg, _ = trained
    _, models = load_version(None, cfg)
    assert "blend" in models and list(models).index("blend") > 0
    rows = load_rows(cfg, sequences=True).tail(2_000)
    each = predict_each(models, rows)
    assert list(each) == list(models)
    for name, model in models.items():
        np.testing.assert_array_equal(each[name], model.predict(rows))


def test_tower_vectors_are_written_per_version_for_every_known_id(trained):
    cfg, r = trained
    con = connect(cfg, read_only=True)
    n_users = con.execute("SELECT count(*) FROM (SELECT user_id FROM raw.users UNION SELECT user_id FROM raw.events)").fetchone()[0]
    n_tracks = con.execute("SELECT count(*) FROM (SELECT track_id FROM raw.tracks UNION SELECT track_id FROM raw.events)").fetchone()[0]
    for table, key, n in (("user_vectors", "user_id", n_users), ("track_vectors", "track_id", n_tracks)):
        rows, ids, dims, finite = con.execute(
            f"SELECT count(*), count(DISTINCT {key}), min(len(vector)), bool_and(list_sum(list_transform(vector, x -> isfinite(x)::int)) = len(vector)) "
            f"FROM embeddings.{table} WHERE model_version = $v", {"v": r["version"]}).fetchone()
        assert rows == ids == n and dims == tiny_deep().tower.dim and finite


def test_saved_models_score_as_the_trained_ones(trained):
    cfg, r = trained
    again = evaluate_version(r["version"], cfg)
    for name in ("deep", "lightgbm"):
        assert again["models"][name]["test"]["roc_auc"] == pytest.approx(r["evaluation"]["models"][name]["test"]["roc_auc"], abs=1e-9)
        assert again["models"][name]["test"]["log_loss"] == pytest.approx(r["evaluation"]["models"][name]["test"]["log_loss"], abs=1e-7)


def test_lightgbm_reads_the_history_summed_up_from_the_same_sequences(trained):
    from skipify.catalogue import catalogue
    from skipify.sequences import SEQUENCE_COLUMNS
    from skipify.models.recent import COLUMNS
    from skipify.versions import load_version

    cfg, r = trained
    _, models = load_version(r["version"], cfg)
    lgbm = models["lightgbm"]
    assert lgbm.recent is not None and (cfg.models_dir / r["version"] / "lightgbm_history.npz").exists()
    counts = [c for c in catalogue() if c.startswith(("hx_", "hsx_"))]  # the history's counts and shares: features
    assert len(counts) == 8 and set(counts).isdisjoint(COLUMNS)
    assert set(COLUMNS) | set(counts) <= set(lgbm.prep.features)  # inputs of the trees, fitted like any column
    assert set(SEQUENCE_COLUMNS) <= set(lgbm.columns)  # the night and the API build the sequences for it
    gain = lgbm.importance().filter(pl.col("feature").is_in([*COLUMNS, *counts]))["gain"].sum()
    assert gain > 0  # the trees split on them
    # the deep model reads the plays themselves (its encoder), not their sums (DeepConfig.history_summaries, off)
    assert set(counts).isdisjoint(models["deep"].prep.features) and models["deep"].prep.features


def test_same_data_and_seed_give_the_same_metrics(trained):
    import torch

    cfg, r = trained
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the API sets its process: training sets its own count (DeepConfig.threads)
    try:
        r2 = train(NIGHT, cfg=cfg, device="cpu", configs={"deep": tiny_deep(), "lightgbm": tiny_lgbm_config()})
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before
    for key in ("deep_roc_auc", "lightgbm_roc_auc", "deep_log_loss"):
        assert r2["evaluation"]["summary"][key] == pytest.approx(r["evaluation"]["summary"][key], abs=1e-6)
    con = connect(cfg, read_only=True)
    known = versions(con)
    statuses = [v["status"] for v in known]
    assert len(statuses) == 2 and statuses.count("champion") <= 1
    stored = next(v for v in known if v["version"] == r2["version"])  # the registry keeps what train returned
    assert json.loads(stored["metrics"])["summary"] == json.loads(json.dumps(r2["evaluation"]["summary"], default=float))
    # the gate scored the champion on the challenger's test rows: the same window here, so the champion's figures
    # are its own test ROC AUCs, each kind, and the same data and seed make both versions' figures equal
    first = next(v for v in known if v["version"] == r["version"])
    assert stored["served_model"] == r2["served_model"] in KINDS
    figures = json.loads(stored["gate_figures"])
    if first["gate_verdict"] == "promoted":  # it was the champion when the second version was gated
        champ = figures["champion"]
        assert champ["version"] == r["version"] and champ["rows"] == r2["evaluation"]["summary"]["n_test_rows"]
        for kind in KINDS:
            assert champ["roc_auc"][kind] == pytest.approx(r["evaluation"]["summary"][f"{kind}_roc_auc"], abs=1e-9)
            assert champ["challenger_roc_auc"][kind] == pytest.approx(champ["roc_auc"][kind], abs=1e-6)
        assert r2["promoted"] and "on the same" in stored["gate_reasons"]
    else:
        assert "champion" not in figures


def test_evaluate_cli_prints_the_summary(trained):
    cfg, r = trained
    proc = subprocess.run([str(Path(sys.executable).parent / "skipify"), "evaluate", "--json", "--model", r["version"]],
                          capture_output=True, text=True, env={"SKIPIFY_HOME": str(cfg.home), "SKIPIFY_SPLIT_TEST_DAYS": "3",
                                                               "SKIPIFY_SPLIT_VALID_DAYS": "3", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"deep_roc_auc", "lightgbm_roc_auc", "oracle_roc_auc", "deep_lift_share", "lightgbm_lift_share", "n_test_rows"} <= set(out["summary"])
    bad = subprocess.run([str(Path(sys.executable).parent / "skipify"), "evaluate", "--model", "nope"], capture_output=True,
                         text=True, env={"SKIPIFY_HOME": str(cfg.home), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "unknown model version" in bad.stderr
    bad = subprocess.run([str(Path(sys.executable).parent / "skipify"), "tune", "--model", "forest"], capture_output=True,
                         text=True, env={"SKIPIFY_HOME": str(cfg.home), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "unknown or untunable model kind(s) ['forest']" in bad.stderr


def test_tune_records_every_trial_and_train_uses_the_chosen_values(trained):
    from skipify.tune import tune, tuned_configs

    cfg, _ = trained
    r = tune(("lightgbm",), trials=3, timeout_s=300, cfg=cfg)
    con = connect(cfg, read_only=True)
    trials = con.execute("SELECT trial, valid_roc_auc, chosen, params FROM models.tuning WHERE run_id = $r ORDER BY trial",
                         {"r": r["run_id"]}).fetchall()
    con.close()
    assert [t[0] for t in trials] == [0, 1, 2] and sum(t[2] for t in trials) == 1
    best = max(trials, key=lambda t: t[1])
    assert best[2] and r["best"]["lightgbm"]["valid_roc_auc"] == pytest.approx(best[1])
    assert len({t[3] for t in trials}) == 3  # three different configurations were tried
    run_id, conf = tuned_configs(cfg)["lightgbm"]
    assert run_id == r["run_id"] and json.loads(best[3])["num_leaves"] == conf.num_leaves

    out = train(cfg=cfg, device="cpu", configs={"deep": tiny_deep()})
    con = connect(cfg, read_only=True)
    params = json.loads(con.execute("SELECT params FROM models.registry WHERE version = $v", {"v": out["version"]}).fetchone()[0])
    con.close()
    assert params["tuning_run"] == {"lightgbm": r["run_id"], "deep": None, "blend": None}
    assert params["lightgbm"]["num_leaves"] == conf.num_leaves


def test_global_shap_importances_are_stored_per_version_with_readable_blocks(trained):
    cfg, r = trained
    con = connect(cfg, read_only=True)
    rows = con.execute("SELECT model, rank, block, mean_abs_shap FROM models.shap_global WHERE model_version = $v ORDER BY model, rank",
                       {"v": r["version"]}).pl()
    con.close()
    deep, lgbm = rows.filter(pl.col("model") == "deep"), rows.filter(pl.col("model") == "lightgbm")
    assert {"user embedding", "track embedding", "artist embedding", "text embedding", "listening history", "t_genre", "s_prev_dislike"} <= set(deep["block"])
    assert not any(b.endswith("_missing") for b in deep["block"])  # a value and its missing flag are one block
    assert deep["rank"].to_list() == list(range(1, deep.height + 1)) and deep["mean_abs_shap"].is_sorted(descending=True)
    assert lgbm.height > 20 and "t_genre" in set(lgbm["block"])
    assert (rows["mean_abs_shap"] >= 0).all() and rows["mean_abs_shap"].max() > 0


def test_shap_values_add_up_to_the_models_logits(trained):
    import numpy as np
    import shap

    from skipify.data import load_rows, time_splits
    from skipify.versions import load_version

    cfg, r = trained
    _, models = load_version(r["version"], cfg)
    lgbm, deep = models["lightgbm"], models["deep"]
    splits = time_splits(load_rows(cfg, sequences=True), cfg)
    rows, background = splits.test.head(40), splits.train.sample(100, seed=1)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    names, values = lgbm.explain(rows)  # exact TreeSHAP: values + base = logit, row by row
    base = logit(lgbm.predict(rows)) - values.sum(axis=1)
    assert len(names) == values.shape[1] and np.allclose(base, base[0], atol=1e-6)
    theirs = shap.TreeExplainer(lgbm.booster).shap_values(lgbm.prepare(rows))  # LightGBM's TreeSHAP is the shap package's
    assert np.allclose(values, np.asarray(theirs[1] if isinstance(theirs, list) else theirs), atol=1e-9)
    names, values = deep.explain(rows, background, nsamples=200)  # expected gradients: additive on average
    gap = logit(deep.predict(rows)) - logit(deep.predict(background)).mean()
    assert np.corrcoef(values.sum(axis=1), gap)[0, 1] > 0.9


def test_batched_expected_gradients_equal_shaps_gradient_explainer_draw_for_draw():
    import numpy as np
    import shap
    import torch

    from skipify.explain import expected_gradients

    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).eval()
    x, background = torch.randn(9, 6), torch.randn(13, 6)
    theirs = np.asarray(shap.GradientExplainer(f, background).shap_values(x, nsamples=30, rseed=5)).reshape(9, 6)
    ours = expected_gradients(f, x, background, nsamples=30, seed=5, chunk=64)  # several chunks
    assert np.allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    assert not np.allclose(ours, expected_gradients(f, x, background, nsamples=30, seed=6))  # the seed draws


def test_evaluate_uses_only_days_after_the_versions_validation_whatever_the_config(trained):
    """Widening the configured test window would reach into the version's own training and validation days."""
    cfg, r = trained
    own = r["evaluation"]["summary"]
    wide = load_config(home=cfg.home, **{**SCORED_SETTINGS, "split_test_days": 8, "split_valid_days": 3})
    out = evaluate_version(r["version"], wide)["summary"]
    assert (out["test_from"], out["test_to"], out["n_test_rows"]) == (own["test_from"], own["test_to"], own["n_test_rows"])
    assert out["deep_roc_auc"] == pytest.approx(own["deep_roc_auc"], abs=1e-9)
    assert any(f"after version {r['version']}'s validation ended" in n for n in out["split_notes"])


def test_a_truth_file_with_naive_timestamps_is_read_as_utc(trained, tmp_path):
    from skipify.data import load_rows, version_splits
    from skipify.evaluate import truth_for
    from skipify.versions import find_version

    cfg, r = trained
    test = version_splits(load_rows(cfg), find_version(r["version"], cfg)).test
    naive = tmp_path / "truth_naive.parquet"
    pl.read_parquet(cfg.truth_path).with_columns(pl.col("ts").dt.replace_time_zone(None)).write_parquet(naive)
    assert pl.read_parquet(naive).schema["ts"].time_zone is None
    aware = truth_for(test, cfg.truth_path)
    assert aware is not None and (truth_for(test, naive) == aware).all()


def test_a_broken_truth_file_never_costs_the_trained_models(trained):
    """The oracle comparison runs after minutes of training: when it fails, the version is registered all the
    same, with the error recorded in its evaluation."""
    cfg, r = trained
    saved = cfg.truth_path.read_bytes()
    cfg.truth_path.write_bytes(b"PAR1 not a parquet file")
    try:
        out = train(NIGHT, cfg=cfg, device="cpu", configs={"deep": tiny_deep(), "lightgbm": tiny_lgbm_config()})
    finally:
        cfg.truth_path.write_bytes(saved)
    s = out["evaluation"]["summary"]
    assert s["oracle_roc_auc"] is None and s["deep_lift_share"] is None
    assert s["oracle_error"] and "Error" in s["oracle_error"].split(":")[0]  # the exception's kind and message
    con = connect(cfg, read_only=True)
    stored = json.loads(con.execute("SELECT metrics FROM models.registry WHERE version = $v", {"v": out["version"]}).fetchone()[0])
    con.close()
    assert stored["summary"]["oracle_error"] == s["oracle_error"] and stored["summary"]["deep_roc_auc"] == pytest.approx(s["deep_roc_auc"])
    assert (cfg.models_dir / out["version"] / "evaluation.json").exists()


def test_a_training_window_holds_the_last_days_with_the_same_rows_and_histories(scored_home):
    """train_window_days: the rows from the window's first day on, each equal to the same row of the whole
    history, its listening and session sequences included (they reach back before the window)."""
    import datetime as dt

    from skipify.data import load_rows, time_splits, window_start
    from tests.scored import assert_rows_equal

    cfg = load_config(home=scored_home, **SCORED_SETTINGS, train_window_days=9, split_min_test_rows=100, split_min_valid_rows=100)
    since = window_start(cfg, NIGHT)
    assert since == NIGHT - dt.timedelta(days=9)
    whole = load_rows(cfg, sequences=True)
    window = load_rows(cfg, sequences=True, since=since)
    first = (since - dt.date(1970, 1, 1)).days
    assert 0 < window.height < whole.height and window["day"].min() == first
    assert_rows_equal(whole.filter(pl.col("day") >= first), window)
    reaching = window.filter(pl.col("day") == first)["h_track_ids"].list.len()
    assert reaching.max() > 0  # the window's first day has histories from before it
    assert time_splits(window, cfg).dates["train_from"] == str(since)
