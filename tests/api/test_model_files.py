"""A version's files are checked against what registration recorded before they are loaded: a damaged local file is
fetched again from models.artifacts; a damaged copy there too stops `skipify serve` with exit 2 naming the file (a
truncated lightgbm.txt once printed LightGBM's fatal error 104 times and crashed the server: rc 139)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skipify.config import load_config
from skipify.versions import find_version, load_version
from skipify.warehouse import connect
from tests.scored import SCORED_SETTINGS

pytestmark = pytest.mark.slow  # `skipify serve` on a real uvicorn (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent


def test_a_damaged_model_file_is_fetched_again_or_named_and_the_server_exits_2(copy_scored_home):
    home = copy_scored_home("damaged_models")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    version = find_version(None, cfg)["version"]
    model = cfg.models_dir / version / "lightgbm.txt"
    good = model.read_bytes()
    model.write_bytes(good[: len(good) // 3])  # truncated, as a full disk or a killed copy leaves it
    chosen, models = load_version(None, cfg)
    assert chosen["version"] == version and model.read_bytes() == good  # fetched again, then loaded
    assert any(p.name.startswith(f".{version}.damaged") for p in cfg.models_dir.iterdir())  # kept aside for a look

    model.write_bytes(good[: len(good) // 3])
    con = connect(cfg)
    con.execute("UPDATE models.artifacts SET content = $c WHERE version = $v AND name = 'lightgbm.txt'",
                {"c": good[: len(good) // 2], "v": version})  # and the warehouse's copy no longer what was registered
    con.close()
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    proc = subprocess.run([str(BIN / "skipify"), "serve", "--port", "1", "--reload-s", "0"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "lightgbm.txt" in proc.stderr and "Segmentation" not in proc.stderr and "[Fatal]" not in proc.stderr


def test_a_version_loads_the_kinds_its_folder_holds_and_serves_with_them(scored_home, tmp_path):
    """A version trained before a kind existed (its folder without that kind's files) still loads and serves."""
    import shutil

    from skipify.data import load_rows
    from skipify.models.base import Resources, retriever
    from skipify.models.kinds import KINDS, baseline_of, load_models, served_and_baseline
    from skipify.versions import version_folder

    cfg = load_config(home=scored_home, **SCORED_SETTINGS)
    full = version_folder(find_version(None, cfg)["version"], cfg)
    older = tmp_path / "older"
    shutil.copytree(full, older, ignore=shutil.ignore_patterns("deep_*", "blend*"))  # as if the other kinds came later
    resources = Resources(cfg)
    models, every = load_models(older, resources), load_models(full, resources)
    assert list(models) == ["lightgbm"] and set(every) == set(KINDS)
    assert list(load_models(full, resources, ["lightgbm"])) == ["lightgbm"]  # the kinds the registry says it holds
    served, baseline = served_and_baseline({"served_model": "lightgbm", "baseline_model": baseline_of("lightgbm", models)},
                                           models)
    assert served is baseline is models["lightgbm"]  # no other kind: the baseline column repeats the served one
    rows = load_rows(cfg, sequences=True).head(50)
    p = served.predict(rows)
    assert p.shape == (50,) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ValueError, match="candidate retrieval"):
        retriever(models)  # LightGBM gives no vectors: such a night needs supplied candidates
    assert retriever(every).kind == "deep"

    with pytest.raises(ValueError, match="holds no model"):
        load_models(tmp_path, resources)


def test_a_served_blend_reuses_its_baselines_scores(scored_home, monkeypatch):
    """The night and the API score the served kind and its baseline on the same rows: a served blend takes the
    baseline's scores instead of computing them again, and gives what it gives alone."""
    import numpy as np

    from skipify.data import load_rows
    from skipify.models.base import predict_pair
    from skipify.versions import load_version

    cfg = load_config(home=scored_home, **SCORED_SETTINGS)
    _, models = load_version(None, cfg)
    blend, lightgbm = models["blend"], models["lightgbm"]
    rows = load_rows(cfg, sequences=True).head(300)
    alone = blend.predict(rows)
    calls = []
    real = type(lightgbm).predict
    monkeypatch.setattr(type(lightgbm), "predict", lambda self, r, data=None: calls.append(len(r)) or real(self, r, data))
    p_served, p_base = predict_pair(blend, lightgbm, rows)
    assert calls == [300]  # LightGBM scored once, for both
    assert np.array_equal(p_served, alone) and np.array_equal(p_base, lightgbm.predict(rows))
    same, base = predict_pair(lightgbm, lightgbm, rows)  # a version of one kind: its baseline is the served model
    assert same is base and calls == [300, 300, 300]


def test_the_blends_explanation_reuses_its_kinds_values(scored_home, monkeypatch):
    """Explained beside its kinds (the scorecard's importances, the night's reasons), the blend takes their SHAP
    values as computed: the deep model is explained once, and the blend's values are what it gives alone."""
    import numpy as np

    from skipify.data import load_rows
    from skipify.models.base import explain_each
    from skipify.versions import load_version

    cfg = load_config(home=scored_home, **SCORED_SETTINGS)
    _, models = load_version(None, cfg)
    rows = load_rows(cfg, sequences=True)
    sample, background = rows.head(40), rows.tail(60)
    blocks, alone = models["blend"].explain(sample, background, seed=3)
    calls = []
    deep = type(models["deep"])
    real = deep.explain
    monkeypatch.setattr(deep, "explain", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    each = explain_each(models, sample, background, seed=3)
    assert calls == [1] and list(each) == list(models)
    assert each["blend"][0] == blocks and np.allclose(each["blend"][1], alone, rtol=0, atol=1e-12)
    # additive: the blend's values of a row sum to its kinds' sums, weighted
    blend = models["blend"]
    sums = sum(w * each[k][1].sum(axis=1) for w, k in zip(blend.weights, blend.components))
    assert np.allclose(each["blend"][1].sum(axis=1), sums)


def test_content_vectors_are_each_tracks_text_vector_then_its_audio_and_zeros_without_text(copy_scored_home):
    """models.base.content_vectors reads sql/models/track_vectors.sql as one matrix: each track's row is its MiniLM
    vector (zeros while its text is not embedded) then its audio descriptors, as the query's own values say."""
    import numpy as np

    from skipify.models.base import content_vectors
    from skipify.models.history import CONTENT_DIM, TEXT_DIM
    from skipify.warehouse import run_sql, transaction

    cfg = load_config(home=copy_scored_home("content_vectors"), **SCORED_SETTINGS)
    con = connect(cfg)
    try:
        with transaction(con):  # one track's text not embedded (yet)
            con.execute("DELETE FROM embeddings.track_text WHERE track_id = (SELECT min(track_id) FROM embeddings.track_text)")
        rows = run_sql(con, "models/track_vectors", {"model_name": cfg.text_model_name}).fetchall()
    finally:
        con.close()
    got = content_vectors(cfg)
    assert sorted(got) == sorted(k for k, _, _ in rows) and any(v is None for _, v, _ in rows)
    for track, text, audio in rows:
        want = np.concatenate([np.zeros(TEXT_DIM, np.float32) if text is None else np.asarray(text, np.float32),
                               np.asarray(audio, np.float32)])
        assert got[track].shape == (CONTENT_DIM,) and got[track].dtype == np.float32 and np.array_equal(got[track], want), track
