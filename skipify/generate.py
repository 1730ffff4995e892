"""The planted-truth world: synthetic listening whose true dislike probability is known.

    $ skipify generate --out /tmp/world --users 10000 --tracks 5000 --days 60 --seed 42

writes contract files under ``OUT/landing`` (events partitioned by day, users and tracks as they
arrive) and, separately, ``OUT/truth/truth.parquet`` with every event's true dislike probability.
Ingest never reads ``truth/``; evaluation compares models against it (the *oracle*).

How the world works (docs/world.md has the whole story):

* 12 genres, each a centroid in an 8-dimensional hidden style space. Artists sit near a genre's
  centroid, tracks near their artist. Audio features are a noisy projection of a track's style,
  and titles and artist names draw words from their genre's vocabulary, so text carries genre signal.
* Users have a hidden taste vector (near one or two favourite genres) that drifts over the period,
  a pickiness, a fatigue rate and a streak tendency, an activity rate, a habitual hour and device.
* Sessions: a user listens in sessions of a few to dozens of tracks, picked from their rotation,
  by taste, from the charts or exploring (the route depends on the session's context_type).
* The true dislike logit adds: pickiness, the track's badness, minus taste affinity (scaled by how
  polarising the track is), fatigue by position, a streak term when the previous play in the
  session was disliked, familiarity for rotation tracks, and context effects (shuffle, radio,
  late night, platform), plus slow drift. The label is drawn from it; a dislike shows up as an early
  skip (< 30 s) or, rarely, an explicit 'dislike'.
* New users sign up and new tracks are released during the period: the cold-start segments.

Everything is vectorised with NumPy (a loop over session positions only, for the streaks).

A second, differently built world (``variant="moods"``, ``skipify generate --variant moods``), for
checking that what a model learns is not one world's accident (docs/world.md):

* other session shapes: two kinds of session, short bursts (1 to 3 plays, 40%) and long ones
  (geometric, mean 20 plays);
* other effects: each session has a **mood**, a point in style space near the listener's taste, and
  the dislike logit reads the track's affinity to the mood more than to the long-term taste; within a
  session a listener **avoids what they just disliked** (a term for the track's similarity to the
  mean style of the session's earlier dislikes) in place of most of the streak term;
* other strengths: pickiness, track badness and context matter less; fatigue by position more.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl

from skipify.config import cutoff_of, logger
from skipify.metrics import roc_auc

EARLY_SKIP_MS = 30_000  # the world's notion of an early skip; equals the default label threshold

GENRES = ["rock", "pop", "hip hop", "jazz", "classical", "electronic", "metal", "country", "folk", "reggae", "r&b", "latin"]
GENRE_SHARE = np.array([14, 20, 15, 5, 4, 10, 5, 6, 5, 3, 8, 5], dtype=float)
GENRE_WORDS = {
    "rock": "guitar riot highway stone rebel thunder garage amp rolling wild engine road",
    "pop": "baby love party summer heart dance kiss star candy forever glitter crush",
    "hip hop": "street hustle flow cipher block money crown rhyme boom beat hood mic",
    "jazz": "blue note swing smoky saxophone bebop velvet quartet midnight lounge cool trio",
    "classical": "sonata concerto symphony adagio allegro opus nocturne fugue prelude minuet requiem etude",
    "electronic": "pulse synth circuit neon laser techno voltage rave digital echo bass drop",
    "metal": "doom iron blood skull inferno steel chaos grave abyss storm black forge",
    "country": "whiskey truck dusty porch cowboy boots river hometown barn prairie tennessee rodeo",
    "folk": "meadow willow lantern wander harvest autumn cabin fiddle old ballad mountain creek",
    "reggae": "island roots dub sunshine babylon zion irie riddim jah skank lion rasta",
    "r&b": "silk soul smooth honey slow groove tender desire satin sugar body late",
    "latin": "corazon fuego baila noche amor salsa cumbia ritmo playa caliente vida sabor",
}
COMMON_WORDS = "the my your of in on and night day time light home dream fire rain life world way heart song".split()
CONTEXTS = np.array(["playlist", "album", "radio", "user_collection", "search", "charts"])
CONTEXT_P = np.array([0.35, 0.15, 0.15, 0.20, 0.05, 0.10])
CONTEXT_LOGIT = np.array([0.0, -0.3, 0.45, -0.35, -0.5, 0.25])  # radio/charts push unknown tracks
PLATFORMS = np.array(["android", "ios", "desktop", "web", "cast"])
PLATFORM_P = np.array([0.38, 0.30, 0.20, 0.07, 0.05])
PLATFORM_LOGIT = np.array([0.1, 0.1, -0.1, 0.0, -0.3])
COUNTRIES = np.array(["US", "GB", "DE", "BR", "MX", "SE", "FR", "JP", "IN", "ES"])
COUNTRY_P = np.array([0.30, 0.10, 0.10, 0.10, 0.08, 0.05, 0.08, 0.07, 0.07, 0.05])
AUDIO = ["danceability", "energy", "valence", "acousticness", "instrumentalness", "speechiness", "liveness"]
DIM = 8  # hidden style dimensions
CHUNK = 1_000_000  # rows per chunk where a step would otherwise hold N x DIM floats
REASONS = ["fwdbtn", "backbtn", "endplay", "trackdone", "clickrow", "playbtn"]
FWD, BACK, ENDPLAY, DONE, CLICK, PLAY = range(len(REASONS))
FEEDBACK = ["like", "dislike", None]  # code 2 is null
VARIANTS = ("demo", "moods")


@dataclass(frozen=True)
class WorldParams:
    """The knobs of the world; recorded in truth/world.json next to the truth."""

    users: int = 10_000
    tracks: int = 5_000
    days: int = 60
    seed: int = 42
    start: dt.date = dt.date(2026, 1, 1)
    events_per_user_day: float = 1.7
    mean_session_length: float = 8.0
    max_session_length: int = 60
    new_user_share: float = 0.25  # users who sign up during the period
    new_track_share: float = 0.15  # tracks released during the period
    rotation_size: int = 30
    variant: str = "demo"  # "demo" | "moods": a differently built world (module docstring, docs/world.md)
    # other media beside the music (skipify/generate_media.py): podcast, audiobook, video
    domains: tuple[str, ...] = ("music",)
    coupling: float = 0.6  # rho: how much a listener's taste and pickiness in another domain follow their music's
    other_plays_per_user: float = 20.0  # each listener's mean plays of each other domain over the whole period
    other_items: int | None = None  # items of each other domain [tracks // 4]

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown world variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        others = ("podcast", "audiobook", "video")
        if not self.domains or self.domains[0] != "music" or len(set(self.domains)) < len(self.domains) or any(
                d not in others for d in self.domains[1:]):
            raise ValueError(f"domains {','.join(self.domains)}: music first, then any of {', '.join(others)}, each once")
        if not 0 <= self.coupling <= 1:
            raise ValueError(f"coupling {self.coupling}: must be from 0 to 1")
        if self.other_plays_per_user < 0:
            raise ValueError(f"other_plays_per_user {self.other_plays_per_user}: must be at least 0")


@dataclass
class World:
    """In-memory world: frames in contract shape plus the truth."""

    users: pl.DataFrame
    tracks: pl.DataFrame
    events: pl.DataFrame  # contract columns + p_dislike + dislike (the truth, split off on write)
    params: WorldParams


# --- small helpers ------------------------------------------------------------------------


def _enum(categories: list, codes: np.ndarray) -> pl.Series:
    """A Polars Enum column from integer codes into ``categories`` (a None category gives nulls)."""
    names = [c for c in categories if c is not None]
    return pl.Series(categories, dtype=pl.Enum(names)).gather(pl.Series(codes.astype(np.uint32)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _names(rng: np.random.Generator, genre_idx: np.ndarray, n_words: np.ndarray, genre_word_p: float) -> list[str]:
    """Titles/names from genre vocabulary (with probability genre_word_p per word) and common words."""
    vocab = [GENRE_WORDS[g].split() for g in GENRES]
    out = []
    for g, k in zip(genre_idx.tolist(), n_words.tolist()):
        words = [
            (vocab[g][rng.integers(len(vocab[g]))] if rng.random() < genre_word_p else COMMON_WORDS[rng.integers(len(COMMON_WORDS))])
            for _ in range(k)
        ]
        out.append(" ".join(words).title())
    return out


class GroupSampler:
    """Draw items within a group (genre, artist) proportionally to weights, vectorised."""

    def __init__(self, group: np.ndarray, weight: np.ndarray, n_groups: int):
        self.order = np.argsort(group, kind="stable")
        w = weight[self.order].astype(np.float64)
        self.cum = np.cumsum(w)
        counts = np.bincount(group, minlength=n_groups)
        ends = np.cumsum(counts)
        starts = ends - counts
        self.lo = np.where(starts > 0, self.cum[np.maximum(starts - 1, 0)], 0.0)
        self.hi = np.where(ends > 0, self.cum[np.maximum(ends - 1, 0)], 0.0)
        self.nonempty = counts > 0

    def draw(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        u = self.lo[groups] + rng.random(len(groups)) * (self.hi[groups] - self.lo[groups])
        pos = np.searchsorted(self.cum, u, side="right")
        return self.order[np.minimum(pos, len(self.order) - 1)]


# --- the world ----------------------------------------------------------------------------


def build_world(p: WorldParams) -> World:
    """Draw a whole world. Same params (seed included) give the same world, bit for bit.

    The stages, in the order they draw from the one random generator: the catalogue (artists, tracks), the
    listeners, their rotations, the sessions, each play's track, its true dislike probability, whether it
    was disliked (sequentially, for the streaks), what was observed of it, and the tables."""
    rng = np.random.default_rng(p.seed)
    t0 = time.perf_counter()
    cat = _draw_catalogue(rng, p)
    lis = _draw_listeners(rng, p, cat)
    taste = _TasteGenres(rng, lis, cat)
    rotation = taste.samplers.catalogue.draw(rng, taste(np.repeat(np.arange(p.users), p.rotation_size))).reshape(
        p.users, p.rotation_size)  # each listener's favourite catalogue tracks
    logger.info("world: %d users, %d tracks, %d artists drawn (%.1fs)", p.users, p.tracks, cat.n_artists, time.perf_counter() - t0)
    ses = _draw_sessions(rng, p, lis, cat, taste)
    logger.info("world: %d sessions, %d events laid out (%.1fs)", ses.n, ses.n_events, time.perf_counter() - t0)
    track = _draw_tracks(rng, p, cat, ses, taste, rotation)
    base, affinity = _base_logit(rng, p, cat, lis, ses, track)
    p_true, dislike = _draw_dislikes(rng, p, cat, lis, ses, track, base)
    del base
    logger.info("world: dislike rate %.3f (%.1fs)", dislike.mean() if ses.n_events else float("nan"), time.perf_counter() - t0)
    seen = _observe(rng, p, cat, ses, track, dislike, affinity)
    world = _tables(rng, p, cat, lis, ses, track, p_true, dislike, seen)
    if len(p.domains) > 1:  # drawn after the music, from generators of their own: the music stays as it is
        from skipify.generate_media import draw_domain
        world = _with_other_domains(world, [draw_domain(p, k, lis, np.maximum(lis.u_signup_day, 0))
                                            for k in range(1, len(p.domains))])
    logger.info("world: %d events built (%.1fs)", world.events.height, time.perf_counter() - t0)
    return world


def _with_other_domains(world: World, parts: list[tuple[pl.DataFrame, pl.DataFrame]]) -> World:
    """The music world with the items and plays of other domains (``generate_media.draw_domain``): every item and
    play gains a ``domain`` column; ids and categories become text (each domain's Enums have their own codes)."""
    def plain(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.Enum))
    music = plain(world.events).with_columns(domain=pl.lit("music"), p_from_music=pl.col("p_dislike"))
    events = pl.concat([music, *(e.select(music.columns) for _, e in parts)], how="vertical_relaxed")
    tracks = pl.concat([plain(world.tracks).with_columns(domain=pl.lit("music")), *(t for t, _ in parts)], how="diagonal_relaxed")
    return World(users=world.users, tracks=tracks, events=events.sort("ts", "user_id", "track_id"), params=world.params)


def _draw_catalogue(rng: np.random.Generator, p: WorldParams) -> SimpleNamespace:
    """The genres' centroids in style space, the artists (genre, style, unique name) and the tracks: artist,
    genre and second genre, style, hidden badness and polarity, popularity, release day, duration, audio
    descriptors and title."""
    G = len(GENRES)
    centroids = rng.normal(0, 1.0, (G, DIM))
    genre_p = GENRE_SHARE / GENRE_SHARE.sum()
    n_artists = max(G, p.tracks // 8)
    a_genre = rng.choice(G, n_artists, p=genre_p)
    a_style = centroids[a_genre] + rng.normal(0, 0.55, (n_artists, DIM))
    a_names = _names(rng, a_genre, rng.integers(1, 3, n_artists), 0.6)
    seen: dict[str, int] = {}
    for i, name in enumerate(a_names):  # artist names are unique, as the contract has no artist id
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            a_names[i] = f"{name} {seen[name]}"
    T = p.tracks
    artist_w = rng.pareto(1.2, n_artists) + 1
    t_artist = rng.choice(n_artists, T, p=artist_w / artist_w.sum())
    t_genre = a_genre[t_artist].copy()
    t_style = a_style[t_artist] + rng.normal(0, 0.45, (T, DIM))
    second = np.where(rng.random(T) < 0.3, rng.choice(G, T, p=genre_p), -1)
    t_bad = rng.normal(0, 0.55, T)  # hidden badness: some tracks most listeners dislike
    t_polar = rng.exponential(0.5, T)  # hidden: how strongly taste decides (polarising tracks)
    t_pop = np.exp(rng.normal(0, 1.2, T) - 0.6 * t_bad)  # popularity, a little tied to quality
    t_new = rng.random(T) < p.new_track_share
    t_release_day = np.where(t_new, rng.integers(0, max(p.days, 1), T), -rng.integers(1, 365 * 40, T))
    t_duration = np.clip(np.exp(rng.normal(np.log(215_000), 0.28, T)), 60_000, 900_000).astype(np.int64)
    proj = rng.normal(0, 0.7, (DIM, len(AUDIO)))
    audio = sigmoid(t_style @ proj + rng.normal(0, 0.6, (T, len(AUDIO))))
    tempo = np.clip(118 + 18 * (t_style @ rng.normal(0, 0.5, DIM)) + rng.normal(0, 12, T), 55, 210)
    loudness = np.clip(-8 + 2.5 * (t_style @ rng.normal(0, 0.4, DIM)) + rng.normal(0, 2, T), -40, -0.5)
    titles = _names(rng, t_genre, rng.integers(1, 5, T), 0.45)
    return SimpleNamespace(centroids=centroids, genre_p=genre_p, n_artists=n_artists, a_names=a_names, t_artist=t_artist,
                           t_genre=t_genre, t_style=t_style, second=second, t_bad=t_bad, t_polar=t_polar, t_pop=t_pop,
                           t_release_day=t_release_day, t_duration=t_duration, audio=audio, tempo=tempo, loudness=loudness,
                           titles=titles)


def _draw_listeners(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace) -> SimpleNamespace:
    """The listeners: taste (two favourite genres, mixed) and its drift, pickiness, fatigue, streakiness, rate of
    plays, signup day, product, platform, peak hour, country and birth year."""
    U = p.users
    fav1 = rng.choice(len(GENRES), U, p=cat.genre_p)
    fav2 = rng.choice(len(GENRES), U, p=cat.genre_p)
    mix = rng.uniform(0.5, 1.0, U)[:, None]
    u_taste = mix * cat.centroids[fav1] + (1 - mix) * cat.centroids[fav2] + rng.normal(0, 0.5, (U, DIM))
    u_drift = rng.normal(0, 0.35, (U, DIM))  # taste moves by this over the whole period
    u_picky = rng.normal(0, 0.6, U)
    u_fatigue = np.abs(rng.normal(0.025, 0.02, U))
    u_streak = rng.normal(0.8, 0.35, U)
    u_rate = np.exp(rng.normal(0, 1.0, U))
    u_rate *= p.events_per_user_day / u_rate.mean()
    u_new = rng.random(U) < p.new_user_share
    u_signup_day = np.where(u_new, rng.integers(0, max(p.days, 1), U), -rng.integers(1, 365 * 6, U))
    u_premium = rng.random(U) < 0.45
    u_platform = rng.choice(len(PLATFORMS), U, p=PLATFORM_P)
    u_peak_hour = rng.normal(19, 3.5, U)
    u_country = rng.choice(len(COUNTRIES), U, p=COUNTRY_P)
    u_birth = rng.integers(1955, 2011, U)
    return SimpleNamespace(u_taste=u_taste, u_drift=u_drift, u_picky=u_picky, u_fatigue=u_fatigue, u_streak=u_streak,
                           u_rate=u_rate, u_signup_day=u_signup_day, u_premium=u_premium, u_platform=u_platform,
                           u_peak_hour=u_peak_hour, u_country=u_country, u_birth=u_birth)


class _TasteGenres:
    """A genre per row, drawn by a listener's taste: ``taste(users)``; and the track samplers by genre over the
    catalogue (released before the start), over all tracks, and by artist."""

    def __init__(self, rng: np.random.Generator, lis: SimpleNamespace, cat: SimpleNamespace):
        self.rng, self.u_taste, self.centroids = rng, lis.u_taste, cat.centroids
        G = len(GENRES)
        self.samplers = SimpleNamespace(all=GroupSampler(cat.t_genre, cat.t_pop, G),
                                        catalogue=GroupSampler(cat.t_genre, np.where(cat.t_release_day < 0, cat.t_pop, 0.0), G),
                                        artist=GroupSampler(cat.t_artist, cat.t_pop, cat.n_artists))

    def __call__(self, users: np.ndarray, kappa: float = 1.5) -> np.ndarray:
        # Gumbel-max trick: sample a genre per row from softmax(kappa * taste . centroid);
        # in chunks, so that 10M rows never hold 10M x 12 floats at once
        out = np.empty(len(users), dtype=np.int64)
        for lo in range(0, len(users), CHUNK):
            logits = kappa * (self.u_taste[users[lo : lo + CHUNK]] @ self.centroids.T) / np.sqrt(DIM)
            out[lo : lo + CHUNK] = np.argmax(logits + self.rng.gumbel(size=logits.shape), axis=1)
        return out


def _draw_sessions(rng: np.random.Generator, p: WorldParams, lis: SimpleNamespace, cat: SimpleNamespace,
                   taste: _TasteGenres) -> SimpleNamespace:
    """The sessions (listener, day, start, length, context, shuffle, platform, the artist of an album session)
    and their plays laid out in session-major order (session, position, listener, context, day)."""
    first_day = np.maximum(lis.u_signup_day, 0)
    active_days = np.maximum(p.days - first_day, 0)
    n_sess = rng.poisson(lis.u_rate * active_days / p.mean_session_length)
    s_user = np.repeat(np.arange(p.users), n_sess)
    S = len(s_user)
    s_day = first_day[s_user] + (rng.random(S) * active_days[s_user]).astype(np.int64)
    hour = np.where(rng.random(S) < 0.8, lis.u_peak_hour[s_user] + rng.normal(0, 3, S), rng.uniform(0, 24, S))
    s_start_s = s_day * 86_400 + np.mod(hour, 24) * 3600 + rng.uniform(0, 60, S)
    if p.variant == "moods":  # short bursts and long sessions
        burst = rng.random(S) < 0.4
        s_len = np.where(burst, rng.integers(1, 4, S), np.minimum(rng.geometric(1 / 20, S), p.max_session_length))
    else:
        s_len = np.minimum(1 + rng.geometric(1 / p.mean_session_length, S) - 1, p.max_session_length)
    s_len = np.maximum(s_len, 1)
    s_ctx = rng.choice(len(CONTEXTS), S, p=CONTEXT_P)
    s_shuffle = rng.random(S) < np.where(lis.u_premium[s_user], 0.3, 0.75)
    s_platform = np.where(rng.random(S) < 0.8, lis.u_platform[s_user], rng.choice(len(PLATFORMS), S, p=PLATFORM_P))
    # album sessions stay with one artist, chosen by taste
    s_artist = cat.t_artist[taste.samplers.all.draw(rng, taste(s_user))]
    N = int(s_len.sum())
    e_sess = np.repeat(np.arange(S), s_len)
    sess_first = np.cumsum(s_len) - s_len
    e_pos = np.arange(N) - sess_first[e_sess]
    return SimpleNamespace(n=S, n_events=N, s_user=s_user, s_day=s_day, s_start_s=s_start_s, s_len=s_len, s_ctx=s_ctx,
                           s_shuffle=s_shuffle, s_platform=s_platform, s_artist=s_artist, e_sess=e_sess, sess_first=sess_first,
                           e_pos=e_pos, e_user=s_user[e_sess], e_ctx=s_ctx[e_sess], e_day=s_day[e_sess])


# how a play's track is found, by the session's context: rotation, taste, charts, explore, same artist (album)
ROUTE_P = np.array(
    [
        [0.35, 0.45, 0.10, 0.10, 0.00],  # playlist
        [0.00, 0.00, 0.00, 0.00, 1.00],  # album
        [0.10, 0.45, 0.10, 0.35, 0.00],  # radio
        [0.75, 0.20, 0.00, 0.05, 0.00],  # user_collection
        [0.20, 0.50, 0.20, 0.10, 0.00],  # search
        [0.05, 0.15, 0.75, 0.05, 0.00],  # charts
    ]
)


def _draw_tracks(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace, ses: SimpleNamespace, taste: _TasteGenres,
                 rotation: np.ndarray) -> np.ndarray:
    """Each play's track, by its route (ROUTE_P); ``ses.route`` keeps the route. A track is never played before
    its release: such a draw falls back to the catalogue of its genre."""
    N, samplers = ses.n_events, taste.samplers
    ses.route = (rng.random(N)[:, None] > np.cumsum(ROUTE_P, axis=1)[ses.e_ctx]).sum(axis=1)
    track = np.empty(N, dtype=np.int64)
    m = ses.route == 0
    track[m] = rotation[ses.e_user[m], rng.integers(0, p.rotation_size, m.sum())]
    m = ses.route == 1
    track[m] = samplers.all.draw(rng, taste(ses.e_user[m]))
    m = ses.route == 2
    track[m] = samplers.all.draw(rng, rng.choice(len(GENRES), m.sum(), p=cat.genre_p))  # charts: popular overall
    m = ses.route == 3
    track[m] = samplers.all.draw(rng, rng.integers(0, len(GENRES), m.sum()))
    m = ses.route == 4
    track[m] = samplers.artist.draw(rng, ses.s_artist[ses.e_sess[m]])
    unreleased = cat.t_release_day[track] > ses.e_day
    track[unreleased] = samplers.catalogue.draw(rng, cat.t_genre[track[unreleased]])
    return track


def _base_logit(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace, lis: SimpleNamespace, ses: SimpleNamespace,
                track: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The true dislike logit of each play up to the streak term, and the listener's taste-track affinity.
    In the moods world a session's mood (near the listener's taste, but its own) weighs most."""
    N, e_user, e_day, e_sess = ses.n_events, ses.e_user, ses.e_day, ses.e_sess
    affinity = np.empty(N)
    for lo in range(0, N, CHUNK):  # taste drifts linearly over the period
        sl = slice(lo, lo + CHUNK)
        frac = (e_day[sl] / max(p.days, 1))[:, None]
        taste_now = lis.u_taste[e_user[sl]] + frac * lis.u_drift[e_user[sl]]
        affinity[sl] = np.einsum("ij,ij->i", taste_now, cat.t_style[track[sl]]) / DIM
    e_hour = np.floor(np.mod(ses.s_start_s[e_sess] / 3600, 24))
    late = ((e_hour >= 1) & (e_hour < 6)).astype(np.float64)
    weekday = (np.array([p.start + dt.timedelta(days=int(d)) for d in range(p.days)]).astype("datetime64[D]").view("int64") + 3) % 7
    weekend = (weekday[e_day] >= 5).astype(np.float64)
    fresh = (e_day - cat.t_release_day[track] < 14).astype(np.float64)  # brand-new releases are a gamble
    context = CONTEXT_LOGIT[ses.e_ctx], PLATFORM_LOGIT[ses.s_platform[e_sess]]
    if p.variant == "moods":
        s_mood = 0.5 * lis.u_taste[ses.s_user] + rng.normal(0, 0.9, (ses.n, DIM))
        mood_affinity = np.empty(N)
        for lo in range(0, N, CHUNK):
            sl = slice(lo, lo + CHUNK)
            mood_affinity[sl] = np.einsum("ij,ij->i", s_mood[e_sess[sl]], cat.t_style[track[sl]]) / DIM
        base = (
            -0.9
            + 0.4 * lis.u_picky[e_user]
            + 0.6 * cat.t_bad[track]
            - 0.5 * (1 + cat.t_polar[track]) * affinity
            - 1.4 * mood_affinity
            + 2.0 * lis.u_fatigue[e_user] * ses.e_pos
            - 0.4 * (ses.route == 0)
            + 0.15 * ses.s_shuffle[e_sess]
            + 0.5 * (context[0] + context[1])
            + 0.15 * late
            + 0.2 * fresh
            + 0.2 * (e_day / max(p.days, 1))
        )
    else:
        base = (
            -1.05
            + lis.u_picky[e_user]
            + cat.t_bad[track]
            - 1.1 * (1 + cat.t_polar[track]) * affinity
            + lis.u_fatigue[e_user] * ses.e_pos
            - 0.6 * (ses.route == 0)
            + 0.35 * ses.s_shuffle[e_sess]
            + context[0]
            + context[1]
            + 0.35 * late
            - 0.1 * weekend
            + 0.25 * fresh
            + 0.3 * (e_day / max(p.days, 1))  # slow global drift: listeners grow pickier
        )
    return base, affinity


def _draw_dislikes(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace, lis: SimpleNamespace, ses: SimpleNamespace,
                   track: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each play's true probability and whether it was disliked, position by position within the sessions: a
    dislike makes the next one likelier (the streak); in the moods world mostly an aversion: a track like the
    session's earlier dislikes is disliked more."""
    moods, N, S = p.variant == "moods", ses.n_events, ses.n
    p_true = np.empty(N)
    dislike = np.empty(N, dtype=bool)
    prev = np.zeros(S)
    disliked_style = np.zeros((S, DIM)) if moods else None  # sum of the styles disliked so far in the session
    disliked_n = np.zeros(S)
    draws = rng.random(N)
    for k in range(int(ses.s_len.max()) if S else 0):
        live = np.nonzero(ses.s_len > k)[0]
        idx = ses.sess_first[live] + k
        logit = base[idx] + (0.3 if moods else 1.0) * lis.u_streak[ses.e_user[idx]] * prev[live]
        if moods:
            mean_disliked = disliked_style[live] / np.maximum(disliked_n[live], 1)[:, None]
            logit += 2.5 * np.einsum("ij,ij->i", mean_disliked, cat.t_style[track[idx]]) / DIM
        pk = sigmoid(logit)
        p_true[idx] = pk
        dislike[idx] = draws[idx] < pk
        prev[live] = dislike[idx]
        if moods:
            disliked_style[live] += dislike[idx][:, None] * cat.t_style[track[idx]]
            disliked_n[live] += dislike[idx]
    return p_true, dislike


def _observe(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace, ses: SimpleNamespace, track: np.ndarray,
             dislike: np.ndarray, affinity: np.ndarray) -> SimpleNamespace:
    """What was observed of each play: ms played (a dislike is mostly an early skip, a few are explicit),
    feedback, start and end reasons (codes into REASONS / FEEDBACK: memory at 10M rows), timestamp."""
    N = ses.n_events
    dur = cat.t_duration[track]
    explicit = rng.random(N) < np.where(dislike, 0.04, 0.0)
    early = dislike & ~(explicit & (rng.random(N) < 0.5))  # half of explicit dislikes still play on
    ms_early = rng.integers(1_000, EARLY_SKIP_MS, N)
    late_skip = ~dislike & (rng.random(N) < 0.22)
    ms_late = (EARLY_SKIP_MS + rng.random(N) * (dur - EARLY_SKIP_MS)).astype(np.int64)
    ms_played = np.where(early, ms_early, np.where(late_skip | (dislike & ~early), ms_late, dur))
    liked = ~dislike & (rng.random(N) < 0.015 + 0.05 * (affinity > 0.3))
    feedback = np.where(explicit, 1, np.where(liked, 0, 2)).astype(np.uint8)  # like, dislike, null
    skipped = ms_played < dur
    r = rng.random(N)
    reason_end = np.where(skipped, np.where(r < 0.9, FWD, np.where(r < 0.95, BACK, ENDPLAY)), DONE).astype(np.uint8)
    prev_end = np.roll(reason_end, 1)
    reason_start = np.where(prev_end == ENDPLAY, CLICK, prev_end)
    reason_start = np.where(ses.e_pos == 0, np.where(rng.random(N) < 0.6, CLICK, PLAY), reason_start).astype(np.uint8)
    gap_ms = rng.integers(0, 3_000, N)
    step = ms_played + gap_ms
    within = np.cumsum(step) - step  # time since the session began, reset per session below
    within -= within[ses.sess_first[ses.e_sess]]
    ts_us = (
        (np.datetime64(p.start, "us") - np.datetime64("1970-01-01", "us")).astype(np.int64)
        + (ses.s_start_s[ses.e_sess] * 1e6).astype(np.int64)
        + within * 1000
    )
    return SimpleNamespace(ms_played=ms_played, skipped=skipped, feedback=feedback, reason_start=reason_start,
                           reason_end=reason_end, ts_us=ts_us)


def _tables(rng: np.random.Generator, p: WorldParams, cat: SimpleNamespace, lis: SimpleNamespace, ses: SimpleNamespace,
            track: np.ndarray, p_true: np.ndarray, dislike: np.ndarray, seen: SimpleNamespace) -> World:
    """The world's tables: the events in time order (a listener's sessions may overlap: a repeat of the key
    user, track, ts is dropped), the users and the tracks. Ids and categories are Polars Enums (integer codes
    and one dictionary: 10M rows stay small; Parquet stores them as dictionary-encoded strings)."""
    U, T, S, N = p.users, p.tracks, ses.n, ses.n_events
    ts_us, e_user, e_sess = seen.ts_us, ses.e_user, ses.e_sess
    order = np.lexsort((track, e_user, ts_us))
    dup = np.zeros(N, dtype=bool)
    if N:
        k_ts, k_user, k_track = ts_us[order], e_user[order], track[order]
        dup[1:] = (k_ts[1:] == k_ts[:-1]) & (k_user[1:] == k_user[:-1]) & (k_track[1:] == k_track[:-1])
    order = order[~dup]
    user_ids = [f"u{i:06d}" for i in range(U)]
    track_ids = [f"t{i:06d}" for i in range(T)]
    events = pl.DataFrame(
        {
            "user_id": _enum(user_ids, e_user[order]),
            "track_id": _enum(track_ids, track[order]),
            "ts": pl.Series(ts_us[order]).cast(pl.Datetime("us", "UTC")),
            "ms_played": seen.ms_played[order],
            "skipped": seen.skipped[order],
            "feedback": _enum(FEEDBACK, seen.feedback[order]),
            "reason_start": _enum(REASONS, seen.reason_start[order]),
            "reason_end": _enum(REASONS, seen.reason_end[order]),
            "session_id": _enum([f"s{i:08d}" for i in range(S)], e_sess[order]),
            "session_position": (ses.e_pos[order] + 1).astype(np.int32),
            "context_type": _enum(list(CONTEXTS), ses.e_ctx[order]),
            "platform": _enum(list(PLATFORMS), ses.s_platform[e_sess[order]]),
            "shuffle": ses.s_shuffle[e_sess[order]],
            "p_dislike": p_true[order],
            "dislike": dislike[order],
        }
    )
    start = np.datetime64(p.start, "D")
    users = pl.DataFrame(
        {
            "user_id": _enum(user_ids, np.arange(U)),
            "country": COUNTRIES[lis.u_country],
            "birth_year": lis.u_birth.astype(np.int32),
            "product": np.where(lis.u_premium, "premium", "free"),
            "signup_date": (start + lis.u_signup_day).astype("datetime64[D]"),
        }
    )
    release_date = (start + cat.t_release_day).astype("datetime64[D]")
    genres = [[GENRES[g]] + ([GENRES[s]] if s >= 0 and s != g else []) for g, s in zip(cat.t_genre.tolist(), cat.second.tolist())]
    a_names, t_artist = cat.a_names, cat.t_artist
    tracks = pl.DataFrame(
        {
            "track_id": _enum(track_ids, np.arange(T)),
            "title": cat.titles,
            "artist": [a_names[a] for a in t_artist.tolist()],
            "album": [f"{a_names[a]} Vol. {v}" for a, v in zip(t_artist.tolist(), rng.integers(1, 6, T).tolist())],
            "genres": pl.Series(genres, dtype=pl.List(pl.String)),
            "release_year": release_date.astype("datetime64[Y]").astype(np.int64) + 1970,
            "duration_ms": cat.t_duration,
            **{name: cat.audio[:, i] for i, name in enumerate(AUDIO)},
            "tempo": cat.tempo,
            "loudness": cat.loudness,
            "key": rng.integers(0, 12, T).astype(np.int32),
            "mode": (rng.random(T) < 0.4 + 0.3 * cat.audio[:, 2]).astype(np.int32),
            "time_signature": np.where(rng.random(T) < 0.9, 4, 3).astype(np.int32),
            "release_date": release_date,
        }
    )
    return World(users=users, tracks=tracks, events=events, params=p)


def oracle_auc(world: World, last_days: int | None = None, domain: str | None = None, column: str = "p_dislike") -> float:
    """ROC AUC of the true probability against the drawn labels (the best any model can do), on the plays of
    ``domain`` only when given; ``column="p_from_music"``: of the truth as far as the listener's music tells it."""
    ev = world.events if domain is None else world.events.filter(pl.col("domain") == domain)
    if last_days is not None:
        cutoff = cutoff_of(world.params.start + dt.timedelta(days=world.params.days - last_days))
        ev = ev.filter(pl.col("ts") >= cutoff)
    return roc_auc(ev["dislike"].to_numpy(), ev[column].to_numpy())


def write_world(world: World, out: Path) -> dict:
    """Write landing/ (contract files as they would arrive, by day) and truth/ under ``out``.

    Layout::

        landing/users/users_<date>.parquet    users who signed up that day (the base: the day before start)
        landing/tracks/tracks_<date>.parquet  tracks released that day (the catalogue: the day before start)
        landing/events/events_<date>.parquet  the day's plays
        truth/truth.parquet                   user_id, track_id, ts, p_dislike, dislike (+ domain, p_from_music)
        truth/world.json                      parameters, sizes, oracle AUCs

    Returns:
        The summary written to world.json.
    """
    p = world.params
    out = Path(out)
    landing = out / "landing"
    for sub in ("users", "tracks", "events"):
        (landing / sub).mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    base_day = p.start - dt.timedelta(days=1)

    def arrival(col: str) -> pl.Expr:
        return pl.when(pl.col(col) < p.start).then(pl.lit(base_day)).otherwise(pl.col(col)).alias("_arrival")

    users = world.users.with_columns(arrival("signup_date"))
    for (day,), part in users.partition_by("_arrival", as_dict=True, maintain_order=True).items():
        part.drop("_arrival").write_parquet(landing / "users" / f"users_{day}.parquet")
    tracks = world.tracks.with_columns(arrival("release_date"))
    for (day,), part in tracks.partition_by("_arrival", as_dict=True, maintain_order=True).items():
        part.drop("_arrival", "release_date").write_parquet(landing / "tracks" / f"tracks_{day}.parquet")

    ev = world.events.with_columns(pl.col("ts").dt.date().alias("_day"))
    contract = [c for c in ev.columns if c not in ("p_dislike", "p_from_music", "dislike", "_day")]
    for (day,), part in ev.partition_by("_day", as_dict=True, maintain_order=True).items():
        part.select(contract).write_parquet(landing / "events" / f"events_{day}.parquet")
    # with other domains: each play's domain and p_from_music (generate_media: the truth as far as the listener's
    # music tells it; a music play's own truth)
    truth = ["user_id", "track_id", "ts", "p_dislike", "dislike"] + (["domain", "p_from_music"] if len(p.domains) > 1 else [])
    world.events.select(truth).write_parquet(out / "truth" / "truth.parquet")

    summary = {
        "params": {k: str(v) if isinstance(v, dt.date) else list(v) if isinstance(v, tuple) else v for k, v in asdict(p).items()},
        "n_users": world.users.height,
        "n_tracks": world.tracks.height,
        "n_events": world.events.height,
        "dislike_rate": float(world.events["dislike"].mean()) if world.events.height else None,
        "oracle_roc_auc": oracle_auc(world),
        "oracle_roc_auc_last_7_days": oracle_auc(world, last_days=7),
    }
    if len(p.domains) > 1:
        summary["by_domain"] = {d: {"n_items": world.tracks.filter(pl.col("domain") == d).height,
                                    "n_events": world.events.filter(pl.col("domain") == d).height,
                                    "oracle_roc_auc": oracle_auc(world, domain=d),
                                    "oracle_roc_auc_last_7_days": oracle_auc(world, last_days=7, domain=d),
                                    "oracle_from_music_roc_auc": oracle_auc(world, domain=d, column="p_from_music")}
                              for d in p.domains}
    (out / "truth" / "world.json").write_text(json.dumps(summary, indent=2))
    return summary


def generate(out: Path, params: WorldParams) -> dict:
    """Build and write a world; the function behind ``skipify generate``."""
    t0 = time.perf_counter()
    world = build_world(params)
    summary = write_world(world, out)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary
