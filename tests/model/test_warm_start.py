"""`skipify train --warm-start`: the served version's models trained on with the plays since its training
window, each kind its own way, then registered and gated like any version."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.data import load_rows, time_splits
from skipify.models.kinds import KINDS
from skipify.nightly import ingest_landing
from skipify.registry import versions
from skipify.train import train
from skipify.versions import load_version
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS

LATER = NIGHT + dt.timedelta(days=2)


@pytest.fixture(scope="module")
def warmed(copy_scored_home):
    """(cfg, the version started from, the warm-started training's result) on a copy of the scored warehouse."""
    cfg = load_config(home=copy_scored_home("warm_home"), **SCORED_SETTINGS)
    ingest_landing(LATER + dt.timedelta(days=1), cfg)  # two more days of plays
    start = load_version(None, cfg)[0]
    return cfg, start, train(LATER, device="cpu", cfg=cfg, warm_start="served")


def test_a_warm_start_trains_on_the_plays_since_the_start_versions_window(warmed):
    cfg, start, r = warmed
    con = connect(cfg, read_only=True)
    try:
        raw, as_of = con.execute("SELECT params, as_of FROM models.registry WHERE version = $v", {"v": r["version"]}).fetchone()
        assert r["version"] in {v["version"] for v in versions(con)}
    finally:
        con.close()
    params = json.loads(raw)
    splits = time_splits(load_rows(cfg), cfg)
    since = (start["valid_from"] - dt.date(1970, 1, 1)).days
    expected = splits.train.filter(pl.col("day") >= since).height
    assert params["warm_start"] == {"from": start["version"], "rows": expected} and 0 < expected < splits.train.height
    assert as_of == LATER and r["evaluation"]["summary"]["n_test_rows"] > 0
    assert r["gate"] is not None and r["served_model"] in KINDS  # gated like any version


def test_each_kind_goes_on_from_the_start_versions_model(warmed):
    cfg, start, r = warmed
    _, before = load_version(start["version"], cfg)
    _, after = load_version(r["version"], cfg)
    # LightGBM: the start's trees, then more; the same preprocessing
    assert after["lightgbm"].best_iteration > before["lightgbm"].best_iteration
    assert after["lightgbm"].prep.features == before["lightgbm"].prep.features
    old = before["lightgbm"].booster.dump_model()["tree_info"][0]
    assert after["lightgbm"].booster.dump_model()["tree_info"][0] == old  # the first tree is the start's
    # the deep model: the same vocabularies and shapes, trained on (its weights moved, not reset)
    a, b = before["deep"], after["deep"]
    assert a.prep.features == b.prep.features and a.config.tower == b.config.tower
    moved = [float((x - y).abs().max()) for x, y in zip(a.mlp.state_dict().values(), b.mlp.state_dict().values())
             if x.dtype.is_floating_point]
    assert max(moved) > 0
    rows = load_rows(cfg, sequences=True).tail(200)
    assert np.corrcoef(a.predict(rows), b.predict(rows))[0, 1] > 0.5  # fine-tuned, not retrained from scratch


def test_a_warm_start_without_new_plays_or_from_an_unknown_version_says_so(warmed):
    cfg, start, r = warmed
    with pytest.raises(ValueError, match="nothing to warm-start on"):
        train(LATER, device="cpu", cfg=cfg, warm_start=r["version"])  # its own window: no plays after it
    env_home = {"SKIPIFY_HOME": str(cfg.home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    out = subprocess.run([str(Path(sys.executable).parent / "skipify"), "train", "--as-of", str(LATER), "--warm-start",
                          "--from", "19990101-000000", "--device", "cpu"], capture_output=True, text=True,
                         env={**os.environ, **env_home}, timeout=300)
    assert out.returncode == 2 and "19990101-000000" in out.stderr


def test_a_warm_start_with_no_version_yet_ends_before_reading_anything(cfg, small_world_dir):
    """The retrain's first night (the newcomer's demo) asks for a warm start with no version trained: it ends
    before the features are built or the rows read, so that the training from scratch does not read them twice."""
    from skipify.ingest import ingest_paths
    from skipify.train import NothingToWarmStart

    ingest_paths([small_world_dir / "landing"], cfg=cfg)
    with pytest.raises(NothingToWarmStart, match="no trained model yet"):
        train(None, device="cpu", cfg=cfg, warm_start="served")
    con = connect(cfg, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ops.feature_builds").fetchone()[0] == 0
    finally:
        con.close()


def test_the_retrain_of_a_date_run_twice_registers_one_version(copy_scored_home):
    from skipify.train import retrain, retrain_key

    cfg = load_config(home=copy_scored_home("retrain_home"), **{**SCORED_SETTINGS, "retrain_full_weekday": (LATER.weekday() + 1) % 7})
    ingest_landing(LATER + dt.timedelta(days=1), cfg)
    con = connect(cfg, read_only=True)
    try:
        before = len(versions(con))
    finally:
        con.close()
    first = retrain(LATER, cfg)  # a warm start of the served version
    second = retrain(LATER, cfg)  # the DAG run again for the same date
    con = connect(cfg, read_only=True)
    try:
        assert len(versions(con)) == before + 1
    finally:
        con.close()
    key = retrain_key(LATER, cfg)
    assert first["version"] == second["version"] == f"{LATER:%Y%m%d}-{key[:8]}"
    assert "already_trained" not in first and second["already_trained"]
    for k in ("promoted", "served_model", "warm_start"):
        assert second[k] == first[k], k
    assert "; ".join(second["reasons"]) == "; ".join(first["reasons"])
    assert second["evaluation"]["summary"] == json.loads(json.dumps(first["evaluation"]["summary"], default=float))

    # what it trains from: another date, another setting, or a late play for an earlier day is another training
    assert retrain_key(LATER + dt.timedelta(days=1), cfg) != key
    assert retrain_key(LATER, load_config(home=cfg.home, **{**SCORED_SETTINGS, "seed": 7, "retrain_full_weekday": cfg.retrain_full_weekday})) != key
    con = connect(cfg)
    try:
        con.execute("INSERT INTO raw.events SELECT * REPLACE (ts + INTERVAL 1 SECOND AS ts, 'late-batch' AS batch_id, now() AS ingested_at) "
                    "FROM raw.events WHERE ts < $c ORDER BY ts LIMIT 1", {"c": dt.datetime.combine(LATER, dt.time(), dt.UTC)})
    finally:
        con.close()
    assert retrain_key(LATER, cfg) != key
