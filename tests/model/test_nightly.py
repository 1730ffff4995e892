"""The nightly run on a tiny world: candidates, scores, checks, atomic and repeatable publish."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.nightly import TASTE_CHUNK, backfill, begin_run, make_candidates, run_night, taste_candidates, this_process
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS, read

SETTINGS = SCORED_SETTINGS


@pytest.fixture(scope="module")
def home(copy_scored_home):
    """A private copy of the shared warehouse: these tests run and re-run nights in it."""
    return copy_scored_home("nightly_home")


def night(con, table: str, day: dt.date) -> pl.DataFrame:
    return con.execute(f"SELECT * FROM scores.{table} WHERE run_date = $d ORDER BY ALL", {"d": day}).pl()


def test_a_night_scores_every_candidate_once_with_ranks_and_summaries(home):
    cfg = load_config(home=home, **SETTINGS)
    con = connect(cfg, read_only=True)
    scores = night(con, "dislike_scores", NIGHT)
    cands = con.execute("SELECT * FROM scores.candidates WHERE run_date = $d", {"d": NIGHT}).pl()
    assert scores.height == cands.height > 0
    assert scores.select("user_id", "track_id").is_duplicated().sum() == 0
    assert scores["p_dislike"].is_between(0, 1).all() and scores["p_dislike_baseline"].is_between(0, 1).all()
    assert set(scores["source"]) <= {"taste", "rotation"} and set(cands["shard"]) == {0, 1, 2}
    # ranked within each listener's candidates of one domain (the scored world has music and podcasts)
    assert set(scores["domain"]) == {"music", "podcast"}
    ranks = scores.group_by("user_id", "domain").agg(pl.col("rank_in_user").sort(), pl.len())
    assert all(r == list(range(1, n + 1)) for r, n in zip(ranks["rank_in_user"].to_list(), ranks["len"].to_list()))
    top = scores.filter(pl.col("rank_in_user") == 1).join(
        scores.group_by("user_id", "domain").agg(pl.col("p_dislike").max().alias("m")), on=["user_id", "domain"])
    assert (top["p_dislike"] == top["m"]).all()
    # taste candidates were not played in the fresh window; rotation candidates were
    recent = con.execute("SELECT DISTINCT user_id, track_id FROM raw.events WHERE ts >= $c - INTERVAL 14 DAY AND ts < $c",
                         {"c": dt.datetime.combine(NIGHT, dt.time(), dt.UTC)}).pl()
    assert scores.filter(pl.col("source") == "taste").join(recent, on=["user_id", "track_id"]).is_empty()
    assert scores.filter(pl.col("source") == "rotation").join(recent, on=["user_id", "track_id"]).height == (scores["source"] == "rotation").sum()

    risk = night(con, "user_risk", NIGHT)
    assert risk.height == scores.select("user_id", "domain").n_unique() and risk["n_candidates"].sum() == scores.height
    assert risk["n_at_risk"].sum() == scores["at_risk"].sum()
    profile = night(con, "track_dislike_profile", NIGHT)
    assert profile.height == scores["track_id"].n_unique()
    assert set(profile["category"]) <= {"niche", "broad_dislike", "polarising", "mixed", "safe"}
    assert (profile.filter(pl.col("n_listeners") < cfg.profile_min_listeners)["category"] == "niche").all()
    [run] = con.execute("SELECT status, rows, model_version FROM ops.runs WHERE run_date = $d", {"d": NIGHT}).fetchall()
    assert run[0] == "published" and json.loads(run[1])["dislike_scores"] == scores.height
    assert con.execute("SELECT count(*) FROM scores.staged_scores").fetchone()[0] == 0  # staging cleared
    latest = con.execute("SELECT count(*) FROM scores.latest_dislike_scores").fetchone()[0]
    assert latest == scores.height
    reasons = night(con, "shap_local", NIGHT)
    pairs = reasons.select("user_id", "track_id").unique()
    assert pairs.height == min(cfg.shap_night_sample, scores.height) == json.loads(run[1])["explained_pairs"]
    assert pairs.join(scores, on=["user_id", "track_id"]).height == pairs.height  # explained pairs were scored
    per_pair = reasons.group_by("user_id", "track_id", "model").agg(pl.col("rank").sort(), pl.col("shap").abs().alias("a"))
    kinds = con.execute("SELECT kinds FROM models.registry WHERE status = 'champion'").fetchone()[0]
    assert set(reasons["model"]) == set(kinds) and all(r == list(range(1, 11)) for r in per_pair["rank"].to_list())
    assert all(a == sorted(a, reverse=True) for a in per_pair.sort("user_id")["a"].to_list()[:20])  # ranked by |SHAP|


def test_running_a_night_again_in_worker_processes_gives_identical_tables(home, caplog):
    """The night was published scoring its shards one after another in one process; run again with its shards in
    two worker processes (skipify.nightly.ShardWorkers), every published table is the same."""
    cfg = load_config(home=home, **{**SETTINGS, "nightly_workers": 2})
    con = connect(cfg, read_only=True)
    before = {t: night(con, t, NIGHT) for t in ("dislike_scores", "track_dislike_profile", "user_risk", "shap_local")}
    con.close()
    with caplog.at_level("INFO", logger="skipify"):
        run_night(NIGHT, cfg)
    assert f"{SETTINGS['nightly_shards']} shards in 2 processes" in caplog.text
    con = connect(cfg, read_only=True)
    for table, frame in before.items():
        after = night(con, table, NIGHT)
        diff = [c for c in frame.columns if not after[c].equals(frame[c])]
        assert after.equals(frame), (table, diff)
    assert con.execute("SELECT count(*) FROM ops.runs WHERE run_date = $d AND status = 'published'", {"d": NIGHT}).fetchone()[0] == 2


def test_a_night_that_fails_its_checks_leaves_the_previous_night_and_exits_non_zero(home):
    day = NIGHT + dt.timedelta(days=1)
    env = {**os.environ, "SKIPIFY_HOME": str(home), "SKIPIFY_ROW_COUNT_MIN_RATIO": "50",
           **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SETTINGS.items()}}
    proc = subprocess.run([str(Path(sys.executable).parent / "skipify"), "nightly", "--date", str(day)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "row_count_within_bounds" in proc.stderr
    con = connect(load_config(home=home), read_only=True)
    assert con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d", {"d": day}).fetchone()[0] == 0
    assert con.execute("SELECT max(run_date) FROM scores.latest_dislike_scores").fetchone()[0] == NIGHT
    [(status, reason)] = con.execute("SELECT status, reason FROM ops.runs WHERE run_date = $d", {"d": day}).fetchall()
    assert status == "failed" and "row_count_within_bounds" in reason


READER = textwrap.dedent(
    """
    import json, os, sys, time
    from skipify.config import load_config
    from skipify.warehouse import connect

    ready, stop, day = sys.argv[1], sys.argv[2], sys.argv[3]
    con = connect(load_config(), read_only=True)
    seen = []
    con.execute("BEGIN TRANSACTION")  # an analyst holding a read transaction open all along
    open(ready, "w").close()
    while not os.path.exists(stop):
        seen.append(con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d", {"d": day}).fetchone()[0])
        time.sleep(0.05)
    con.execute("COMMIT")
    fresh = connect(load_config(), read_only=True)
    seen.append(fresh.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d", {"d": day}).fetchone()[0])
    print(json.dumps(seen))
    """
)


def test_an_analyst_holding_the_warehouse_open_never_fails_the_night_nor_sees_half(home, tmp_path):
    day = NIGHT + dt.timedelta(days=2)
    cfg = load_config(home=home, **SETTINGS)
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(ready), str(stop), str(day)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "SKIPIFY_HOME": str(home)})
    deadline = time.time() + 60
    while not ready.exists():
        assert reader.poll() is None, reader.stderr.read()
        assert time.time() < deadline
        time.sleep(0.05)
    report = run_night(day, cfg)
    stop.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    seen = json.loads(out)
    n = report.rows["dislike_scores"]
    assert n > 0 and set(seen[:-1]) == {0} and seen[-1] == n  # old snapshot while held, the whole night after


def test_supplied_candidates_are_scored_instead_and_backfill_runs_in_order(home):
    cfg = load_config(home=home, **SETTINGS)
    day = NIGHT + dt.timedelta(days=3)
    supplied = pl.DataFrame({"run_date": [day] * 3, "user_id": ["u000001", "u000002", "u000003"],
                             "track_id": ["t000010", "t000011", "t000012"]})
    folder = cfg.world_dir / "landing" / "candidates"
    folder.mkdir(parents=True, exist_ok=True)
    supplied.write_parquet(folder / "candidates_extra.parquet")  # no date in the name: ingested on every night
    reports = backfill(day - dt.timedelta(days=1), day, load_config(home=home, **SETTINGS, row_count_min_ratio=0.0))
    assert [r.run_date for r in reports] == [day - dt.timedelta(days=1), day]
    con = connect(cfg, read_only=True)
    scores = night(con, "dislike_scores", day)
    assert scores.select("user_id", "track_id").sort("user_id").equals(supplied.select("user_id", "track_id"))
    assert set(scores["source"]) == {"supplied"}


def test_taste_candidates_take_the_lowest_interaction_and_skip_recent_plays():
    users = pl.DataFrame({"user_id": ["a", "b"], "vector": [[1.0, 0.0], [0.0, 1.0]]})
    tracks = pl.DataFrame({"track_id": ["x", "y", "z"], "vector": [[-1.0, 0.0], [0.0, -1.0], [0.5, 0.5]]})
    recent = pl.DataFrame({"user_id": ["a"], "track_id": ["x"]})
    out = taste_candidates(users, tracks, recent, 1)
    assert dict(zip(out["user_id"], out["track_id"])) == {"a": "y", "b": "y"}  # a's best, x, was played recently
    assert taste_candidates(users, tracks, recent, 5).height == 2 + 3  # never a recent pair, never beyond the catalogue
    assert np.isin(["a"], taste_candidates(users, tracks, recent, 5)["user_id"]).all()



def test_taste_candidates_scored_a_chunk_of_listeners_at_a_time_are_each_listeners_own():
    """Listeners are scored TASTE_CHUNK at a time, each chunk masking its own listeners' recent pairs: the
    candidates are those of each listener scored alone against every track, less the tracks they played."""
    rng = np.random.default_rng(3)
    n_users, n_tracks, k = 3 * TASTE_CHUNK + 5, 40, 4
    U, T = rng.normal(size=(n_users, 3)).astype(np.float32), rng.normal(size=(n_tracks, 3)).astype(np.float32)
    users = pl.DataFrame({"user_id": [f"u{i:03d}" for i in range(n_users)], "vector": U.tolist()})
    tracks = pl.DataFrame({"track_id": [f"t{j:02d}" for j in range(n_tracks)], "vector": T.tolist()})
    played = {(int(i), int(j)) for i, j in zip(rng.integers(0, n_users, 400), rng.integers(0, n_tracks, 400))}
    recent = pl.DataFrame({"user_id": [f"u{i:03d}" for i, _ in played] + ["nobody"],
                           "track_id": [f"t{j:02d}" for _, j in played] + ["t00"]})
    out = taste_candidates(users, tracks, recent, k)
    got = out.group_by("user_id").agg(pl.col("track_id").sort()).sort("user_id")
    assert got.height == n_users and not out.join(recent, on=["user_id", "track_id"]).height
    for i, row in enumerate(got.iter_rows(named=True)):
        scores = U[i] @ T.T
        allowed = [j for j in np.argsort(scores, kind="stable") if (i, int(j)) not in played]
        assert row["track_id"] == sorted(f"t{j:02d}" for j in allowed[:k]), row["user_id"]


def test_candidates_made_shard_by_shard_are_the_nights_made_at_once(copy_scored_home):
    """The night's shard tasks each make their listeners' candidates (skipify.nightly.night_shard): together they
    are the candidates made for every listener at once, and a shard made again replaces its own only."""
    home = copy_scored_home("sharded_candidates")
    cfg = load_config(home=home, **SETTINGS)

    def candidates() -> pl.DataFrame:
        return read(cfg, "SELECT shard, user_id, track_id, source FROM scores.candidates WHERE run_date = $d ORDER BY ALL", {"d": NIGHT})

    assert make_candidates(NIGHT, cfg) == candidates().height > 0
    whole = candidates()
    assert sorted(whole["shard"].unique()) == list(range(cfg.nightly_shards))
    assert set(whole["source"]) == {"taste", "rotation"}
    con = connect(cfg)
    con.execute("DELETE FROM scores.candidates WHERE run_date = $d", {"d": NIGHT})
    con.close()
    made = [make_candidates(NIGHT, cfg, shard) for shard in range(cfg.nightly_shards)]
    assert candidates().equals(whole) and made == [whole.filter(pl.col("shard") == s).height for s in range(cfg.nightly_shards)]
    assert make_candidates(NIGHT, cfg, 1) == made[1] and candidates().equals(whole)


def test_the_nights_tower_vectors_from_the_snapshot_are_the_feature_sqls(scored_home):
    """Taste candidates read the retriever's vectors from the night's snapshot (skipify.nightly.snapshot_vectors):
    those that tower_vectors computes from the feature SQL, for some of the listeners and every track."""
    from skipify.embeddings import tower_vectors
    from skipify.models.base import read_columns, retriever
    from skipify.nightly import champion_models, snapshot_vectors
    from skipify.serving import Snapshot

    cfg = load_config(home=scored_home, **SETTINGS)
    _, models = champion_models(cfg)
    model = retriever(models)
    users, tracks = tower_vectors(model, NIGHT, cfg)
    some = users["user_id"].gather(np.arange(0, users.height, 7))
    got_users, got_tracks = snapshot_vectors(model, Snapshot.load(NIGHT, cfg, read_columns(models)), some, tracks["track_id"])
    assert got_users["user_id"].equals(some) and got_tracks["track_id"].equals(tracks["track_id"])
    want_users = users.join(got_users.select("user_id"), on="user_id", how="semi", maintain_order="left")
    for got, want in ((got_users, want_users), (got_tracks, tracks)):
        np.testing.assert_allclose(np.stack(got["vector"].to_numpy()), np.stack(want["vector"].to_numpy()), rtol=0, atol=1e-6)

KILLED_NIGHT = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    import skipify.nightly as nightly
    from skipify.config import load_config

    def die(*args, **kwargs):  # kill -9 once every shard is staged, before the publish
        os.kill(os.getpid(), signal.SIGKILL)

    nightly.publish = die
    nightly.run_night(dt.date.fromisoformat(sys.argv[1]), load_config())
    """
)


def test_a_killed_night_is_recorded_abandoned_by_the_next_run_and_its_staging_cleared(home):
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SETTINGS.items()}}
    killed = subprocess.Popen([sys.executable, "-c", KILLED_NIGHT, str(NIGHT)], stderr=subprocess.PIPE, text=True, env=env)
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -9, err[-2000:]
    cfg = load_config(home=home, **SETTINGS)
    con = connect(cfg, read_only=True)
    [(run_id, owner)] = con.execute("SELECT run_id, owner FROM ops.runs WHERE status = 'running'").fetchall()
    assert owner == f"pid:{socket.gethostname()}:{killed.pid}"
    assert con.execute("SELECT count(*) FROM scores.staged_scores WHERE run_date = $d", {"d": NIGHT}).fetchone()[0] > 0
    con.close()

    # the next night to start (another date: nothing else would clear this one's staging) finds it
    assert begin_run(NIGHT + dt.timedelta(days=4), "next-night", this_process(), cfg) == [run_id]
    con = connect(cfg, read_only=True)
    status, reason, finished = con.execute("SELECT status, reason, finished_at FROM ops.runs WHERE run_id = $r", {"r": run_id}).fetchone()
    assert status == "abandoned" and owner in reason and "next-night" in reason and finished is not None
    assert con.execute("SELECT count(*) FROM scores.staged_scores WHERE run_date = $d", {"d": NIGHT}).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM scores.staged_shap WHERE run_date = $d", {"d": NIGHT}).fetchone()[0] == 0
    assert con.execute("SELECT run_id FROM ops.runs WHERE status = 'running'").fetchall() == [("next-night",)]
    con.close()


def test_a_night_still_running_is_not_abandoned(home):
    """A running night whose process is alive (this one) is left running by a night that starts beside it."""
    cfg = load_config(home=home, **SETTINGS)
    begin_run(NIGHT, "alive-run", this_process(), cfg)  # (as "next-night" above: this process is alive)
    assert begin_run(NIGHT + dt.timedelta(days=1), "another-run", "pid:elsewhere:1", cfg) == []
    con = connect(cfg, read_only=True)
    rows = dict(con.execute("SELECT run_id, status FROM ops.runs WHERE run_id IN ('alive-run', 'another-run')").fetchall())
    assert rows == {"alive-run": "running", "another-run": "running"}


def test_shard_tasks_read_the_nights_shared_snapshot_and_score_exactly_as_with_their_own(copy_scored_home, monkeypatch):
    """The Airflow DAG's snapshot task writes the night's snapshot once on the machine (skipify.snapshots); a
    shard task then maps it instead of loading its own from the warehouse, and stages the same scores."""
    from skipify import snapshots
    from skipify.nightly import champion_models, score_shard, share_snapshot
    from skipify.serving import Snapshot

    home = copy_scored_home("shared_snapshot")
    cfg = load_config(home=home, **SETTINGS)

    def staged() -> pl.DataFrame:
        return read(cfg, "SELECT user_id, track_id, p_dislike, p_dislike_baseline FROM scores.staged_scores "
                         "WHERE run_date = $d AND shard = 1 ORDER BY ALL", {"d": NIGHT})

    own_snapshot = Snapshot.load(NIGHT, cfg)  # every family: more than the models read
    assert score_shard(NIGHT, 1, cfg, own_snapshot) > 0  # its own snapshot, from the warehouse
    own = staged()
    shutil.rmtree(snapshots.root(cfg), ignore_errors=True)
    path = share_snapshot(NIGHT, cfg)
    assert path == snapshots.folder(NIGHT, champion_models(cfg)[0]["version"], cfg) and (path / "meta.json").exists()

    def no_load(*args, **kwargs):
        raise AssertionError("the shard loaded its own snapshot although the night's is shared")

    monkeypatch.setattr(Snapshot, "load", classmethod(no_load))
    assert score_shard(NIGHT, 1, cfg) == own.height
    assert staged().equals(own)


def test_a_night_run_again_builds_its_snapshot_again_instead_of_mapping_the_one_there(copy_scored_home):
    """The night's ingest may bring late plays of the days before: a night run again scores on a snapshot built
    now, not on the folder an earlier run left (here one made stale on purpose: the history of the day before)."""
    from skipify import snapshots
    from skipify.models.base import read_columns
    from skipify.nightly import champion_models, run_night
    from skipify.serving import Snapshot

    home = copy_scored_home("stale_snapshot")
    cfg = load_config(home=home, **SETTINGS)
    query = "SELECT user_id, track_id, p_dislike, p_dislike_baseline FROM scores.dislike_scores WHERE run_date = $d ORDER BY ALL"
    published = read(cfg, query, {"d": NIGHT})
    chosen, models = champion_models(cfg)
    columns = sorted(read_columns(models))
    stale = Snapshot.load(NIGHT - dt.timedelta(days=1), cfg, columns)
    stale.as_of = NIGHT
    snapshots.write(stale, snapshots.folder(NIGHT, chosen["version"], cfg), chosen["version"], columns)
    assert snapshots.existing(NIGHT, cfg, chosen["version"], columns) is not None  # what a non-fresh night would map
    run_night(NIGHT, cfg)
    assert read(cfg, query, {"d": NIGHT}).equals(published)


def _tables(cfg) -> dict[str, tuple]:
    """Every feature table's row count and content hash, and the last build's date."""
    con = connect(cfg, read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' "
                                           "AND schema_name = 'features'").fetchall()]
        out = {n: con.execute(f"SELECT count(*), sum(hash(t)) FROM features.{n} AS t").fetchone() for n in names}
        out["as_of"] = con.execute("SELECT max_by(as_of, built_at) FROM ops.feature_builds").fetchone()
        return out
    finally:
        con.close()


def test_a_night_for_an_old_date_changes_no_feature_and_an_earlier_night_scores_as_it_did(copy_scored_home):
    """A night for a date before the features' cut-off once emptied features.labels and failed, and the API could not
    start after it. Now: a date before every play is refused with the tables as they were; an earlier night inside the
    history reads the state by day and scores exactly as it did when it was first run."""
    home = copy_scored_home("old_night")
    cfg = load_config(home=home, **SETTINGS)
    before = _tables(cfg)
    assert before["labels"][0] > 0
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SETTINGS.items()}}
    proc = subprocess.run([str(Path(sys.executable).parent / "skipify"), "nightly", "--date", "2025-01-01"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "holds no play before it" in proc.stderr, proc.stderr
    assert _tables(cfg) == before
    earlier = NIGHT - dt.timedelta(days=1)
    con = connect(cfg, read_only=True)
    published = night(con, "dislike_scores", earlier)
    con.close()
    run_night(earlier, cfg)  # after NIGHT: the features stay built up to NIGHT
    assert _tables(cfg) == before
    con = connect(cfg, read_only=True)
    again = night(con, "dislike_scores", earlier)
    con.close()
    assert published.height > 0 and again.drop("run_id", strict=False).equals(published.drop("run_id", strict=False))
    from skipify.serving import Snapshot

    assert Snapshot.load(NIGHT, cfg, {"user_id"}).as_of == NIGHT  # what `skipify serve` loads still loads
