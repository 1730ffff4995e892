"""The warehouse past one machine: the DuckLake catalog in PostgreSQL and the data files in an S3-compatible
bucket, chosen by configuration (SKIPIFY_WAREHOUSE_CATALOG, SKIPIFY_WAREHOUSE_DATA, AWS_*), on real servers
that the tests start themselves (tests/servers.py: initdb + pg_ctl, moto from .venv-s3)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import polars as pl
import pytest

from skipify.config import load_config
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS
from tests.servers import S3, Postgres, free_port, running

pytestmark = pytest.mark.slow  # a PostgreSQL server and an S3 endpoint (moto) started per module (`make test-fast` leaves it out)

BIN = Path(sys.executable).parent
TABLES = ("dislike_scores", "track_dislike_profile", "user_risk", "shap_local")


@pytest.fixture(scope="module")
def servers():
    """PostgreSQL and the S3 server for this module; the test process reaches the bucket too (the S3
    secret is made from the AWS_* environment)."""
    pg = Postgres()
    try:
        s3 = S3()
    except BaseException:
        pg.close()
        raise
    saved = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    yield pg, s3
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    s3.close()
    pg.close()


def remote_env(servers, home: Path, name: str) -> dict[str, str]:
    """The environment of a warehouse with its own database and bucket on the test's servers."""
    pg, s3 = servers
    return {**os.environ, **s3.env(), "SKIPIFY_HOME": str(home), "SKIPIFY_LOG_LEVEL": "INFO",
            "SKIPIFY_WAREHOUSE_CATALOG": pg.create_database(name), "SKIPIFY_WAREHOUSE_DATA": s3.create_bucket(name.replace("_", "-")) + "lake/",
            **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}


def skipify(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "skipify"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"{proc.args[1:]} exited {proc.returncode}: {proc.stderr[-3000:]}"
    return proc.stdout


def cfg_of(env: dict[str, str]):
    return load_config(home=env["SKIPIFY_HOME"], warehouse_catalog=env["SKIPIFY_WAREHOUSE_CATALOG"],
                       warehouse_data=env["SKIPIFY_WAREHOUSE_DATA"])


def night(env: dict[str, str], table: str, day: dt.date) -> pl.DataFrame:
    con = connect(cfg_of(env), read_only=True)
    try:
        return con.execute(f"SELECT * FROM scores.{table} WHERE run_date = $d ORDER BY ALL", {"d": day}).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def lake(servers, tmp_path_factory) -> dict[str, str]:
    """A remote warehouse built by the CLI alone: the tiny world ingested, a version trained, the night
    NIGHT published."""
    base = tmp_path_factory.mktemp("remote")
    env = remote_env(servers, base / "home", "lake_cli")
    world = base / "world"
    env["SKIPIFY_LANDING_DIR"] = str(world / "landing")
    ok(skipify(env, "migrate"))
    ok(skipify(env, "generate", "--out", str(world), "--users", "150", "--tracks", "150", "--days", "17", "--seed", "11"))
    ok(skipify(env, "ingest", str(world / "landing")))
    ok(skipify(env, "features", "--as-of", str(NIGHT)))
    ok(skipify(env, "train", "--as-of", str(NIGHT), "--epochs", "1", "--device", "cpu"))
    ok(skipify(env, "nightly", "--date", str(NIGHT)))
    return env


def test_every_command_runs_on_a_postgres_catalog_and_s3_data(lake):
    env = lake
    status = ok(skipify(env, "status"))
    assert f"catalog {env['SKIPIFY_WAREHOUSE_CATALOG']}, data {env['SKIPIFY_WAREHOUSE_DATA']}" in status
    counts = ok(skipify(env, "sql", "SELECT run_date, count(*) AS n FROM scores.dislike_scores GROUP BY ALL ORDER BY 1"))
    assert str(NIGHT) in counts
    assert "maintenance done" in skipify(env, "maintain").stderr
    # nothing of the lake on the local disk: the catalog is in PostgreSQL, every data file in the bucket
    home = Path(env["SKIPIFY_HOME"])
    assert not list(home.rglob("*.parquet")) and not list(home.rglob("meta.sqlite*"))
    assert not night(env, "dislike_scores", NIGHT).is_empty()

    pair = night(env, "dislike_scores", NIGHT).row(0, named=True)
    port = free_port()
    with running([str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0"], env, f"http://127.0.0.1:{port}/healthz"):
        r = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"items": [{"user_id": pair["user_id"], "track_id": pair["track_id"]}]},
                       timeout=30)
        assert r.status_code == 200, r.text
        assert abs(r.json()["predictions"][0]["p_dislike"] - pair["p_dislike"]) < 1e-6  # the API scores as the night did
    port = free_port()
    with running([str(BIN / "skipify"), "app", "--port", str(port)], env, f"http://127.0.0.1:{port}/_stcore/health", expect=b"ok"):
        pass
    # an analyst's session cannot reach the catalog's database through the postgres extension
    refused = skipify(env, "sql", "SELECT * FROM postgres_query('lake_cli', 'SELECT 1')")
    assert refused.returncode != 0 and "postgres_query" in refused.stderr


def _black_hole() -> tuple[socket.socket, int]:
    """A port that accepts connections and never answers: a server that hangs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, s.getsockname()[1]


@pytest.mark.parametrize("part", ["catalog", "data"])
@pytest.mark.parametrize("how", ["down", "hangs"])
def test_a_catalog_or_bucket_that_does_not_answer_fails_each_command_naming_it_in_bounded_time(lake, part, how):
    hole, hole_port = _black_hole()
    port = hole_port if how == "hangs" else free_port()
    env = {**lake, "SKIPIFY_WAREHOUSE_TIMEOUT_S": "2"}
    if part == "catalog":
        env["SKIPIFY_WAREHOUSE_CATALOG"] = f"postgresql://postgres@127.0.0.1:{port}/lake_cli"
        named = "catalog (PostgreSQL)"
    else:
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        named = "data bucket"
    commands = [["status"], ["sql", "SELECT count(*) FROM raw.events"], ["features", "--as-of", str(NIGHT)], ["maintain"],
                ["nightly", "--date", str(NIGHT)]]
    if how == "hangs":  # it waits out the timeout (the same for every command: connect's)
        commands = commands[:1]
    try:
        for args in commands:
            t0 = time.monotonic()
            proc = skipify(env, *args, timeout=120)
            took = time.monotonic() - t0
            assert proc.returncode == 3, (args, proc.returncode, proc.stderr[-2000:])
            assert f"the warehouse's {named}" in proc.stderr and "unreachable" in proc.stderr, (args, proc.stderr[-2000:])
            assert took < 60, (args, took)
    finally:
        hole.close()
    # and nothing changed: the published night is whole
    assert night(lake, "dislike_scores", NIGHT).height > 0


def test_postgres_stopped_mid_night_leaves_the_published_night_and_a_retry_equals_an_uninterrupted_night(servers, lake):
    pg, _ = servers
    before = {t: night(lake, t, NIGHT) for t in TABLES}
    proc = subprocess.Popen([str(BIN / "skipify"), "nightly", "--date", str(NIGHT)], env={**lake, "SKIPIFY_WAREHOUSE_TIMEOUT_S": "3"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("stage snapshot" in line for line in lines):  # the night is scoring its shards now
        assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)[-3000:]
        time.sleep(0.05)
    pg.stop()
    try:
        proc.wait(timeout=60)
        reader.join(timeout=10)
        assert proc.returncode != 0, "".join(lines)[-3000:]
        assert "catalog (PostgreSQL)" in "".join(lines), "".join(lines)[-3000:]
    finally:
        pg.start()
    for table, frame in before.items():  # the night published before is untouched ...
        assert night(lake, table, NIGHT).equals(frame), table
    ok(skipify(lake, "nightly", "--date", str(NIGHT)))  # ... and the retry gives the same tables
    for table, frame in before.items():
        after = night(lake, table, NIGHT)
        assert after.equals(frame), (table, [c for c in frame.columns if not after[c].equals(frame[c])])


TASK = """
import datetime as dt, sys
from skipify.nightly import begin_run, build_night_features, ingest_landing, make_candidates, publish, score_shard
day, what = dt.date.fromisoformat(sys.argv[1]), sys.argv[2]
if what == "prepare":  # the Airflow DAG's first tasks
    begin_run(day, "two-machines", "test"); ingest_landing(day); build_night_features(day); make_candidates(day)
elif what == "score":
    print(sum(score_shard(day, int(s)) for s in sys.argv[3:]))
elif what == "publish":
    publish(day, run_id="two-machines")
"""


def task(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", TASK, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_two_machines_score_shards_of_one_night_at_once_and_publish_it_whole(lake, tmp_path):
    """Two processes with homes of their own (two machines) share the catalog and the bucket: each scores
    its shards of one night at the same time; the second, which never trained, fetches the models from
    the warehouse; a shard writer killed mid-run leaves nothing and is retried; a reader sees no row of the
    night until it is published whole; the night equals `skipify nightly`'s for the same day."""
    day = NIGHT + dt.timedelta(days=1)
    machine_a = lake
    machine_b = {**lake, "SKIPIFY_HOME": str(tmp_path / "machine_b")}
    finished(task(machine_a, str(day), "prepare"))
    assert not (tmp_path / "machine_b" / "models").exists()

    seen: list[int] = []
    stop = threading.Event()

    def reader():
        con = connect(cfg_of(lake), read_only=True)
        try:
            while not stop.is_set():
                seen.append(con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d", {"d": day}).fetchone()[0])
                time.sleep(0.02)
        finally:
            con.close()

    watcher = threading.Thread(target=reader, daemon=True)
    watcher.start()
    try:
        killed = task(machine_b, str(day), "score", "2")  # a writer killed mid-shard leaves nothing behind ...
        for line in killed.stderr:
            if "serving snapshot" in line:  # loaded: it scores and writes now
                break
        killed.kill()
        killed.communicate()
        a, b = task(machine_a, str(day), "score", "0", "1"), task(machine_b, str(day), "score", "2")  # ... and is retried
        rows = int(finished(a)) + int(finished(b))
        assert (tmp_path / "machine_b" / "models").is_dir()  # fetched from models.artifacts
        finished(task(machine_b, str(day), "publish"))
        time.sleep(0.2)
    finally:
        stop.set()
        watcher.join(timeout=30)
    published = {t: night(lake, t, day) for t in TABLES}
    assert published["dislike_scores"].height == rows > 0 and set(seen) <= {0, rows} and seen[-1] == rows, sorted(set(seen))

    ok(skipify(lake, "nightly", "--date", str(day)))  # the same night in one process, on machine A
    for table, frame in published.items():
        again = night(lake, table, day)
        assert again.equals(frame), (table, [c for c in frame.columns if not again[c].equals(frame[c])])
