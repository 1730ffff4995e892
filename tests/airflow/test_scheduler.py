"""The nightly DAG under a real Airflow: the scheduler with the LocalExecutor, a PostgreSQL metadata
database, the API server the tasks report to and the DAG processor, each its own process; the shard
tasks run as parallel processes, each mapping the snapshot the candidates task wrote. The night it
publishes equals `skipify nightly`'s.

About two minutes on two cores, so `make test` leaves it out (its budget is 12 minutes):
`make demo-scheduler` runs it (SKIPIFY_SCHEDULER_TEST=1)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from skipify.config import load_config
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS
from tests.servers import Postgres, free_port

pytestmark = pytest.mark.skipif(os.environ.get("SKIPIFY_SCHEDULER_TEST") != "1",
                                reason="two minutes of Airflow processes: `make demo-scheduler` runs it")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TABLES = ("dislike_scores", "track_dislike_profile", "user_risk", "shap_local")


def tables(home: Path) -> dict:
    con = connect(load_config(home=home), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM scores.{t} WHERE run_date = $d ORDER BY ALL", {"d": NIGHT}).pl() for t in TABLES}
    finally:
        con.close()


def airflow_env(tmp: Path, home: Path, pg: Postgres, api_port: int) -> dict[str, str]:
    """Airflow as a deployment sets it: LocalExecutor, PostgreSQL, the execution API's address and secret;
    the scheduler runs exactly the night NIGHT (skipify's nightly_first_night / nightly_last_night)."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(tmp / "airflow_home"), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.create_database("airflow").replace("postgresql://", "postgresql+psycopg2://"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API_AUTH__JWT_SECRET": "skipify-scheduler-test", "AIRFLOW__API__SECRET_KEY": "skipify-scheduler-test",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5", "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "SKIPIFY_HOME": str(home), "SKIPIFY_NIGHTLY_FIRST_NIGHT": str(NIGHT), "SKIPIFY_NIGHTLY_LAST_NIGHT": str(NIGHT),
        "SKIPIFY_LOG_LEVEL": "INFO", **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()},
    }


def airflow(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc.stdout


def listing(out: str) -> list[dict]:
    """The JSON list an `airflow ... -o json` command prints on a line of its own, among its log lines
    (none: no rows)."""
    for line in reversed(out.splitlines()):
        if line.startswith("[{") or line.strip() == "[]":
            return json.loads(line)
    return []


def wait(what: str, check, timeout_s: float, logs: Path):
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
            raise AssertionError(f"{what}: not within {timeout_s:.0f}s\n{tails}")
        time.sleep(2)


def test_the_scheduler_runs_the_night_with_parallel_shards_and_it_equals_skipify_nightly(copy_scored_home, tmp_path):
    home = copy_scored_home("scheduler")
    expected = tables(home)  # the night as `skipify nightly` (run_night) published it
    pg = Postgres()
    api_port = free_port()
    env = airflow_env(tmp_path, home, pg, api_port)
    procs = []
    try:
        airflow(env, "db", "migrate")
        for name in ("api-server", "dag-processor", "scheduler"):
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            procs.append((subprocess.Popen([str(BIN / "airflow"), name], env=env, stdout=log, stderr=subprocess.STDOUT), log))

        def api_up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=2):
                    return True
            except OSError:
                return False

        wait("the API server answers", api_up, 120, tmp_path)
        wait("the DAG processor parses skipify_nightly", lambda: "skipify_nightly" in airflow(env, "dags", "list", "-o", "plain"), 120, tmp_path)
        airflow(env, "dags", "unpause", "skipify_nightly")  # the scheduler creates the one run of NIGHT

        def finished():
            runs = listing(airflow(env, "dags", "list-runs", "skipify_nightly", "-o", "json"))
            return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = wait("the night's run finishes", finished, 600, tmp_path)
        assert [r["state"] for r in runs] == ["success"], runs
        states = listing(airflow(env, "tasks", "states-for-dag-run", "skipify_nightly", runs[0]["run_id"], "-o", "json"))
    finally:
        for proc, log in procs:
            proc.terminate()
        for proc, log in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        pg.close()

    # the snapshot task wrote the night's snapshot once; the shard tasks mapped it, none loaded its own from the warehouse
    logs = tmp_path / "airflow_home" / "logs"
    task_logs = {task: "".join(f.read_text() for f in logs.rglob("*.log") if f"task_id={task}" in str(f)) for task in ("snapshot", "score")}
    assert "written to" in task_logs["snapshot"], task_logs["snapshot"][-2000:]
    assert "scored" in task_logs["score"] and "mapped from" in task_logs["score"], task_logs["score"][-2000:]
    assert not re.search(r"serving snapshot as of \S+: [\d,]+ keys", task_logs["score"]), task_logs["score"][-2000:]
    shards = [s for s in states if s["task_id"] == "score"]
    assert len(shards) == SCORED_SETTINGS["nightly_shards"] and all(s["state"] == "success" for s in shards), states
    spans = sorted((dt.datetime.fromisoformat(s["start_date"]), dt.datetime.fromisoformat(s["end_date"])) for s in shards)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # shards ran at the same time
    got = tables(home)
    for table, frame in expected.items():
        assert got[table].equals(frame), (table, [c for c in frame.columns if not got[table][c].equals(frame[c])])
    con = connect(load_config(home=home), read_only=True)
    owners = [r[0] for r in con.execute("SELECT owner FROM ops.runs WHERE run_date = $d AND status = 'published' ORDER BY started_at",
                                        {"d": NIGHT}).fetchall()]
    con.close()
    assert owners[-1] == "airflow:skipify_nightly", owners
