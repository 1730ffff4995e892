"""The `skipify` command, run as a user runs it: a real process per command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

BIN = Path(sys.executable).parent
COMMANDS = ["config", "migrate", "generate", "ingest", "features", "status", "sql"]


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "skipify"), *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_on_every_command(command):
    out = run(*([command] if command else []), "--help").stdout
    assert "Usage" in out
    if command is None:
        assert all(c in out for c in COMMANDS)


def test_config_prints_the_effective_configuration(cfg):
    values = json.loads(run("config", "--json").stdout)
    assert values["home"] == str(cfg.home)
    assert values["label_skip_threshold_ms"] == 30000
    assert run("config", "--get", "world_dir").stdout.strip() == str(cfg.world_dir)
    assert json.loads(run("config", "--json", env={"SKIPIFY_SEED": "5"}).stdout)["seed"] == 5
    bad = run("config", "--get", "nope", check=False)
    assert bad.returncode != 0 and "unknown field" in bad.stderr


@pytest.mark.slow  # a dozen CLI processes
@pytest.mark.empty_home
def test_generate_ingest_status_sql_round_trip(cfg, tmp_path):
    out = tmp_path / "world"
    gen = run("generate", "--out", str(out), "--users", "60", "--tracks", "80", "--days", "8", "--seed", "1").stdout
    assert "oracle ROC AUC" in gen and "last 7 days" in gen
    n_events = pl.read_parquet(out / "truth" / "truth.parquet").height

    status = run("status", check=False)
    assert status.returncode == 2 and "no warehouse" in status.stderr  # before anything was ingested

    ing = run("ingest", str(out / "landing"))
    assert "raw.events" in ing.stdout and "ingested" in ing.stderr
    s = json.loads(run("status", "--json").stdout)
    assert s["tables"]["raw.events"] == n_events
    assert s["tables"]["raw.users"] == 60 and s["tables"]["raw.tracks"] == 80
    assert s["batches"]["raw.events"]["rows_loaded"] == n_events
    assert s["quarantine_total"] == 0
    assert "raw.events" in run("status").stdout

    again = run("ingest", str(out / "landing"))
    assert "already ingested" in again.stdout
    assert json.loads(run("status", "--json").stdout)["tables"]["raw.events"] == n_events

    assert str(n_events) in run("sql", "SELECT count(*) AS n FROM raw.events").stdout

    feats = run("features", "--no-text")
    assert "features.labels" in feats.stdout and f"{n_events:,} new rows" in feats.stdout
    assert "up to date" in run("features", "--no-text").stdout
    assert json.loads(run("status", "--json").stdout)["tables"]["features.session_context"] == n_events


@pytest.mark.slow  # a dozen CLI processes
def test_analyst_duckdb_cli_reads_the_warehouse(cfg, small_world_dir):
    from skipify.ingest import ingest_paths

    ingest_paths([small_world_dir / "landing" / "users"], cfg=cfg)
    # the documented command, with its init file (a configuration lock in it once failed every statement)
    proc = subprocess.run([str(BIN / "duckdb"), "-csv", "-init", "attach.sql", "-c", "SELECT count(*) AS n FROM raw.users;"],
                          capture_output=True, text=True, cwd=cfg.home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "150"
    assert "an admin's session" in (cfg.home / "attach.sql").read_text()  # what it is, said plainly in the file
    # a copy of the warehouse, opened by no Skipify command since, reads itself, not the warehouse it was copied from
    copy = cfg.home.parent / "copy"
    shutil.copytree(cfg.home, copy)
    ingest_paths([small_world_dir / "landing" / "tracks"], cfg=cfg)  # the original moves on
    proc = subprocess.run([str(BIN / "duckdb"), "-csv", "-init", "attach.sql", "-c", "SELECT count(*) FROM raw.tracks;"],
                          capture_output=True, text=True, cwd=copy)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "0", proc.stderr


@pytest.mark.slow  # a dozen CLI processes
def test_sql_is_read_only_and_reaches_no_file_outside_the_warehouse(cfg, small_world_dir, tmp_path):
    """The escapes a hostile user found: each refused in one line, the warehouse unchanged."""
    run("ingest", str(small_world_dir / "landing" / "users"))
    lake = cfg.lake_dir
    escapes = [
        f"USE memory; DETACH lake; ATTACH 'ducklake:sqlite:{lake}/meta.sqlite' AS w (DATA_PATH '{lake}/data/'); "
        "DELETE FROM w.raw.users WHERE user_id = 'u000005'",
        f"ATTACH '{tmp_path}/other.duckdb' AS other",
        f"COPY (SELECT * FROM raw.users) TO '{tmp_path}/users.csv'",
        "SELECT * FROM read_text('/etc/passwd')",
        "DELETE FROM raw.users",
        f"SELECT * FROM sqlite_scan('{lake}/meta.sqlite', 'ducklake_metadata')",
        f"SELECT * FROM sqlite_attach('{tmp_path}/new.sqlite')",
        "SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)",
        "SELECT * FROM query('SELECT 1')",
    ]
    for statement in escapes:
        proc = run("sql", statement, check=False)
        assert proc.returncode in (1, 2), (statement, proc.stdout)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(("refused:", "error:")), (statement, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert "files are read only inside the lake's data folder" in run("sql", escapes[3], check=False).stderr
    assert not any(tmp_path.glob("*.csv")) and not any(tmp_path.glob("*.duckdb")) and not any(tmp_path.glob("*.sqlite"))
    assert "150" in run("sql", "SELECT count(*) FROM raw.users").stdout  # nothing deleted
    assert run("sql", "SELECT * FROM raw.users WHERE false").returncode == 0  # no rows: no crash
    assert "1" in run("sql", "SELECT count(*) FROM ducklake_snapshots('lake') WHERE snapshot_id = 0").stdout
    assert run("sql", f"SELECT count(*) FROM glob('{lake}/data/**')").returncode == 0  # the data folder's own files
    slow = run("sql", "--timeout", "1", "SELECT count(*) FROM range(100000000) AS a, range(100000000) AS b", check=False)
    assert slow.returncode == 1 and "ran past its timeout of 1 s" in slow.stderr  # stopped, not 60 s at full CPU
    # without a query: statements from standard input, each checked (the analysts' read-only session); the catalog's
    # file, which DuckDB's own lock-down lets a session read (an attached database's paths are always allowed)
    catalog = [f"SELECT * FROM read_blob('{lake}/meta.sqlite')", f"SELECT * FROM read_blob('{lake}/data/../meta.sqlite')",
               f"SELECT * FROM read_blob('{lake}/' || 'meta.sqlite')", f"SELECT * FROM '{lake}/meta.sqlite'",
               "SELECT * FROM query_table('raw.users')"]
    piped = subprocess.run([str(BIN / "skipify"), "sql"], input="SELECT 40 + 2 AS x;\nDELETE FROM raw.users;\nSELECT\n 7 AS y;\n"
                           + "".join(q + ";\n" for q in catalog), capture_output=True, text=True)
    assert piped.returncode == 2 and "42" in piped.stdout and "7" in piped.stdout and "meta.sqlite" not in piped.stdout
    refused = piped.stderr.strip().splitlines()
    assert len(refused) == 1 + len(catalog) and all(r.startswith("refused: ") for r in refused), piped.stderr
    assert "DELETE statements are refused" in refused[0] and "read only inside the lake's data folder" in refused[1]
    missing = run("sql", "SELECT * FROM raw.nope", check=False)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1 and "nope does not exist" in missing.stderr
