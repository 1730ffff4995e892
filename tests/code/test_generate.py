"""The planted-truth world: deterministic by seed, realistic in shape, oracle AUC in bounds."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from skipify.generate import EARLY_SKIP_MS, WorldParams, build_world, oracle_auc, write_world
from skipify.metrics import roc_auc

PARAMS = WorldParams(users=400, tracks=300, days=21, seed=3)


@pytest.fixture(scope="module")
def world():
    return build_world(PARAMS)


def test_same_seed_same_world_other_seed_other_world(world):
    again = build_world(PARAMS)
    assert again.events.equals(world.events)
    assert again.tracks.equals(world.tracks)
    other = build_world(WorldParams(**{**PARAMS.__dict__, "seed": 4}))
    assert not other.events.head(1000).equals(world.events.head(1000))


def test_oracle_auc_within_expected_bounds(world):
    auc = oracle_auc(world)
    # informative but far from perfect: listening is noisy even when the truth is known
    assert 0.70 < auc < 0.92
    assert 0.65 < oracle_auc(world, last_days=7) < 0.95
    rate = world.events["dislike"].mean()
    assert 0.15 < rate < 0.5


def test_roc_auc_matches_definition():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    pairs = [(p, n) for p in s[y == 1] for n in s[y == 0]]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert roc_auc(y, s) == pytest.approx(expected)
    assert np.isnan(roc_auc(np.ones(3), np.arange(3)))


def test_label_is_consistent_with_observed_fields(world):
    ev = world.events
    label = (pl.col("feedback") == "dislike").fill_null(False) | (pl.col("ms_played") < EARLY_SKIP_MS)
    assert ev.select((label == pl.col("dislike")).all()).item()
    explicit = ev.select(pl.col("feedback").is_not_null().mean()).item()
    assert 0 < explicit < 0.08  # explicit feedback is rare


def test_world_has_cold_start_and_context(world):
    start = PARAMS.start
    new_users = world.users.filter(pl.col("signup_date") >= start)
    new_tracks = world.tracks.filter(pl.col("release_date") >= start)
    assert new_users.height > 0 and new_tracks.height > 0
    ev = world.events.join(world.users.select("user_id", "signup_date"), on="user_id")
    assert ev.filter(pl.col("ts").dt.date() < pl.col("signup_date")).height == 0  # nobody plays before signing up
    ev = world.events.join(world.tracks.select("track_id", "release_date"), on="track_id")
    assert ev.filter(pl.col("ts").dt.date() < pl.col("release_date")).height == 0  # nor a track before release
    assert set(world.events["context_type"].unique()) >= {"playlist", "album", "radio", "user_collection"}
    assert world.events["session_position"].max() > 5
    assert world.events.select(pl.struct("user_id", "track_id", "ts").is_unique().all()).item()


def test_the_truth_varies_with_its_planted_causes(world):
    ev = world.events.sort("session_id", "session_position").with_columns(
        pl.col("dislike").shift(1).over("session_id").alias("prev_dislike")
    )
    after = ev.filter(pl.col("prev_dislike") == True)["p_dislike"].mean()  # noqa: E712
    not_after = ev.filter(pl.col("prev_dislike") == False)["p_dislike"].mean()  # noqa: E712
    assert after > not_after + 0.03  # streaks
    early = ev.filter(pl.col("session_position") <= 2)["p_dislike"].mean()
    late = ev.filter(pl.col("session_position") >= 15)["p_dislike"].mean()
    assert late > early  # fatigue


def test_text_carries_genre_signal(world):
    from skipify.generate import GENRE_WORDS

    rock = set(GENRE_WORDS["rock"].split())
    titles = world.tracks.with_columns(pl.col("genres").list.first().alias("g"))
    hits = titles.with_columns(
        pl.col("title").str.to_lowercase().str.split(" ").list.eval(pl.element().is_in(list(rock))).list.any().alias("rocky")
    )
    share_rock = hits.filter(pl.col("g") == "rock")["rocky"].mean()
    share_other = hits.filter(pl.col("g") != "rock")["rocky"].mean()
    assert share_rock > 2 * share_other


def test_write_world_layout(tmp_path, world):
    summary = write_world(world, tmp_path)
    landing = tmp_path / "landing"
    days = sorted((landing / "events").glob("events_*.parquet"))
    assert len(days) >= PARAMS.days
    assert pl.read_parquet(days).height == world.events.height
    assert "p_dislike" not in pl.read_parquet(days[0]).columns  # the truth never lands
    truth = pl.read_parquet(tmp_path / "truth" / "truth.parquet")
    assert truth.height == world.events.height
    saved = json.loads((tmp_path / "truth" / "world.json").read_text())
    assert saved["oracle_roc_auc"] == pytest.approx(summary["oracle_roc_auc"])
    base = PARAMS.start - dt.timedelta(days=1)  # users and tracks that exist before the period
    assert (landing / "users" / f"users_{base}.parquet").exists()
    assert (landing / "tracks" / f"tracks_{base}.parquet").exists()


def test_the_moods_world_is_built_differently(world):
    """The second world (variant "moods"): other session shapes, and a dislike that depends on what the
    session disliked before (a track of the genre just disliked is disliked more), beyond the demo world's."""
    moods = build_world(WorldParams(**{**PARAMS.__dict__, "variant": "moods"}))
    assert moods.events.height > 0 and not moods.events.head(1000).equals(world.events.head(1000))
    assert moods.events.equals(build_world(WorldParams(**{**PARAMS.__dict__, "variant": "moods"})).events)  # seeded

    def lengths(w) -> pl.Series:
        return w.events.group_by("session_id").len()["len"]

    demo_len, moods_len = lengths(world), lengths(moods)
    assert (moods_len <= 3).mean() > 0.38 and moods_len.filter(moods_len > 3).mean() > 14  # bursts and long sessions
    assert (demo_len <= 3).mean() < 0.38 and demo_len.mean() < 10

    def aversion(w) -> float:
        """Mean true p(dislike) of plays whose genre the session already disliked, minus that of the other plays
        after a dislike in the session."""
        genre = w.tracks.select(pl.col("track_id").cast(pl.String), pl.col("genres").list.first().alias("genre"))
        ev = (w.events.with_columns(pl.col("track_id").cast(pl.String), pl.col("session_id").cast(pl.String))
              .join(genre, on="track_id").sort("session_id", "session_position"))
        ev = ev.with_columns(
            pl.col("dislike").cast(pl.Int32).cum_sum().over("session_id").shift(1).over("session_id").fill_null(0).alias("before"),
            pl.col("dislike").cast(pl.Int32).cum_sum().over("session_id", "genre").shift(1).over("session_id", "genre")
            .fill_null(0).alias("same_genre_before"))
        after = ev.filter(pl.col("before") > 0)
        return (after.filter(pl.col("same_genre_before") > 0)["p_dislike"].mean()
                - after.filter(pl.col("same_genre_before") == 0)["p_dislike"].mean())

    assert aversion(moods) > aversion(world) + 0.02
    with pytest.raises(ValueError, match="unknown world variant 'nope'"):
        WorldParams(variant="nope")


TWO = WorldParams(**{**PARAMS.__dict__, "domains": ("music", "podcast")})


@pytest.fixture(scope="module")
def two_domains():
    return build_world(TWO)


def test_a_second_domain_leaves_the_music_as_it_was(world, two_domains):
    """The podcasts draw from a generator of their own: the music plays of a two-domain world are the one-domain
    world's, bit for bit (ids as text), so the music figures of the two compare."""
    def plain(frame):
        return frame.with_columns(pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.Enum))
    music = two_domains.events.filter(pl.col("domain") == "music")
    assert music.drop("domain", "p_from_music").equals(plain(world.events))
    assert (music["p_from_music"] == music["p_dislike"]).all()  # a music play's truth is all music tells of it
    assert two_domains.events.equals(build_world(TWO).events)  # seeded


def test_what_music_tells_of_a_podcast_play_is_the_truth_at_coupling_1_and_nothing_of_the_listener_at_0():
    """p_from_music: the truth with the listener's podcast taste and pickiness at what their music says of them."""
    def podcasts(rho: float) -> pl.DataFrame:
        world = build_world(WorldParams(**{**TWO.__dict__, "coupling": rho}))
        return world.events.filter(pl.col("domain") == "podcast")

    full = podcasts(1.0)  # the coupling exact: music tells all
    assert np.allclose(full["p_from_music"].to_numpy(), full["p_dislike"].to_numpy())
    none = podcasts(0.0)  # independent: the same for every listener of an item on a platform
    assert none.group_by("track_id", "platform").agg(pl.col("p_from_music").n_unique())["p_from_music"].max() == 1
    assert none.group_by("track_id", "platform").agg(pl.col("p_dislike").n_unique())["p_dislike"].max() > 1
    partly = podcasts(0.6)
    assert not np.allclose(partly["p_from_music"].to_numpy(), partly["p_dislike"].to_numpy())


def test_a_second_domain_is_sparser_and_its_label_is_its_own(two_domains):
    """Fewer plays per listener than music (about other_plays_per_user over the period), items with a show, a
    publisher and no audio, and a drawn dislike that is the label with the domain's own threshold (2 minutes)."""
    from skipify.generate_media import ABANDON_MS

    ev = two_domains.events
    per_listener = ev.group_by("domain", "user_id").len().group_by("domain").agg(pl.col("len").mean())
    means = dict(per_listener.iter_rows())
    assert means["podcast"] < means["music"] / 2 and 5 < means["podcast"] < TWO.other_plays_per_user * 1.1
    cut = pl.col("domain").replace_strict(ABANDON_MS, return_dtype=pl.Int64)
    label = (pl.col("feedback") == "dislike").fill_null(False) | (pl.col("ms_played") < cut)
    assert ev.select((label == pl.col("dislike")).all()).item()
    podcast = ev.filter(pl.col("domain") == "podcast")
    assert ((podcast["ms_played"] >= 30_000) & podcast["dislike"]).mean() > 0.1  # abandons a music skip would not be
    items = two_domains.tracks.filter(pl.col("domain") == "podcast")
    assert items["show_name"].null_count() == 0 and items["publisher"].null_count() == 0 and items["energy"].null_count() == items.height
    assert 0.65 < oracle_auc(two_domains, domain="podcast") < 0.95


@pytest.mark.parametrize("rho", [0.0, 0.6, 1.0])
def test_the_coupling_of_tastes_is_rho(rho):
    from skipify.generate_media import coupled

    rng = np.random.default_rng(0)
    music = rng.normal(3, 2, (20_000, 4))
    rotation, _ = np.linalg.qr(rng.normal(0, 1, (4, 4)))
    other = coupled(rng, music, rho, rotation)
    carried = (music - music.mean(axis=0)) / music.std(axis=0) @ rotation
    corr = [np.corrcoef(other[:, j], carried[:, j])[0, 1] for j in range(4)]
    assert np.allclose(corr, rho, atol=0.02) and np.allclose(other.std(axis=0), 1, atol=0.03)


def test_the_domains_are_checked():
    with pytest.raises(ValueError, match="music first"):
        WorldParams(domains=("podcast",))
    with pytest.raises(ValueError, match="each once"):
        WorldParams(domains=("music", "radio"))
    with pytest.raises(ValueError, match="coupling"):
        WorldParams(domains=("music", "podcast"), coupling=1.5)


def test_a_two_domain_world_writes_its_domains_and_oracles(tmp_path, two_domains):
    summary = write_world(two_domains, tmp_path)
    assert set(summary["by_domain"]) == {"music", "podcast"}
    assert summary["by_domain"]["music"]["n_events"] + summary["by_domain"]["podcast"]["n_events"] == summary["n_events"]
    tracks = pl.read_parquet(sorted((tmp_path / "landing" / "tracks").glob("*.parquet")))
    assert set(tracks["domain"]) == {"music", "podcast"}
    assert set(pl.read_parquet(tmp_path / "truth" / "truth.parquet")["domain"]) == {"music", "podcast"}
