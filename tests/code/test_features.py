"""Point-in-time features: correct labels, identical re-runs, incremental builds, and training rows
that agree with the scoring path at the same cut-off."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from skipify.catalogue import families, states
from skipify.config import load_config
from skipify.data import load_rows
from skipify.features import build_features, scoring_rows
from skipify.models.preprocess import Preprocessor
from skipify.ingest import ingest_paths
from skipify.warehouse import connect
from tests.conftest import SMALL, SMALL_END as END
TABLES = ("labels", *[d.name for d in (*states(), *families())])


def _snapshot(cfg) -> dict[str, pl.DataFrame]:
    con = connect(cfg, read_only=True)
    out = {t: con.execute(f"SELECT * FROM features.{t} ORDER BY ALL").pl() for t in TABLES}
    con.close()
    return out


def test_one_row_per_play_with_the_true_label(small_built, small_world_dir):
    cfg, report = small_built
    truth = pl.read_parquet(small_world_dir / "truth" / "truth.parquet").with_columns(
        pl.col("user_id").cast(pl.String), pl.col("track_id").cast(pl.String)
    )
    con = connect(cfg, read_only=True)
    rows = con.execute("SELECT user_id, track_id, ts, label FROM features.training_rows").pl()
    assert rows.height == truth.height == report.rows["session_context"]
    joined = rows.join(truth, on=["user_id", "track_id", "ts"])
    assert joined.height == truth.height
    assert (joined["label"] == joined["dislike"].cast(pl.Int32)).all()


def test_same_date_twice_gives_identical_tables(small_built):
    cfg, _ = small_built
    before = _snapshot(cfg)
    again = build_features(END, cfg, with_text=False)
    assert again.rebuilt_from is None
    after = _snapshot(cfg)
    assert all(before[t].equals(after[t]) for t in TABLES)


@pytest.mark.slow  # builds the small world's features several times
def test_incremental_build_equals_a_build_from_scratch(small_world_dir, tmp_path, small_built):
    cfg_full, _ = small_built
    cfg = load_config(home=tmp_path / "inc")
    landing = small_world_dir / "landing"
    first_days = sorted((landing / "events").glob("*.parquet"))[:8]
    ingest_paths([landing / "users", landing / "tracks", *first_days], cfg=cfg)
    mid = SMALL.start + dt.timedelta(days=5)
    r1 = build_features(mid, cfg, with_text=False)
    assert r1.rebuilt_from is not None
    ingest_paths([landing], cfg=cfg)  # the rest arrives later
    r2 = build_features(END, cfg, with_text=False)
    assert r2.rebuilt_from >= dt.datetime.combine(mid, dt.time(), dt.UTC) - dt.timedelta(days=1)
    inc, full = _snapshot(cfg), _snapshot(cfg_full)
    assert r2.rows["labels"] < full["labels"].height  # only the rows from the first new play on were built
    for t in TABLES:
        assert inc[t].equals(full[t]), t


@pytest.mark.slow  # builds the small world's features several times
def test_late_plays_before_the_cut_off_are_picked_up(small_world_dir, tmp_path, small_built):
    cfg_full, _ = small_built
    cfg = load_config(home=tmp_path / "late")
    landing = small_world_dir / "landing"
    days = sorted((landing / "events").glob("*.parquet"))
    late = days[3]  # a day that arrives after the build that already covers it
    ingest_paths([landing / "users", landing / "tracks", *[d for d in days if d != late]], cfg=cfg)
    build_features(END, cfg, with_text=False)
    ingest_paths([late], cfg=cfg)
    again = build_features(END, cfg, with_text=False)
    assert again.rebuilt_from is not None and again.rebuilt_from.date() <= SMALL.start + dt.timedelta(days=4)
    late_state, full = _snapshot(cfg), _snapshot(cfg_full)
    for t in TABLES:
        assert late_state[t].equals(full[t]), t


@pytest.mark.slow  # builds the small world's features several times
def test_an_earlier_date_removes_nothing_and_its_rows_are_read_up_to_it(small_world_dir, tmp_path):
    """Never rewound: a build for an earlier date (a night re-run, a backfill) keeps the later rows (it once removed
    them, and a night for an old date emptied the tables); a training as of that date reads the rows before it."""
    cfg = load_config(home=tmp_path / "h")
    ingest_paths([small_world_dir / "landing"], cfg=cfg)
    build_features(END, cfg, with_text=False)
    con = connect(cfg, read_only=True)
    before = con.execute("SELECT count(*), max(ts) FROM features.training_rows").fetchone()
    con.close()
    early = SMALL.start + dt.timedelta(days=4)
    build_features(early, cfg, with_text=False)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT count(*), max(ts) FROM features.training_rows").fetchone() == before
    assert con.execute("SELECT max_by(as_of, built_at) FROM ops.feature_builds").fetchone()[0] == END
    con.close()
    rows = load_rows(cfg, until=early)
    assert 0 < rows.height < before[0] and rows["ts"].max() < dt.datetime.combine(early, dt.time(), dt.UTC)


@pytest.mark.slow  # builds the small world's features several times
def test_scoring_rows_equal_training_rows_at_the_same_cut_off(small_built):
    cfg, _ = small_built
    train = load_rows(cfg, sequences=True).filter(pl.col("s_position") >= 3, pl.col("u_plays_all") > 5).sample(12, seed=3)
    con = connect(cfg, read_only=True)
    con.register("wanted", train.select("user_id", "track_id", "ts").to_arrow())
    events = con.execute(
        "SELECT e.user_id, e.track_id, e.ts, e.session_id, e.session_position, e.context_type, e.platform, e.shuffle, "
        "e.reason_start FROM raw.events e JOIN wanted k USING (user_id, track_id, ts)").pl()
    assert events.height == train.height
    for i, ev in enumerate(events.iter_rows(named=True)):
        probe = pl.DataFrame([{**ev, "probe_id": i}])
        scored = scoring_rows(con, probe, cutoff=ev["ts"], cfg=cfg)
        expected = train.filter(pl.col("user_id") == ev["user_id"], pl.col("track_id") == ev["track_id"], pl.col("ts") == ev["ts"])
        cols = [c for c in scored.columns if c not in ("probe_id", "user_id", "track_id", "ts")]
        assert scored.height == 1 and expected.height == 1
        assert scored.select(cols).equals(expected.select(cols)), ev


def test_nightly_probes_without_context_get_history_only(small_built):
    cfg, _ = small_built
    con = connect(cfg, read_only=True)
    pair = con.execute("SELECT user_id, track_id FROM raw.events LIMIT 1").fetchone()
    rows = scoring_rows(con, pl.DataFrame({"probe_id": [0, 1], "user_id": [pair[0], "nobody"], "track_id": [pair[1], pair[1]]}),
                        cutoff=dt.datetime.combine(END, dt.time(), dt.UTC), cfg=cfg)
    assert rows.height == 2
    known, unknown = rows.row(0, named=True), rows.row(1, named=True)
    assert known["u_plays_all"] > 0 and known["ut_replays"] >= 1
    assert unknown["u_plays_all"] == 0 and unknown["s_plays_before"] == 0  # cold start: history is empty, not missing
    assert unknown["u_dislike_rate_all"] == pytest.approx(unknown["global_dislike_rate"])


def test_no_feature_reads_the_outcome_of_its_own_play(small_built):
    cfg, _ = small_built
    con = connect(cfg, read_only=True)
    cols = {r[0] for r in con.execute("DESCRIBE features.training_rows").fetchall()}
    outcome = {r[0] for r in con.execute("SELECT column_name FROM ops.column_policy WHERE role = 'outcome'").fetchall()}
    assert not cols & outcome
    rows = con.execute("SELECT * FROM features.training_rows").pl()
    prep = Preprocessor.fit(rows)
    X, names = prep.tree_matrix(rows), prep.features
    assert "label" not in names and "early_skip" not in names and X.shape[1] == len(names)


def test_days_start_at_midnight_utc_so_a_late_evening_play_is_history_the_next_morning(tmp_path):
    from tests.data.files import event, write

    cfg = load_config(home=tmp_path / "home")
    plays = [event(ts="2026-01-04T23:30:00Z", session_id="s1", feedback="dislike"),
             event(ts="2026-01-05T01:00:00Z", session_id="s2", track="t2"),
             event(ts="2026-01-05T13:00:00Z", session_id="s3", track="t3")]
    ingest_paths([write(plays, tmp_path / "landing" / "events.jsonl")], cfg=cfg)
    build_features(dt.date(2026, 1, 6), cfg, with_text=False)
    con = connect(cfg, read_only=True)
    rows = dict(con.execute("SELECT track_id, u_plays_all FROM features.training_rows").fetchall())
    # the 23:30 play is on 4 January: both plays of the 5th see it (a rounded day would hide it from 01:00
    # and count the 13:00 play as the 6th); the plays of the 5th do not see each other
    assert rows == {"t1": 0, "t2": 1, "t3": 1}


def _outcome(label: int, early_skip: int) -> int:
    return 1 if early_skip else 2 if label else 0


def test_the_histories_counts_and_shares_are_those_of_the_plays_the_sequences_hold(small_built, small_rows):
    """hx_* and hsx_genre_* (SQL: running counts in features.labels, a RANGE window over the session) count the
    plays of the listener's and the session's sequences (skipify.sequences, from the same plays by another path)."""
    cfg, _ = small_built
    tracks = small_rows.select("track_id", pl.col("t_genre").alias("g"), pl.col("t_artist").alias("a")).unique("track_id")
    rows = small_rows.with_row_index("row")
    assert rows["h_track_ids"].list.len().max() == cfg.history_len  # some histories reach back past their last 50 plays

    def counted(sequence: str, outcomes: str, prefix: str, by: tuple[str, ...]) -> pl.DataFrame:
        plays = (rows.select("row", "t_genre", "t_artist", pl.col(sequence).alias("track_id"), pl.col(outcomes).alias("o"))
                 .explode("track_id", "o").drop_nulls("track_id").join(tracks, on="track_id"))
        sums = [pl.len().alias(f"{prefix}_plays"), (pl.col("o") > 0).sum().alias(f"{prefix}_bad")]
        for key in by:
            same = pl.col(key[0]) == pl.col(f"t_{key}")
            sums += [same.sum().alias(f"{prefix}_{key}_plays"), (same & (pl.col("o") > 0)).sum().alias(f"{prefix}_{key}_bad")]
        return plays.group_by("row").agg(sums)

    want = (rows.select("row").join(counted("h_track_ids", "h_outcomes", "hx", ("genre", "artist")), on="row", how="left")
            .join(counted("hs_track_ids", "hs_outcomes", "hsx", ("genre",)), on="row", how="left").fill_null(0).sort("row"))
    got = rows.sort("row")
    for prefix, part in (("hx", ""), ("hx", "genre_"), ("hx", "artist_"), ("hsx", "genre_")):
        plays, bad = want[f"{prefix}_{part}plays"], want[f"{prefix}_{part}bad"]
        assert got[f"{prefix}_{part}plays"].to_list() == plays.to_list(), f"{prefix}_{part}plays"
        share = (bad / plays).fill_nan(None)
        assert got[f"{prefix}_{part}dislike_share"].to_list() == pytest.approx(share.to_list(), nan_ok=True), f"{prefix}_{part}dislike_share"
    assert (got["hx_genre_plays"] > 0).mean() > 0.5 and (got["hsx_genre_plays"] > 0).mean() > 0.2  # not all zero


def test_listening_history_is_the_listeners_last_plays_before_the_day_most_recent_first(small_built):
    cfg, _ = small_built
    # the warehouse stores where each sequence ends (h_until, hs_prev); load_rows gathers the plays
    rows = load_rows(cfg, sequences=True)
    con = connect(cfg, read_only=True)
    plays = con.execute("SELECT user_id, track_id, ts, session_id, hash(user_id, track_id, ts) AS play_id, label, early_skip, "
                        "epoch(ts) AS t FROM raw.events JOIN features.labels USING (user_id, track_id, ts) ORDER BY ts, play_id").pl()
    con.close()
    assert rows["h_track_ids"].list.len().max() == cfg.history_len  # some listeners have more plays than that
    by_user = plays.partition_by("user_id", as_dict=True)
    by_session = plays.partition_by("session_id", as_dict=True)
    me = plays.select("user_id", "track_id", "ts", "session_id", "t").rows_by_key(["user_id", "track_id", "ts"], unique=True)
    for r in rows.sample(300, seed=1).iter_rows(named=True):
        start = r["day"] * 86400
        before = by_user[(r["user_id"],)].filter(pl.col("t") < start).reverse().head(cfg.history_len)
        assert r["h_track_ids"] == before["track_id"].to_list()
        assert r["h_outcomes"] == [_outcome(a, b) for a, b in zip(before["label"], before["early_skip"])]
        assert r["h_days_before"] == pytest.approx([(start - t) / 86400 for t in before["t"]])
        session, t = me[(r["user_id"], r["track_id"], r["ts"])]
        earlier = by_session[(session,)].filter(pl.col("t") < t).reverse().head(cfg.history_len)
        assert r["hs_track_ids"] == earlier["track_id"].to_list()
        assert r["hs_outcomes"] == [_outcome(a, b) for a, b in zip(earlier["label"], earlier["early_skip"])]
        assert r["hs_minutes_before"] == pytest.approx([(int(t) - int(x)) / 60 for x in earlier["t"]])


def test_a_live_sessions_few_plays_make_the_play_log_a_batchs_many_make(monkeypatch):
    """PlayLog.from_plays sorts and groups up to SMALL_FRAME plays in Python (a live session's, per request), more in
    Polars: the same log either way, every listener's run and every play's previous play included."""
    import numpy as np

    from skipify import sequences

    ts0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    plays = pl.DataFrame({
        "play_id": pl.Series([101, 7, 55, 3, 900, 42], dtype=pl.UInt64),
        "user_id": ["b", "a", "b", "a", "c", "b"], "n": [2, 1, 1, 2, 1, 3],
        "track_id": ["t1", "t2", "t1", "t3", "t9", "t2"],
        "ts": [ts0 + dt.timedelta(minutes=m) for m in (5, 1, 2, 4, 0, 9)],
        "label": pl.Series([1, 0, 0, None, 0, 1], dtype=pl.Int32), "early_skip": pl.Series([0, 0, 1, 0, 0, 1], dtype=pl.Int32),
        "hs_prev": pl.Series([55, None, None, 7, None, 101], dtype=pl.UInt64),
    })
    few = sequences.PlayLog.from_plays(plays)
    monkeypatch.setattr(sequences, "SMALL_FRAME", 0)  # the batch's path
    many = sequences.PlayLog.from_plays(plays)
    for name in ("play_id", "track", "outcome", "start", "prev"):
        assert np.array_equal(getattr(few, name), getattr(many, name), equal_nan=True), name
    assert few.tracks.equals(many.tracks) and few.prev.tolist() == [-1, 0, -1, 2, 3, -1]
    assert few.first.equals(many.first.select(few.first.columns)) and few.first["user_id"].to_list() == ["a", "b", "c"]
    # a request's listeners found by a binary search among first's (sorted), a batch's by a join: the same runs
    users = pl.Series(["c", "zz", "a", "b", None], dtype=pl.String)
    batch = many._user_runs(users)
    monkeypatch.setattr(sequences, "SMALL_FRAME", 256)
    small = many._user_runs(users)
    assert [a.tolist() for a in small] == [a.tolist() for a in batch] == [[5, 0, 0, 2, 0], [1, 1, 1, 1, 1], [1, 0, 2, 3, 0]]
