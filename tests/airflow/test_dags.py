"""The Airflow DAGs: they import cleanly and light, and a real `airflow dags test` run of both
(SQLite, a temporary AIRFLOW_HOME) produces the same night as `skipify nightly`."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from skipify.config import load_config
from skipify.generate import WorldParams, build_world, write_world
from skipify.ingest import ingest_paths
from skipify.warehouse import connect

pytestmark = pytest.mark.slow  # Airflow's own processes and `airflow dags test` of both DAGs (`make test-fast` leaves it out)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NIGHT = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("airflow")
    home = tmp / "skipify"
    env = {
        **os.environ,
        "SKIPIFY_HOME": str(home), "SKIPIFY_SPLIT_TEST_DAYS": "3", "SKIPIFY_SPLIT_VALID_DAYS": "3", "SKIPIFY_TRAIN_EPOCHS": "2",
        "SKIPIFY_NIGHTLY_SHARDS": "3", "SKIPIFY_SHAP_SAMPLE": "200", "SKIPIFY_SHAP_NIGHT_SAMPLE": "60",  # a tiny world's sizes
        "AIRFLOW_HOME": str(tmp / "airflow_home"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow_home' / 'airflow.db'}",
    }
    cfg = load_config(home=home)
    write_world(build_world(WorldParams(users=150, tracks=150, days=17, seed=11, start=dt.date(2026, 1, 1))), cfg.world_dir)
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], capture_output=True, text=True, env=env)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    return env


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


CHECK = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    nightly = bag.dags["skipify_nightly"]
    print(json.dumps({
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": sorted(bag.dags),
        "nightly_tasks": sorted(nightly.task_ids),
        "mapped": [t.task_id for t in nightly.tasks if "Mapped" in type(t).__name__ or getattr(t, "is_mapped", False)],
        "catchup": nightly.catchup,
        "retries": nightly.default_args["retries"],
    }))
    """
)


def test_dagbag_imports_both_dags_without_errors(env):
    out = json.loads(run([sys.executable, "-c", CHECK, str(ROOT / "dags")], env).stdout.strip().splitlines()[-1])
    assert out["errors"] == {} and out["dags"] == ["skipify_nightly", "skipify_retrain"]
    assert out["nightly_tasks"] == ["features", "ingest", "maintain", "publish", "score", "snapshot"]
    assert out["mapped"] == ["score"] and out["catchup"] is True and out["retries"] >= 1


@pytest.mark.parametrize("name", ["skipify_nightly.py", "skipify_retrain.py"])
def test_dag_files_import_nothing_heavy(name, env):
    """Only skipify.config (the standard library) may load with a DAG file: the tasks import the rest."""
    code = (f"import runpy, sys; runpy.run_path({str(ROOT / 'dags' / name)!r}); print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('skipify', 'torch', 'polars', 'duckdb', 'lightgbm', 'numpy') and m not in ('skipify', 'skipify.config')))")
    assert run([sys.executable, "-c", code], env).stdout.strip().splitlines()[-1] == "[]"


def test_airflow_runs_retrain_then_nightly_and_the_night_equals_skipify_nightly(env):
    run([str(BIN / "airflow"), "dags", "test", "skipify_retrain", str(NIGHT)], env)
    run([str(BIN / "airflow"), "dags", "test", "skipify_nightly", str(NIGHT)], env)
    cfg = load_config(home=Path(env["SKIPIFY_HOME"]))

    def tables():
        con = connect(cfg, read_only=True)
        try:
            return {t: con.execute(f"SELECT * FROM scores.{t} WHERE run_date = $d ORDER BY ALL", {"d": NIGHT}).pl()
                    for t in ("dislike_scores", "track_dislike_profile", "user_risk")}
        finally:
            con.close()

    via_airflow = tables()
    assert via_airflow["dislike_scores"].height > 0
    run([str(BIN / "skipify"), "nightly", "--date", str(NIGHT)], env)
    via_cli = tables()
    for table in via_airflow:
        assert via_cli[table].equals(via_airflow[table]), table
    con = connect(cfg, read_only=True)
    statuses = [r[0] for r in con.execute("SELECT status FROM ops.runs WHERE run_date = $d ORDER BY started_at", {"d": NIGHT}).fetchall()]
    registry = con.execute("SELECT count(*) FROM models.registry").fetchone()[0]
    assert statuses == ["published", "published"] and registry == 1
