"""Items of every domain in the data contract: music tracks, podcast episodes, audiobook chapters, videos
(raw.tracks.domain and the item's own metadata), the migration that brings older warehouses there, and the
label read per domain."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from skipify import warehouse
from skipify.data import load_rows
from skipify.generate import WorldParams, build_world, write_world
from skipify.features import build_features, load_macros
from skipify.ingest import ingest_paths
from skipify.warehouse import connect, migrate
from tests.data.files import event, track, write

ITEMS = [
    track("t1"),
    track("e1", title="Monday: the news", artist="Ann Host", genres="news", domain="podcast", show_name="The Daily",
          publisher="Daily Media", duration_ms=1_800_000),
    track("c1", title="Loomings", artist="Herman Melville", genres="fiction", domain="Audiobook", show_name="Moby-Dick",
          chapter=1, duration_ms=900_000),
    track("v1", title="Behind the album", domain="video", show_name="Studio sessions", duration_ms=300_000),
]


def migrate_after(cfg, monkeypatch, version: int, statement: str) -> list[int]:
    """A warehouse made by the migrations before ``version`` (main before it), ``statement`` run on it, then
    migrated to today; returns the versions that last step applied."""
    every = warehouse.migration_files()
    monkeypatch.setattr(warehouse, "migration_files", lambda: [m for m in every if m[0] < version])
    migrate(cfg)
    con = connect(cfg)
    con.execute(statement)
    con.close()
    monkeypatch.setattr(warehouse, "migration_files", lambda: every)
    return migrate(cfg)


@pytest.mark.empty_home
def test_contract_items_keep_their_domain_and_metadata(cfg, tmp_path):
    [r] = ingest_paths([write(ITEMS, tmp_path / "tracks.csv")], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (4, 0)
    con = connect(cfg, read_only=True)
    rows = con.execute("SELECT track_id, domain, show_name, publisher, chapter FROM raw.tracks ORDER BY track_id").fetchall()
    assert rows == [("c1", "audiobook", "Moby-Dick", None, 1), ("e1", "podcast", "The Daily", "Daily Media", None),
                    ("t1", "music", None, None, None), ("v1", "video", "Studio sessions", None, None)]
    con.close()
    # a later batch that names the episode again without a domain changes its title, not its domain
    ingest_paths([write([track("e1", title="Monday: the news (updated)")], tmp_path / "tracks_2.csv")], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT domain, title, show_name FROM raw.tracks WHERE track_id = 'e1'").fetchone() == (
        "podcast", "Monday: the news (updated)", "The Daily")


@pytest.mark.empty_home
def test_an_unknown_domain_or_a_bad_chapter_is_quarantined_with_its_reason(cfg, tmp_path):
    rows = [track("r1", domain="radio"), track("c2", domain="audiobook", chapter="two"), track("c3", domain="audiobook", chapter=0)]
    [r] = ingest_paths([write(rows, tmp_path / "tracks.csv")], cfg=cfg)
    assert (r.rows_loaded, r.rows_quarantined) == (0, 3)
    con = connect(cfg, read_only=True)
    assert [x[0] for x in con.execute("SELECT reason FROM quarantine.rows ORDER BY record_number").fetchall()] == [
        "domain radio is not one of music, podcast, audiobook, video", "chapter is not an integer", "chapter must be positive"]


@pytest.mark.empty_home
def test_the_label_of_a_contract_play_reads_its_items_domain(cfg, tmp_path):
    """A minute of a track is a play, a minute of an episode an abandon (podcasts: 2 minutes), ten seconds of a video
    a skip (videos: 15 s): sql/features/play_macros.sql, the one place the label is defined."""
    land = tmp_path / "landing"
    write(ITEMS, land / "tracks.csv")
    write([event("u1", "t1", ms_played=60_000), event("u1", "e1", ts="2026-01-05T11:00:00Z", ms_played=60_000),
           event("u1", "c1", ts="2026-01-05T12:00:00Z", ms_played=180_000),
           event("u1", "v1", ts="2026-01-05T13:00:00Z", ms_played=10_000)], land / "events.csv")
    ingest_paths([land], cfg=cfg)
    con = connect(cfg, read_only=True)
    load_macros(con)
    got = dict(con.execute("SELECT track_id, label FROM fx_events('-infinity'::timestamptz, 'infinity'::timestamptz, "
                           "$label_domains, $label_abandon_ms)", cfg.label_params()).fetchall())
    assert got == {"t1": 0, "e1": 1, "c1": 0, "v1": 1}


@pytest.mark.empty_home
def test_a_warehouse_from_before_domains_migrates_its_tracks_to_music(cfg, tmp_path, monkeypatch):
    """A warehouse made by the migrations before 097 (main before items had domains), with tracks in it, takes
    the migration: its tracks are music, and ingest of every domain goes on into it."""
    applied = migrate_after(cfg, monkeypatch, 97, "INSERT INTO raw.tracks (track_id, title, artist, genres, source_format) "
                                                  "VALUES ('old1', 'Old song', 'Old band', ['rock'], 'contract')")
    assert applied[0] == 97  # and the later ones
    ingest_paths([write(ITEMS[1:2], tmp_path / "tracks.csv")], cfg=cfg)
    con = connect(cfg, read_only=True)
    assert con.execute("SELECT track_id, domain, title FROM raw.tracks ORDER BY track_id").fetchall() == [
        ("e1", "podcast", "Monday: the news"), ("old1", "music", "Old song")]


TWO_DOMAINS = WorldParams(users=150, tracks=120, days=8, seed=5, domains=("music", "podcast"))


@pytest.mark.empty_home
def test_a_generated_two_domain_world_ingests_with_the_label_it_was_drawn_with(cfg, tmp_path):
    """`skipify generate --domains music,podcast` lands items with their domain; the label the features compute
    for every play (each domain's threshold) is the dislike the world drew: the oracle holds for both domains."""
    write_world(build_world(TWO_DOMAINS), tmp_path / "world")
    reports = ingest_paths([tmp_path / "world" / "landing"], cfg=cfg)
    assert sum(r.rows_quarantined for r in reports) == 0
    con = connect(cfg, read_only=True)
    load_macros(con)
    got = con.execute("SELECT e.user_id, e.track_id, e.ts, e.label, t.domain FROM fx_events('-infinity'::timestamptz, "
                      "'infinity'::timestamptz, $label_domains, $label_abandon_ms) AS e JOIN raw.tracks AS t USING (track_id)",
                      cfg.label_params()).pl()
    truth = pl.read_parquet(tmp_path / "world" / "truth" / "truth.parquet")
    both = truth.join(got, on=["user_id", "track_id", "ts"])
    assert both.height == truth.height == got.height
    assert (both["domain"] == both["domain_right"]).all() and set(both["domain"]) == {"music", "podcast"}
    assert (both["label"] == both["dislike"].cast(pl.Int32)).all()


@pytest.mark.empty_home
def test_a_row_knows_the_listeners_past_in_its_domain_and_in_the_others(cfg, tmp_path):
    """features.user_domain: a podcast row's ud_* count the listener's podcast plays before the row's day, its
    uo_* their music plays; a music row the other way round (recounted here from raw.events and the labels)."""
    write_world(build_world(TWO_DOMAINS), tmp_path / "world")
    ingest_paths([tmp_path / "world" / "landing"], cfg=cfg)
    end = TWO_DOMAINS.start + dt.timedelta(days=TWO_DOMAINS.days)
    build_features(end, cfg, with_text=False)
    rows = load_rows(cfg).select("user_id", "day", "t_domain", "ud_plays", "uo_plays", "ud_dislike_rate", "label")
    assert set(rows["t_domain"]) == {"music", "podcast"}
    plays = rows.select("user_id", "day", pl.col("t_domain").alias("domain"), "label")
    for domain in ("music", "podcast"):
        mine = rows.filter(pl.col("t_domain") == domain)
        recount = mine.select("user_id", "day").unique().join(plays, on="user_id", suffix="_p").filter(
            pl.col("day_p") < pl.col("day")).group_by("user_id", "day").agg(
            (pl.col("domain") == domain).sum().alias("same"), (pl.col("domain") != domain).sum().alias("other"))
        got = mine.join(recount, on=["user_id", "day"], how="left").with_columns(pl.col("same", "other").fill_null(0))
        assert (got["ud_plays"] == got["same"]).all() and (got["uo_plays"] == got["other"]).all()
        assert got.filter(pl.col("uo_plays") > 0).height > 0
    first = rows.filter(pl.col("ud_plays") == 0)
    assert first["ud_dislike_rate"].n_unique() <= rows["day"].n_unique()  # no past: the day's global rate


@pytest.mark.empty_home
def test_a_night_ranks_and_counts_each_listeners_candidates_per_domain(cfg, tmp_path, monkeypatch):
    """Nights published before domains (migration 098) are music; a night's scores carry the item's domain, rank
    a listener's candidates within it (a queue is of one medium) and count them per listener and domain
    (sql/nightly/publish_*.sql, run here on staged scores written by hand)."""
    migrate_after(cfg, monkeypatch, 98, "INSERT INTO scores.dislike_scores (run_date, user_id, track_id, p_dislike, "
                                        "rank_in_user, at_risk) VALUES ('2026-01-01', 'u0', 't1', 0.9, 1, true)")
    ingest_paths([write(ITEMS + [track("e2", domain="podcast")], tmp_path / "tracks.csv")], cfg=cfg)
    con = connect(cfg)
    assert con.execute("SELECT domain FROM scores.latest_dislike_scores").fetchall() == [("music",)]
    night = dt.date(2026, 1, 2)
    for item, p in [("t1", 0.9), ("e1", 0.6), ("e2", 0.95), ("v9", 0.2)]:  # v9: not in the catalogue, music
        con.execute("INSERT INTO scores.staged_scores VALUES ($d, 0, 'u1', $t, 'taste', $p, $p, 'v1')", {"d": night, "t": item, "p": p})
    params = {"run_date": night, "threshold": 0.5, "cutoff": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)}
    for table in ("dislike_scores", "user_risk"):
        warehouse.insert_sql(con, f"scores.{table}", f"nightly/publish_{table}", params)
    got = con.execute("SELECT track_id, domain, rank_in_user FROM scores.dislike_scores WHERE run_date = $d ORDER BY track_id",
                      {"d": night}).fetchall()
    assert got == [("e1", "podcast", 2), ("e2", "podcast", 1), ("t1", "music", 1), ("v9", "music", 2)]
    risk = con.execute("SELECT domain, n_candidates, n_at_risk, top_tracks FROM scores.latest_user_risk ORDER BY domain").fetchall()
    assert risk == [("music", 2, 1, ["t1"]), ("podcast", 2, 2, ["e2", "e1"])]
