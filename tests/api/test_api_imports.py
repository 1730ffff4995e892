"""The API serves without the training stage: its app, started in a fresh interpreter and asked for a
prediction with reasons, has imported neither training, tuning, the night, Optuna nor matplotlib."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from skipify.config import load_config
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS

NEVER = ("optuna", "matplotlib", "shap", "skipify.train", "skipify.tune", "skipify.nightly")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from fastapi.testclient import TestClient
    from skipify.api import _load_app
    from skipify.config import load_config

    app = _load_app(load_config(), None, 0)
    with TestClient(app) as client:
        resp = client.post("/v1/predict", json={"items": json.loads(sys.argv[1])})
    body = resp.json()
    print(json.dumps({"status": resp.status_code, "reasons": [len(p["reasons"]) for p in body["predictions"]],
                      "loaded": sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules),
                      "skipify": sorted(m for m in sys.modules if m.startswith("skipify"))}), flush=True)
    os._exit(0)  # what is asked is above; the interpreter's teardown beside the service's reader threads is not
""")


def test_the_api_loads_and_predicts_without_training_tuning_or_the_night(copy_scored_home):
    home = copy_scored_home("api_imports_home")
    con = connect(load_config(home=home, **SCORED_SETTINGS), read_only=True)
    try:
        pairs = con.execute("SELECT user_id, track_id FROM scores.dislike_scores WHERE run_date = $d ORDER BY user_id, track_id "
                            "LIMIT 3", {"d": NIGHT}).pl().to_dicts()
    finally:
        con.close()
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(pairs), json.dumps(NEVER)], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200 and seen["reasons"] == [3, 3, 3]
    assert seen["loaded"] == [], f"the API imported {seen['loaded']}"
    assert "skipify.versions" in seen["skipify"] and "skipify.models.kinds" in seen["skipify"]  # it did load a version
