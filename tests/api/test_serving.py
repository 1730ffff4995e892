"""The API's in-memory feature snapshot and reasons, against the batch path they must agree with."""

from __future__ import annotations

import datetime as dt
import json

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.models.deep import DeepReasons
from skipify.features import scoring_rows
from skipify.sequences import with_sequences
from skipify.serving import Snapshot, request_frame
from skipify.versions import load_version
from skipify.warehouse import connect, create_temp
from tests.scored import NIGHT, SCORED_SETTINGS, assert_rows_equal

CUTOFF = dt.datetime.combine(NIGHT, dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def cfg(scored_home):
    return load_config(home=scored_home, **SCORED_SETTINGS)


@pytest.fixture(scope="module")
def snapshot(cfg):
    return Snapshot.load(NIGHT, cfg)


@pytest.fixture(scope="module")
def pairs(cfg) -> pl.DataFrame:
    """Played pairs, never-played pairs of known ids, and unknown listeners and tracks, in the
    listener's habitual context (what the nightly probes use)."""
    con = connect(cfg, read_only=True)
    try:
        played = con.execute("SELECT DISTINCT user_id, track_id FROM raw.events WHERE ts < $c ORDER BY ALL LIMIT 150",
                             {"c": CUTOFF}).pl()
        users = con.execute("SELECT user_id FROM raw.users ORDER BY user_id LIMIT 30").pl()
        tracks = con.execute("SELECT track_id FROM raw.tracks ORDER BY track_id DESC LIMIT 10").pl()
        create_temp(con, "habits", "features/habits", {"cutoff": CUTOFF, "active_days": cfg.active_days})
        habits = con.execute("SELECT * FROM habits").pl()
    finally:
        con.close()
    unknown = pl.DataFrame({"user_id": ["nobody", "nobody", "u000001"], "track_id": ["t000001", "t_none", "t_none"]})
    out = pl.concat([played, users.join(tracks, how="cross"), unknown]).unique(maintain_order=True)
    return out.join(habits, on="user_id", how="left", maintain_order="left")


def test_snapshot_rows_equal_the_batch_rows_column_for_column(cfg, snapshot, pairs):
    probes = pairs.with_row_index("probe_id").with_columns(
        (pl.lit(CUTOFF) + pl.duration(hours=pl.col("hour").fill_null(12))).alias("ts"), pl.lit(1).alias("session_position"))
    con = connect(cfg, read_only=True)
    try:
        batch = scoring_rows(con, probes.drop("hour"), CUTOFF, cfg).sort("probe_id").drop("probe_id")
    finally:
        con.close()
    served, flags = snapshot.rows(request_frame(pairs.select("user_id", "track_id").to_dicts()))  # context: the habit
    assert served.height == pairs.height
    assert_rows_equal(batch, served)
    # the cases are all there: history and none, known and unknown ids
    assert flags["user_new"].any() and flags["track_new"].any() and not flags["user_new"].all()
    assert flags.filter(pl.Series(pairs["user_id"] == "nobody"))["user_unknown"].all()
    assert (served["ut_replays"] > 0).any() and (served["ut_replays"] == 0).any()


def test_a_snapshot_written_once_and_mapped_gives_the_same_rows_and_flags(cfg, snapshot, pairs, tmp_path):
    """skipify.snapshots: the snapshot in files, mapped by another process, answers exactly as the one loaded
    from the warehouse (every family, the play log, the habits, the sets of ids); its frames are the files' pages."""
    from skipify import snapshots

    columns = sorted({c for f in snapshot.per_key for c in f.frame.columns})
    snapshots.write(snapshot, tmp_path / "snap", "v-test", columns)
    mapped = snapshots.opened(tmp_path / "snap", columns, NIGHT)
    assert mapped is not None and mapped.log is not None and len(mapped.per_key) == len(snapshot.per_key)
    assert snapshots.opened(tmp_path / "snap", columns[1:], NIGHT) is None  # written for other columns: not used
    assert snapshots.opened(tmp_path / "snap", columns, NIGHT - dt.timedelta(days=1)) is None  # for another night
    # the same requests, with a session's live plays so that the play log and the session family are read
    requests = request_frame(pairs.select("user_id", "track_id").to_dicts()
                             + [{"user_id": "u000001", "track_id": "t_none", "session_position": 3, "hour": 23}])
    for got, want in zip(mapped.rows(requests), snapshot.rows(requests)):
        assert_rows_equal(want, got)
    for a, b in zip(mapped.per_key, snapshot.per_key):
        assert a.frame.equals(b.frame) and a.frame.schema == b.frame.schema and (a.reach is None) == (b.reach is None)
        assert np.array_equal(a.keys.sorted, b.keys.sorted) and list(a.keys.ids) == list(b.keys.ids)
        assert all(a.keys.ids[c].values.equals(b.keys.ids[c].values) and np.array_equal(a.keys.ids[c].encoded, b.keys.ids[c].encoded)
                   for c in a.keys.ids)
    assert mapped.params == snapshot.params
    assert all(getattr(mapped, n).values.equals(getattr(snapshot, n).values) for n in snapshots.ID_SETS)
    assert all(np.array_equal(getattr(mapped.log, n), getattr(snapshot.log, n)) for n in snapshots.LOG_ARRAYS)
    assert mapped.log.first.equals(snapshot.log.first) and mapped.log.first["user_id"].is_sorted()
    # what a request's lookups search is mapped too, not made in each process
    assert mapped.log.listeners is not None and mapped.log.by_id is not None
    assert mapped.log.listeners.values.equals(snapshot.log.sorted_listeners().values)
    assert all(np.array_equal(a, b) and not a.flags.writeable for a, b in zip(mapped.log.by_id, snapshot.log.sorted_ids()))
    assert mapped.tracks["track_id"].equals(mapped.known_tracks.values, check_names=False)  # a track's row: its position
    # mapped, not copied: the arrays are read-only views of the files
    assert not mapped.log.play_id.flags.writeable and not mapped.per_key[0].keys.sorted.flags.writeable
    assert not mapped.played_users.encoded.flags.writeable


def test_the_machines_snapshot_is_built_once_then_mapped_old_nights_go_and_a_full_disk_costs_only_memory(
        cfg, pairs, monkeypatch, tmp_path):
    import errno
    import shutil

    from skipify import snapshots

    monkeypatch.setattr(snapshots, "root", lambda _cfg: tmp_path / "snapshots")
    columns = ["u_plays_7d", "ut_replays", "h_track_ids", "hs_track_ids"]
    loads = []
    load = Snapshot.load
    monkeypatch.setattr(Snapshot, "load", lambda *a, **k: loads.append(a) or load(*a, **k))
    first = snapshots.shared(NIGHT, cfg, "v1", columns)
    again = snapshots.shared(NIGHT, cfg, "v1", columns)
    assert len(loads) == 1  # built once; asked again (another worker), mapped
    requests = request_frame(pairs.select("user_id", "track_id").to_dicts())
    assert_rows_equal(first.rows(requests, columns)[0], again.rows(requests, columns)[0])
    assert snapshots.shared(NIGHT, cfg, "v1", columns[:2]) is not None and len(loads) == 2  # other columns: built again

    # a frame kept beside it (the API's reference rows, with their sequences' lists): built once, then mapped
    built = []
    frame = first.rows(requests.head(20), columns)[0]
    kept = [snapshots.kept_frame(NIGHT, cfg, "v1", "rows-20", lambda: built.append(1) or frame) for _ in range(2)]
    assert len(built) == 1 and all(k.equals(frame) and k.schema == frame.schema for k in kept)

    # the two latest nights stay, and an older night just written; interrupted writes go
    written = snapshots.folder(NIGHT, "v1", cfg)
    for name in (f"{NIGHT - dt.timedelta(days=d)}.v1" for d in (1, 2, 3)):
        shutil.copytree(written, written.parent / name)
    shutil.copytree(written, written.parent / f".{written.name}.tmp123")
    snapshots._prune(cfg, written.parent / f"{NIGHT - dt.timedelta(days=3)}.v1")
    assert sorted(p.name for p in written.parent.iterdir() if p.is_dir()) == sorted(
        [written.name, f"{NIGHT - dt.timedelta(days=1)}.v1", f"{NIGHT - dt.timedelta(days=3)}.v1"])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshots, "write", full)
    held = snapshots.shared(NIGHT, cfg, "v2", columns)  # served from this process's memory, with a warning
    assert not snapshots.folder(NIGHT, "v2", cfg).exists()
    assert_rows_equal(first.rows(requests, columns)[0], held.rows(requests, columns)[0])


def test_vectors_kept_beside_the_snapshot_are_built_once_mapped_read_only_and_built_anew_by_a_fresh_night(
        cfg, monkeypatch, tmp_path):
    """snapshots.kept_vectors (the API's content vectors): built once per machine, before the snapshot's own files if
    need be; every process maps the matrix read-only; the snapshot written into the folder keeps them; a night run
    again (fresh) drops them with the rest, to be built anew from the warehouse."""
    from skipify import snapshots

    monkeypatch.setattr(snapshots, "root", lambda _cfg: tmp_path / "snapshots")
    ids, matrix = ["t2", "t1", "é"], np.arange(12, dtype=np.float32).reshape(3, 4)
    built = []

    def build():
        built.append(1)
        return ids, matrix

    kept = [snapshots.kept_vectors(NIGHT, cfg, "v1", "content", build) for _ in range(2)]
    assert len(built) == 1 and all(list(k) == ids for k in kept)
    assert all(np.array_equal(k[t], matrix[i]) for k in kept for i, t in enumerate(ids))
    path = snapshots.folder(NIGHT, "v1", cfg) / "extra.content.npy"
    assert str(path) in Path("/proc/self/maps").read_text()  # the file's pages, not a copy
    with pytest.raises(ValueError, match="read-only"):
        kept[1]["t1"][0] = 1.0
    snapshots.shared(NIGHT, cfg, "v1", ["u_plays_7d"])  # the snapshot itself written into the folder: they stay
    assert path.exists() and list(snapshots.kept_vectors(NIGHT, cfg, "v1", "content", build)) == ids and len(built) == 1
    snapshots.shared(NIGHT, cfg, "v1", ["u_plays_7d"], fresh=True)  # the night run again: gone, built anew when asked
    assert not path.exists()
    snapshots.kept_vectors(NIGHT, cfg, "v1", "content", build)
    assert len(built) == 2


def test_sorted_ids_find_a_requests_few_ids_and_a_batchs_many_alike():
    """The binary search over UTF-8 bytes (a request's ids) and the join (a batch's) agree with a dict, for ids
    that are not there, null, longer than the widest, non-ASCII, or a prefix of another."""
    from skipify.lookup import SMALL_FRAME, SortedIds

    values = ["t1", "t10", "t2", "ä", "é", "u000001", "", "z" * 5]
    ids = SortedIds.of(pl.Series(values + ["t1", None]))
    assert len(ids) == len(values) and ids.values.to_list() == sorted(values)
    code = {v: i for i, v in enumerate(ids.values.to_list())}
    asked = ["t1", "t10", "t100", "t", None, "ä", "é", "e", "z" * 5, "z" * 6, "", "u000001", "u00000"]
    want = np.array([code.get(k, -1) if k is not None else -1 for k in asked])
    assert np.array_equal(ids.positions(pl.Series(asked, dtype=pl.String)), want)
    many = pl.Series(asked * (SMALL_FRAME // len(asked) + 2), dtype=pl.String)
    assert many.len() > SMALL_FRAME and np.array_equal(ids.positions(many), np.tile(want, SMALL_FRAME // len(asked) + 2))


def test_probes_alike_without_a_session_share_one_run_of_the_per_row_sql_and_get_each_its_own_row(snapshot, pairs):
    """In a large batch the per-row family (the session and context) runs once per distinct probe without a session
    (serving.ALONE): each probe's row is the one the SQL gives it run on every probe, with probes in sessions, alike
    or not, beside; a request's few probes give the same rows."""
    from skipify.serving import SMALL_FRAME, _plain_ints
    from skipify.warehouse import used_params

    base = pairs.select("user_id", "track_id").head(120)  # 270 probes: a batch (more than SMALL_FRAME)
    requests = request_frame(pl.concat([
        base,  # the habit's context: many listeners alike
        base.with_columns(pl.lit(7).alias("hour"), pl.lit("ios").alias("platform")),  # all alike but the pair
        base.head(20).with_columns(pl.lit("s1").alias("session_id"), pl.lit(3).alias("session_position")),
        base.head(10).with_columns(pl.format("s-{}", pl.int_range(pl.len())).alias("session_id")),
    ], how="diagonal"))
    rows, _ = snapshot.rows(requests)
    probes = snapshot.probes(requests)
    cur = snapshot._cursor()
    cur.register("fx_rows_out", probes.to_arrow())
    for fam in snapshot.per_row:
        text = snapshot._sql[fam.name]
        each = _plain_ints(cur.execute(text, used_params(text, snapshot.params)).pl().sort("play_id").drop("play_id", "day", "hs_prev"))
        assert rows.select(each.columns).equals(each), fam.name
    alone = probes.filter(pl.col("session_id").is_null())
    assert requests.height > SMALL_FRAME and alone.height == 240
    assert alone.unique(["session_position", "ts", "platform", "genre"]).height < alone.height
    few = pl.concat([requests.slice(0, 3), requests.slice(120, 3)])
    assert snapshot.rows(few)[0].equals(pl.concat([rows.slice(0, 3), rows.slice(120, 3)]))


def test_a_single_pairs_rows_are_its_rows_in_a_batch(snapshot, pairs):
    """A request of one pair takes shortcuts (its per-row family reads the probe as bound parameters, on a cursor
    with DuckDB's optimizer off; its track's catalogue row and each family's row by binary search and slice): alone,
    each pair gets the row and flags it gets in a batch large enough for the joins (played pairs, pairs never played,
    unknown listeners and tracks; the habit's context, an hour, a ts, a platform, shuffle, a position)."""
    from skipify.serving import SMALL_FRAME

    base = pl.concat([pairs.select("user_id", "track_id").gather_every(3), pairs.select("user_id", "track_id").tail(3)]).unique(
        maintain_order=True)  # the tail: the unknown listeners and tracks
    variants = [{}, {"hour": 7, "platform": "ios"}, {"ts": CUTOFF + dt.timedelta(days=1, hours=20, minutes=5), "shuffle": True},
                {"session_position": 3, "context_type": "radio", "reason_start": "fwdbtn"}, {"platform": "unheard-of"}]
    items = [{**pair, **variants[i % len(variants)]} for i, pair in enumerate(base.to_dicts())]
    assert any(i["user_id"] == "nobody" for i in items) and any(i["track_id"] == "t_none" for i in items)
    batch = items * (SMALL_FRAME // len(items) + 1)  # the large batch's path: joins, the per-row SQL once per alike probe
    assert len(batch) > SMALL_FRAME
    rows, flags = snapshot.rows(request_frame(batch))
    for i, item in enumerate(items):
        one, one_flags = snapshot.rows(request_frame([item]))
        assert one.schema == rows.schema
        assert_rows_equal(rows.slice(i, 1), one)
        assert one.equals(rows.slice(i, 1)), item
        assert one_flags.equals(flags.slice(i, 1)), item


def test_a_later_ts_changes_only_the_context_the_history_is_the_cut_offs(snapshot, pairs):
    """A request is a probe as of the cut-off (the night's rows): its ts sets the hour and weekday,
    nothing else, day distances included."""
    played = pairs.head(5).select("user_id", "track_id").to_dicts()
    same, later = (snapshot.rows(request_frame([{**p, "ts": CUTOFF + dt.timedelta(days=d, hours=9)} for p in played]))[0]
                   for d in (0, 3))
    context = {"ts", "c_hour", "c_weekday"}
    assert (later["c_weekday"] != same["c_weekday"]).all() and (later["c_hour"] == 9).all()
    assert later.drop(*context).equals(same.drop(*context))
    assert (same["ut_replays"] > 0).all() and same["ut_days_since_last"].is_not_null().all()


def test_reasons_add_up_to_the_deep_models_logit_and_match_its_score(cfg, snapshot, pairs):
    _, models = load_version(None, cfg)
    deep = models["deep"]
    con = connect(cfg, read_only=True)
    try:
        background = with_sequences(con, con.execute("SELECT * FROM features.training_rows ORDER BY play_id LIMIT 100").pl(),
                                    cfg.history_len)
    finally:
        con.close()
    reasons = DeepReasons(deep, background, steps=32)
    rows, _ = snapshot.rows(request_frame(pairs.head(40).select("user_id", "track_id").to_dicts()))
    blocks, values, logits = reasons(rows)
    assert values.shape == (40, len(blocks)) and {"user embedding", "u_dislike_rate_30d", "c_platform"} <= set(blocks)
    # completeness of integrated gradients: the blocks share out logit(row) - logit(reference)
    gap = logits - reasons.reference_logit
    assert np.abs(values.sum(axis=1) - gap).max() < 0.02 * max(1.0, np.abs(gap).max())
    assert np.allclose(1 / (1 + np.exp(-logits)), deep.predict(rows), atol=1e-5)


def test_a_snapshot_loaded_for_some_columns_holds_only_their_families_and_says_so(cfg, pairs):
    wanted = {"u_plays_7d", "c_hour"}
    snap = Snapshot.load(NIGHT, cfg, wanted)
    assert [f.definition.name for f in snap.per_key] == ["user_history"]
    assert [f.name for f in snap.per_row] == ["session_context"]
    requests = request_frame(pairs.head(5).select("user_id", "track_id").to_dicts())
    rows, _ = snap.rows(requests, wanted)
    assert {"u_plays_7d", "c_hour"} <= set(rows.columns) and "t_plays_7d" not in rows.columns
    with pytest.raises(ValueError, match="loaded without the families track_history"):
        snap.rows(requests, {"t_plays_7d"})


def test_the_night_publishes_the_served_kind_as_p_dislike_and_the_other_as_the_baseline(cfg, snapshot):
    """The gate chose the kind on validation; the night's p_dislike is that model's score of the snapshot's rows,
    p_dislike_baseline the other kind's, and each model's reasons add up to its own logit."""
    from skipify.registry import served_kind

    chosen, models = load_version(None, cfg)
    metrics = json.loads(chosen["metrics"])
    assert chosen["served_model"] == served_kind(metrics["summary"])  # the kind that won on validation
    other = next(k for k in models if k != chosen["served_model"])
    con = connect(cfg, read_only=True)
    try:
        night = con.execute("SELECT user_id, track_id, p_dislike, p_dislike_baseline FROM scores.dislike_scores "
                            "WHERE run_date = $d ORDER BY user_id, track_id LIMIT 60", {"d": NIGHT}).pl()
        background = with_sequences(con, con.execute("SELECT * FROM features.training_rows ORDER BY play_id LIMIT 100").pl(),
                                    cfg.history_len)
    finally:
        con.close()
    assert night.height == 60
    rows, _ = snapshot.rows(request_frame(night.select("user_id", "track_id").to_dicts()))
    assert np.abs(models[chosen["served_model"]].predict(rows) - night["p_dislike"].to_numpy()).max() < 1e-6
    assert np.abs(models[other].predict(rows) - night["p_dislike_baseline"].to_numpy()).max() < 1e-6
    for kind, model in models.items():  # one interface: prepare, predict and a reasoner for every kind
        data = model.prepare(rows)
        blocks, values, logits = model.reasoner(background)(rows, data)
        p = model.predict(rows, data=data)
        assert values.shape == (rows.height, len(blocks)) and np.allclose(1 / (1 + np.exp(-logits)), p, atol=1e-5), kind
        assert np.ptp(logits - values.sum(axis=1)) < 0.05 * max(1.0, np.ptp(logits)), kind  # the rest is one reference logit
