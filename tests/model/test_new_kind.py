"""A new model kind is its module and one line in skipify.models.kinds.KINDS: in a copy of the repository, the
toy kind of tests/model/new_kind/logreg.py is added that way, and nothing else, and is then trained, evaluated
with its own summary keys, gated, served by the night and the API with reasons, and shown in the app; the
champion trained before the kind existed still loads and serves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from skipify.catalogue import catalogue
from tests.scored import NIGHT, SCORED_SETTINGS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LINE = '    Kind("logreg", "logistic regression", "skipify.models.logreg", "logreg.json", "linear SHAP"),\n'

SCRIPT = textwrap.dedent("""
    import datetime as dt, json, os, sys
    from fastapi.testclient import TestClient
    from skipify.api import _load_app
    from skipify.config import load_config
    from skipify.warehouse import connect

    night = dt.date.fromisoformat(sys.argv[1])
    cfg = load_config()
    out = {}

    def api(pairs):
        with TestClient(_load_app(cfg, None, 0)) as client:
            body = client.post("/v1/predict", json={"items": pairs}).json()
        return {"served_model": body["served_model"], "version": body["model_version"],
                "reasons": [[r["feature"] for r in p["reasons"]] for p in body["predictions"]]}

    def query(sql, **params):
        con = connect(cfg, read_only=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    from skipify.versions import load_version
    old, models = load_version(None, cfg)
    pairs = [{"user_id": u, "track_id": t} for u, t in query(
        "SELECT user_id, track_id FROM scores.dislike_scores WHERE run_date = $d ORDER BY user_id, track_id LIMIT 3", d=night)]
    out["old"] = {"version": old["version"], "kinds": sorted(models), "api": api(pairs)}

    from skipify.models.deep import DeepConfig
    from skipify.models.lgbm import LGBMConfig
    from skipify.models.two_tower import TwoTowerConfig
    from skipify.train import train
    # the two built-in kinds kept weak (one tree of two leaves; one epoch at a crawl), so that the gate serves the new one
    weak = {"lightgbm": LGBMConfig(num_leaves=2, max_rounds=1), "deep": DeepConfig(epochs=1, lr=1e-6, choose_history=False,
                                                                                   tower=TwoTowerConfig(dim=4, hidden=8))}
    r = train(night, cfg=cfg, device="cpu", configs=weak)
    s = r["evaluation"]["summary"]
    out["train"] = {"version": r["version"], "served_model": r["served_model"], "promoted": r["promoted"],
                    "summary": {k: v for k, v in s.items() if k.startswith("logreg")},
                    "valid": {k: v for k, v in s.items() if k.endswith("_valid_roc_auc")},
                    "gate": r["gate"], "labels": r["evaluation"]["kinds"]}
    out["registry"] = query("SELECT kinds, served_model, baseline_model FROM models.registry WHERE version = $v", v=r["version"])

    from skipify.nightly import run_night
    run_night(night, cfg)
    out["night"] = {"versions": query("SELECT DISTINCT model_version FROM scores.dislike_scores WHERE run_date = $d", d=night),
                    "explained": sorted(m for (m,) in query("SELECT DISTINCT model FROM scores.shap_local WHERE run_date = $d", d=night))}
    out["api"] = api(pairs)

    from streamlit.testing.v1 import AppTest
    shown = {}
    for page in ("scorecard", "why"):
        at = AppTest.from_file("app/skipify_app.py", default_timeout=120)
        at.query_params["page"] = page
        at.run()
        shown[page] = {"exceptions": [e.value for e in at.exception], "metrics": {m.label: m.value for m in at.metric},
                       "charts": [c.proto.spec for c in at.get("plotly_chart")]}
    out["app"] = shown
    again, models = load_version(old["version"], cfg)
    out["old_again"] = sorted(models)
    print(json.dumps(out, default=str), flush=True)
    os._exit(0)  # the service's reader threads: what is asked is above
""")


def test_a_new_kind_is_its_module_and_one_registry_line(copy_scored_home, tmp_path):
    repo = tmp_path / "repo"
    for part in ("skipify", "sql", "app"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "tests" / "model" / "new_kind" / "logreg.py", repo / "skipify" / "models" / "logreg.py")
    kinds = repo / "skipify" / "models" / "kinds.py"
    text = kinds.read_text()
    anchor = "\n)}\n"  # the end of KINDS: the new kind last (after the blend, which blends the kinds before it)
    assert text.count(anchor) == 1
    kinds.write_text(text.replace(anchor, "\n" + LINE.rstrip("\n") + anchor))

    home = copy_scored_home("new_kind_home")
    settings = {**SCORED_SETTINGS, "gate_tolerance": 1.0}  # promoted whatever the weak kinds' figures on the shared rows
    env = {**os.environ, "PYTHONPATH": str(repo), "SKIPIFY_HOME": str(home), "HF_HUB_OFFLINE": "1",
           **{f"SKIPIFY_{k.upper()}": str(v) for k, v in settings.items()}}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(NIGHT)], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    # the champion from before the kind: it holds two kinds, loads and serves, before and after
    assert "logreg" not in out["old"]["kinds"] and {"deep", "lightgbm"} <= set(out["old"]["kinds"])
    assert out["old_again"] == out["old"]["kinds"]
    assert out["old"]["api"]["version"] == out["old"]["version"] and all(out["old"]["api"]["reasons"])
    # trained, evaluated under its own keys, gated: served because it wins on validation
    t = out["train"]
    assert set(t["summary"]) >= {"logreg_roc_auc", "logreg_valid_roc_auc", "logreg_log_loss", "logreg_minus_lightgbm_ci"}
    assert 0.5 < t["summary"]["logreg_roc_auc"] <= 1
    assert t["valid"]["logreg_valid_roc_auc"] == max(t["valid"].values()), t["valid"]
    assert t["served_model"] == "logreg" and t["promoted"] and "logreg" in t["gate"]["valid_roc_auc"]
    assert t["labels"]["logreg"] == {"label": "logistic regression", "explainer": "linear SHAP"}
    [(kinds, served, baseline)] = out["registry"]
    assert kinds[:2] == ["lightgbm", "deep"] and kinds[-1] == "logreg" and (served, baseline) == ("logreg", "lightgbm")
    # the night scores with it and explains it; the API serves it with reasons named by its columns
    assert out["night"]["versions"] == [[t["version"]]] and "logreg" in out["night"]["explained"]
    api = out["api"]
    assert api["served_model"] == "logreg" and api["version"] == t["version"]
    assert all(api["reasons"]) and {f for p in api["reasons"] for f in p} <= set(catalogue())  # its columns
    # the app: its ROC AUC on the scorecard, its importances on the Why page
    app = out["app"]
    assert not app["scorecard"]["exceptions"] and not app["why"]["exceptions"], app
    assert app["scorecard"]["metrics"]["Logistic regression ROC AUC"] == f"{t['summary']['logreg_roc_auc']:.4f}"
    assert app["scorecard"]["metrics"]["Served model"] == "Logistic regression"  # the kind by its label
    assert any("Logistic regression (linear SHAP)" in spec for spec in app["why"]["charts"])
