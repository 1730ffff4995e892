"""Configuration from the environment, and the warehouse's migrations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from skipify.config import load_config
from skipify.warehouse import SCHEMAS, WarehouseError, connect, migrate, migration_files


def test_environment_overrides_are_typed(monkeypatch, tmp_path):
    monkeypatch.setenv("SKIPIFY_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SKIPIFY_LABEL_SKIP_THRESHOLD_MS", "15000")
    monkeypatch.setenv("SKIPIFY_WORLD_START", "2025-05-01")
    cfg = load_config()
    assert cfg.home == (tmp_path / "elsewhere").resolve()
    assert cfg.catalog_path == cfg.home / "lake" / "meta.sqlite"
    assert cfg.label_skip_threshold_ms == 15000
    assert cfg.world_start == dt.date(2025, 5, 1)
    assert load_config(seed=9).seed == 9
    monkeypatch.setenv("SKIPIFY_RETRAIN_FULL_WEEKDAY", "none")  # an optional setting set to nothing
    assert load_config().retrain_full_weekday is None
    monkeypatch.setenv("SKIPIFY_RETRAIN_FULL_WEEKDAY", "2")
    assert load_config().retrain_full_weekday == 2


def test_bad_environment_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("SKIPIFY_SPLIT_TEST_DAYS", "seven")
    with pytest.raises(ValueError, match="SKIPIFY_SPLIT_TEST_DAYS='seven' is not a whole number"):
        load_config()


# Values that once started a server answering 413 to everything, one listening on another port than it said, or
# ended a command with a 20-50-line traceback: each is one line naming the variable and what it accepts, exit 2.
BAD_SETTINGS = [
    ("SKIPIFY_SERVE_MAX_BATCH", "-1", "must be at least 1"),
    ("SKIPIFY_SERVE_PORT", "70000", "must be from 1 to 65535"),
    ("SKIPIFY_APP_PORT", "0", "must be from 1 to 65535"),
    ("SKIPIFY_SERVE_WORKERS", "0", "must be from 1 to 1024"),
    ("SKIPIFY_NIGHTLY_SHARDS", "-3", "must be from 1 to 4096"),
    ("SKIPIFY_RISK_THRESHOLD", "1.5", "must be from 0 to 1"),
    ("SKIPIFY_GATE_TOLERANCE", "nan", "must be a finite number"),
    ("SKIPIFY_RETRAIN_FULL_WEEKDAY", "7", "must be from 0 to 6"),
    ("SKIPIFY_SERVE_RELOAD_S", "-1", "must be at least 0"),
    ("SKIPIFY_DUCKDB_THREADS", "two", "is not a whole number"),
    ("SKIPIFY_DUCKDB_MEMORY_LIMIT", "lots", "must be a size such as 4GB"),
    ("SKIPIFY_LOG_LEVEL", "LOUD", "must be one of DEBUG, INFO"),
    ("SKIPIFY_WORLD_START", "yesterday", "is not a date (YYYY-MM-DD)"),
    ("SKIPIFY_SERVE_ACCESS_LOG", "maybe", "is not true or false"),
]


@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS])
def test_a_setting_out_of_its_range_is_refused_naming_it(monkeypatch, name, value, says):
    from skipify.config import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_config()
    assert str(err.value).startswith(f"{name}=") and says in str(err.value)


def test_a_bad_setting_ends_a_command_with_one_line_and_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    for name, value, says in (BAD_SETTINGS[0], BAD_SETTINGS[-2]):  # out of range; not of its type
        env = {**os.environ, "SKIPIFY_HOME": str(tmp_path / "home"), name: value}
        proc = subprocess.run([str(Path(sys.executable).parent / "skipify"), "status"], capture_output=True, text=True, env=env)
        assert proc.returncode == 2
        [line] = proc.stderr.strip().splitlines()  # not a 20-50-line traceback
        assert line.startswith(f"error: {name}=") and says in line, proc.stderr


@pytest.mark.empty_home
def test_migrate_creates_every_schema_and_is_idempotent(cfg):
    applied = migrate(cfg)
    assert applied == [v for v, _, _ in migration_files()]
    con = connect(cfg, read_only=True)
    schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata WHERE catalog_name = 'lake'").fetchall()}
    assert set(SCHEMAS) <= schemas
    snapshots = con.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0]
    versions = con.execute("SELECT version, checksum FROM ops.schema_version ORDER BY version").fetchall()
    con.close()

    assert migrate(cfg) == []  # second time: nothing to do, nothing written
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()[0] == snapshots
    assert con.execute("SELECT version, checksum FROM ops.schema_version ORDER BY version").fetchall() == versions
    con.close()


@pytest.mark.empty_home
def test_reader_without_warehouse_gets_a_clear_error(cfg):
    with pytest.raises(WarehouseError, match="no warehouse at .*skipify migrate"):
        connect(cfg, read_only=True)


def test_read_only_connection_cannot_write(cfg):
    migrate(cfg)
    con = connect(cfg, read_only=True)
    with pytest.raises(Exception, match="read-only"):
        con.execute("INSERT INTO raw.candidates VALUES (DATE '2026-01-01', 'u', 't', 'b', now())")


def test_event_context_view_has_no_outcome_column(cfg):
    migrate(cfg)
    con = connect(cfg, read_only=True)
    outcome = {r[0] for r in con.execute("SELECT column_name FROM ops.column_policy WHERE table_name = 'raw.events' AND role = 'outcome'").fetchall()}
    view_cols = {r[0] for r in con.execute("DESCRIBE raw.events_context").fetchall()}
    event_cols = {r[0] for r in con.execute("DESCRIBE raw.events").fetchall()}
    assert outcome == {"ms_played", "skipped", "feedback", "reason_end"}
    assert not outcome & view_cols
    # every event column has a stated role, so a new column cannot slip in unclassified
    policy = {r[0] for r in con.execute("SELECT column_name FROM ops.column_policy WHERE table_name = 'raw.events'").fetchall()}
    assert event_cols - {"source_format", "batch_id", "ingested_at"} == policy


def test_home_moves_everything(cfg, tmp_path):
    migrate(cfg)
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")}
    assert cfg.catalog_path.exists() and cfg.data_path.is_dir()
    assert written == {"home"}  # nothing outside SKIPIFY_HOME


@pytest.mark.parametrize("statement", [
    "SELECT * FROM read_text('/etc/passwd')",
    "COPY (SELECT 1) TO '{tmp}/out.csv'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
])
def test_read_only_connections_cannot_reach_files_or_unlock_themselves(cfg, tmp_path, statement):
    """What the app and the API open: locked down after the attach (the lake stays readable)."""
    import duckdb

    migrate(cfg)
    con = connect(cfg, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM ops.schema_version").fetchone()[0] > 0
        with pytest.raises(duckdb.Error, match="disabled by configuration|configuration has been locked"):
            con.execute(statement.format(tmp=tmp_path))
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


@pytest.mark.slow  # ingests, builds and opens three copies
def test_a_moved_warehouse_opens_where_it_now_is_even_with_an_apostrophe(cfg, small_world_dir, tmp_path):
    """The data path DuckLake stored is the old folder's: the warehouse follows its folder instead."""
    import shutil
    import subprocess
    import sys

    from skipify.ingest import ingest_paths

    home = tmp_path / "o'brien's lake" / "home"
    first = load_config(home=home)
    ingest_paths([small_world_dir / "landing" / "users"], cfg=first)
    moved = tmp_path / "moved, it's here" / "home"
    moved.parent.mkdir()
    shutil.move(home, moved)
    assert not home.exists()
    cfg = load_config(home=moved)
    ingest_paths([small_world_dir / "landing" / "tracks"], cfg=cfg)  # a writer, in the new place
    con = connect(cfg, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.users").fetchone()[0] == 150
        assert con.execute("SELECT count(*) FROM raw.tracks").fetchone()[0] == 200
    finally:
        con.close()
    assert not home.exists()  # nothing was written to the old place
    # the analysts' attach file follows the move too
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "duckdb"), "-csv", "-init", "attach.sql", "-c", "SELECT count(*) FROM raw.users;"],
                          capture_output=True, text=True, cwd=moved)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "150", proc.stderr


def test_extension_signatures_are_checked_once_per_process_and_again_for_a_changed_file(cfg, tmp_path):
    """DuckDB hashes each 34 MB extension file on every LOAD; a process checks each once, skips the check on
    its later connections while the file is the one checked, checks a changed file again and refuses it
    when it is not DuckDB's; a read-only session loads nothing either way."""
    import duckdb

    migrate(cfg)
    con = connect(cfg)
    con.close()
    con = connect(cfg, read_only=True)
    try:
        assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone()[0] is True
        (tmp_path / "other.duckdb_extension").write_bytes(b"\0" * 4096)
        with pytest.raises(duckdb.Error, match="disabled through configuration"):
            con.execute(f"LOAD '{tmp_path}/other.duckdb_extension'")
    finally:
        con.close()
    ext = cfg.extension_dir / "sqlite_scanner.duckdb_extension"
    data = bytearray(ext.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # same size: not copied again from the package
    (tmp_path / "changed").write_bytes(data)
    (tmp_path / "changed").replace(ext)
    with pytest.raises(duckdb.Error, match="signature"):
        connect(cfg)


def test_processes_spilling_at_once_each_spill_into_a_folder_of_their_own(cfg):
    """DuckDB names its spill files alike in every database: three processes sorting more than their memory limit
    in one shared folder crashed or read each other's files. Each connection spills into its own folder, gone
    when it closes; a folder left by a killed process is removed by the next connection."""
    import os
    import subprocess
    import sys

    sort = ("from skipify.warehouse import connect; con = connect(read_only=True)\n"
            "for seed in range(3):\n"
            "    rows = con.execute(\"SELECT x FROM (SELECT range AS x, repeat('a', 50) || range AS s FROM range(3000000)) "
            "ORDER BY hash(x, s, $seed)\", {'seed': seed}).fetchmany(5)\n"
            "print(len(rows))")
    env = {**os.environ, "SKIPIFY_HOME": str(cfg.home), "SKIPIFY_DUCKDB_MEMORY_LIMIT": "100MB", "SKIPIFY_DUCKDB_THREADS": "2"}
    procs = [subprocess.Popen([sys.executable, "-c", sort], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
    assert [out.strip().splitlines()[-1] for out, _ in outs] == ["5"] * 3  # (DuckDB's progress bar may come first)
    left = cfg.home / ".tmp" / "999999999-deadbeef"  # no such process
    left.mkdir()
    connect(cfg, read_only=True).close()
    assert not left.exists() and not [p for p in (cfg.home / ".tmp").iterdir() if p.is_dir()]
