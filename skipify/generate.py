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

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown world variant {self.variant!r}; choose from {', '.join(VARIANTS)}")


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


def _sigmoid(x: np.ndarray) -> np.ndarray:
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


class _GroupSampler:
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
    """Draw a whole world. Same params (seed included) give the same world, bit for bit."""
    rng = np.random.default_rng(p.seed)
    t0 = time.perf_counter()
    G = len(GENRES)
    centroids = rng.normal(0, 1.0, (G, DIM))
    genre_p = GENRE_SHARE / GENRE_SHARE.sum()

    # artists ------------------------------------------------------------------------------
    n_artists = max(G, p.tracks // 8)
    a_genre = rng.choice(G, n_artists, p=genre_p)
    a_style = centroids[a_genre] + rng.normal(0, 0.55, (n_artists, DIM))
    a_names = _names(rng, a_genre, rng.integers(1, 3, n_artists), 0.6)
    seen: dict[str, int] = {}
    for i, name in enumerate(a_names):  # artist names are unique, as the contract has no artist id
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            a_names[i] = f"{name} {seen[name]}"

    # tracks --------------------------------------------------------------------------------
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
    audio = _sigmoid(t_style @ proj + rng.normal(0, 0.6, (T, len(AUDIO))))
    tempo = np.clip(118 + 18 * (t_style @ rng.normal(0, 0.5, DIM)) + rng.normal(0, 12, T), 55, 210)
    loudness = np.clip(-8 + 2.5 * (t_style @ rng.normal(0, 0.4, DIM)) + rng.normal(0, 2, T), -40, -0.5)
    titles = _names(rng, t_genre, rng.integers(1, 5, T), 0.45)

    # users ---------------------------------------------------------------------------------
    U = p.users
    fav1 = rng.choice(G, U, p=genre_p)
    fav2 = rng.choice(G, U, p=genre_p)
    mix = rng.uniform(0.5, 1.0, U)[:, None]
    u_taste = mix * centroids[fav1] + (1 - mix) * centroids[fav2] + rng.normal(0, 0.5, (U, DIM))
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

    # samplers: by genre over released-before-start tracks (catalogue) and over all tracks
    catalogue = t_release_day < 0
    genre_all = _GroupSampler(t_genre, t_pop, G)
    genre_cat = _GroupSampler(t_genre, np.where(catalogue, t_pop, 0.0), G)
    artist_all = _GroupSampler(t_artist, t_pop, n_artists)

    def taste_genres(users: np.ndarray, kappa: float = 1.5) -> np.ndarray:
        # Gumbel-max trick: sample a genre per row from softmax(kappa * taste . centroid);
        # in chunks, so that 10M rows never hold 10M x 12 floats at once
        out = np.empty(len(users), dtype=np.int64)
        for lo in range(0, len(users), CHUNK):
            logits = kappa * (u_taste[users[lo : lo + CHUNK]] @ centroids.T) / np.sqrt(DIM)
            out[lo : lo + CHUNK] = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
        return out

    # rotation: each user's favourite catalogue tracks
    rot_users = np.repeat(np.arange(U), p.rotation_size)
    rotation = genre_cat.draw(rng, taste_genres(rot_users)).reshape(U, p.rotation_size)
    logger.info("world: %d users, %d tracks, %d artists drawn (%.1fs)", U, T, n_artists, time.perf_counter() - t0)

    # sessions ---------------------------------------------------------------------------
    first_day = np.maximum(u_signup_day, 0)
    active_days = np.maximum(p.days - first_day, 0)
    n_sess = rng.poisson(u_rate * active_days / p.mean_session_length)
    s_user = np.repeat(np.arange(U), n_sess)
    S = len(s_user)
    s_day = first_day[s_user] + (rng.random(S) * active_days[s_user]).astype(np.int64)
    hour = np.where(rng.random(S) < 0.8, u_peak_hour[s_user] + rng.normal(0, 3, S), rng.uniform(0, 24, S))
    s_start_s = s_day * 86_400 + np.mod(hour, 24) * 3600 + rng.uniform(0, 60, S)
    moods = p.variant == "moods"
    if moods:  # short bursts and long sessions
        burst = rng.random(S) < 0.4
        s_len = np.where(burst, rng.integers(1, 4, S), np.minimum(rng.geometric(1 / 20, S), p.max_session_length))
    else:
        s_len = np.minimum(1 + rng.geometric(1 / p.mean_session_length, S) - 1, p.max_session_length)
    s_len = np.maximum(s_len, 1)
    s_ctx = rng.choice(len(CONTEXTS), S, p=CONTEXT_P)
    s_shuffle = rng.random(S) < np.where(u_premium[s_user], 0.3, 0.75)
    s_platform = np.where(rng.random(S) < 0.8, u_platform[s_user], rng.choice(len(PLATFORMS), S, p=PLATFORM_P))
    # album sessions stay with one artist, chosen by taste
    s_seed_track = genre_all.draw(rng, taste_genres(s_user))
    s_artist = t_artist[s_seed_track]

    # events, in session-major order --------------------------------------------------------
    N = int(s_len.sum())
    e_sess = np.repeat(np.arange(S), s_len)
    sess_first = np.cumsum(s_len) - s_len
    e_pos = np.arange(N) - sess_first[e_sess]
    e_user = s_user[e_sess]
    e_ctx = s_ctx[e_sess]
    e_day = s_day[e_sess]
    logger.info("world: %d sessions, %d events laid out (%.1fs)", S, N, time.perf_counter() - t0)

    # route by context: 0 rotation, 1 taste, 2 charts, 3 explore, 4 same artist (album)
    route_p = np.array(
        [
            [0.35, 0.45, 0.10, 0.10, 0.00],  # playlist
            [0.00, 0.00, 0.00, 0.00, 1.00],  # album
            [0.10, 0.45, 0.10, 0.35, 0.00],  # radio
            [0.75, 0.20, 0.00, 0.05, 0.00],  # user_collection
            [0.20, 0.50, 0.20, 0.10, 0.00],  # search
            [0.05, 0.15, 0.75, 0.05, 0.00],  # charts
        ]
    )
    cum = np.cumsum(route_p, axis=1)
    e_route = (rng.random(N)[:, None] > cum[e_ctx]).sum(axis=1)
    track = np.empty(N, dtype=np.int64)
    m = e_route == 0
    track[m] = rotation[e_user[m], rng.integers(0, p.rotation_size, m.sum())]
    m = e_route == 1
    track[m] = genre_all.draw(rng, taste_genres(e_user[m]))
    m = e_route == 2
    track[m] = genre_all.draw(rng, rng.choice(G, m.sum(), p=genre_p))  # charts: popular overall
    m = e_route == 3
    track[m] = genre_all.draw(rng, rng.integers(0, G, m.sum()))
    m = e_route == 4
    track[m] = artist_all.draw(rng, s_artist[e_sess[m]])
    # a track cannot be played before its release: fall back to the catalogue of its genre
    unreleased = t_release_day[track] > e_day
    track[unreleased] = genre_cat.draw(rng, t_genre[track[unreleased]])

    # the true dislike probability, up to the streak term -----------------------------------
    affinity = np.empty(N)
    for lo in range(0, N, CHUNK):  # taste drifts linearly over the period
        sl = slice(lo, lo + CHUNK)
        frac = (e_day[sl] / max(p.days, 1))[:, None]
        taste_now = u_taste[e_user[sl]] + frac * u_drift[e_user[sl]]
        affinity[sl] = np.einsum("ij,ij->i", taste_now, t_style[track[sl]]) / DIM
    e_hour = np.floor(np.mod(s_start_s[e_sess] / 3600, 24))
    late = ((e_hour >= 1) & (e_hour < 6)).astype(np.float64)
    weekday = (np.array([p.start + dt.timedelta(days=int(d)) for d in range(p.days)]).astype("datetime64[D]").view("int64") + 3) % 7
    weekend = (weekday[e_day] >= 5).astype(np.float64)
    track_age_days = e_day - t_release_day[track]
    fresh = (track_age_days < 14).astype(np.float64)  # brand-new releases are a gamble
    if moods:
        # a session's mood: near the listener's taste, but its own; the dislike reads the track against it
        s_mood = 0.5 * u_taste[s_user] + rng.normal(0, 0.9, (S, DIM))
        mood_affinity = np.empty(N)
        for lo in range(0, N, CHUNK):
            sl = slice(lo, lo + CHUNK)
            mood_affinity[sl] = np.einsum("ij,ij->i", s_mood[e_sess[sl]], t_style[track[sl]]) / DIM
        base = (
            -0.9
            + 0.4 * u_picky[e_user]
            + 0.6 * t_bad[track]
            - 0.5 * (1 + t_polar[track]) * affinity
            - 1.4 * mood_affinity
            + 2.0 * u_fatigue[e_user] * e_pos
            - 0.4 * (e_route == 0)
            + 0.15 * s_shuffle[e_sess]
            + 0.5 * (CONTEXT_LOGIT[e_ctx] + PLATFORM_LOGIT[s_platform[e_sess]])
            + 0.15 * late
            + 0.2 * fresh
            + 0.2 * (e_day / max(p.days, 1))
        )
        del mood_affinity
    else:
        base = (
            -1.05
            + u_picky[e_user]
            + t_bad[track]
            - 1.1 * (1 + t_polar[track]) * affinity
            + u_fatigue[e_user] * e_pos
            - 0.6 * (e_route == 0)
            + 0.35 * s_shuffle[e_sess]
            + CONTEXT_LOGIT[e_ctx]
            + PLATFORM_LOGIT[s_platform[e_sess]]
            + 0.35 * late
            - 0.1 * weekend
            + 0.25 * fresh
            + 0.3 * (e_day / max(p.days, 1))  # slow global drift: listeners grow pickier
        )

    # streaks: a dislike makes the next one in the session likelier (sequential by position); in the
    # moods world mostly an aversion: a track like the session's earlier dislikes is disliked more
    p_true = np.empty(N)
    dislike = np.empty(N, dtype=bool)
    prev = np.zeros(S)
    disliked_style = np.zeros((S, DIM)) if moods else None  # sum of the styles disliked so far in the session
    disliked_n = np.zeros(S)
    draws = rng.random(N)
    for k in range(int(s_len.max()) if S else 0):
        live = np.nonzero(s_len > k)[0]
        idx = sess_first[live] + k
        logit = base[idx] + (0.3 if moods else 1.0) * u_streak[e_user[idx]] * prev[live]
        if moods:
            mean_disliked = disliked_style[live] / np.maximum(disliked_n[live], 1)[:, None]
            logit += 2.5 * np.einsum("ij,ij->i", mean_disliked, t_style[track[idx]]) / DIM
        pk = _sigmoid(logit)
        p_true[idx] = pk
        dislike[idx] = draws[idx] < pk
        prev[live] = dislike[idx]
        if moods:
            disliked_style[live] += dislike[idx][:, None] * t_style[track[idx]]
            disliked_n[live] += dislike[idx]
    logger.info("world: dislike rate %.3f (%.1fs)", dislike.mean() if N else float("nan"), time.perf_counter() - t0)

    # what was observed: ms_played, feedback, reasons, timestamps -----------------------------
    dur = t_duration[track]
    explicit = rng.random(N) < np.where(dislike, 0.04, 0.0)
    early = dislike & ~(explicit & (rng.random(N) < 0.5))  # half of explicit dislikes still play on
    ms_early = rng.integers(1_000, EARLY_SKIP_MS, N)
    late_skip = ~dislike & (rng.random(N) < 0.22)
    ms_late = (EARLY_SKIP_MS + rng.random(N) * (dur - EARLY_SKIP_MS)).astype(np.int64)
    ms_played = np.where(early, ms_early, np.where(late_skip | (dislike & ~early), ms_late, dur))
    liked = ~dislike & (rng.random(N) < 0.015 + 0.05 * (affinity > 0.3))
    # categorical fields as small integer codes into the REASONS / FEEDBACK lists (memory: 10M rows)
    feedback = np.where(explicit, 1, np.where(liked, 0, 2)).astype(np.uint8)  # like, dislike, null
    skipped = ms_played < dur
    r = rng.random(N)
    reason_end = np.where(skipped, np.where(r < 0.9, FWD, np.where(r < 0.95, BACK, ENDPLAY)), DONE).astype(np.uint8)
    prev_end = np.roll(reason_end, 1)
    reason_start = np.where(prev_end == ENDPLAY, CLICK, prev_end)
    reason_start = np.where(e_pos == 0, np.where(rng.random(N) < 0.6, CLICK, PLAY), reason_start).astype(np.uint8)
    del r, prev_end, ms_early, ms_late, late_skip, early, explicit, liked, base, draws
    gap_ms = rng.integers(0, 3_000, N)
    step = ms_played + gap_ms
    within = np.cumsum(step) - step  # time since the session began, reset per session below
    within -= within[sess_first[e_sess]]
    ts_us = (
        (np.datetime64(p.start, "us") - np.datetime64("1970-01-01", "us")).astype(np.int64)
        + (s_start_s[e_sess] * 1e6).astype(np.int64)
        + within * 1000
    )

    # order by time; a user's sessions may overlap, so drop any repeat of the key (user, track, ts)
    order = np.lexsort((track, e_user, ts_us))
    dup = np.zeros(N, dtype=bool)
    if N:
        k_ts, k_user, k_track = ts_us[order], e_user[order], track[order]
        dup[1:] = (k_ts[1:] == k_ts[:-1]) & (k_user[1:] == k_user[:-1]) & (k_track[1:] == k_track[:-1])
        del k_ts, k_user, k_track
    order = order[~dup]

    user_ids = [f"u{i:06d}" for i in range(U)]
    track_ids = [f"t{i:06d}" for i in range(T)]
    # ids and categories are Polars Enums (integer codes + one dictionary): 10M rows stay small,
    # and Parquet stores them as dictionary-encoded strings
    events = pl.DataFrame(
        {
            "user_id": _enum(user_ids, e_user[order]),
            "track_id": _enum(track_ids, track[order]),
            "ts": pl.Series(ts_us[order]).cast(pl.Datetime("us", "UTC")),
            "ms_played": ms_played[order],
            "skipped": skipped[order],
            "feedback": _enum(FEEDBACK, feedback[order]),
            "reason_start": _enum(REASONS, reason_start[order]),
            "reason_end": _enum(REASONS, reason_end[order]),
            "session_id": _enum([f"s{i:08d}" for i in range(S)], e_sess[order]),
            "session_position": (e_pos[order] + 1).astype(np.int32),
            "context_type": _enum(list(CONTEXTS), e_ctx[order]),
            "platform": _enum(list(PLATFORMS), s_platform[e_sess[order]]),
            "shuffle": s_shuffle[e_sess[order]],
            "p_dislike": p_true[order],
            "dislike": dislike[order],
        }
    )

    start = np.datetime64(p.start, "D")
    users = pl.DataFrame(
        {
            "user_id": _enum(user_ids, np.arange(U)),
            "country": COUNTRIES[u_country],
            "birth_year": u_birth.astype(np.int32),
            "product": np.where(u_premium, "premium", "free"),
            "signup_date": (start + u_signup_day).astype("datetime64[D]"),
        }
    )
    release_date = (start + t_release_day).astype("datetime64[D]")
    genres = [[GENRES[g]] + ([GENRES[s]] if s >= 0 and s != g else []) for g, s in zip(t_genre.tolist(), second.tolist())]
    tracks = pl.DataFrame(
        {
            "track_id": _enum(track_ids, np.arange(T)),
            "title": titles,
            "artist": [a_names[a] for a in t_artist.tolist()],
            "album": [f"{a_names[a]} Vol. {v}" for a, v in zip(t_artist.tolist(), rng.integers(1, 6, T).tolist())],
            "genres": pl.Series(genres, dtype=pl.List(pl.String)),
            "release_year": release_date.astype("datetime64[Y]").astype(np.int64) + 1970,
            "duration_ms": t_duration,
            **{name: audio[:, i] for i, name in enumerate(AUDIO)},
            "tempo": tempo,
            "loudness": loudness,
            "key": rng.integers(0, 12, T).astype(np.int32),
            "mode": (rng.random(T) < 0.4 + 0.3 * audio[:, 2]).astype(np.int32),
            "time_signature": np.where(rng.random(T) < 0.9, 4, 3).astype(np.int32),
            "release_date": release_date,
        }
    )
    logger.info("world: %d events built (%.1fs)", events.height, time.perf_counter() - t0)
    return World(users=users, tracks=tracks, events=events, params=p)


def oracle_auc(world: World, last_days: int | None = None) -> float:
    """ROC AUC of the true probability against the drawn labels (the best any model can do)."""
    ev = world.events
    if last_days is not None:
        cutoff = cutoff_of(world.params.start + dt.timedelta(days=world.params.days - last_days))
        ev = ev.filter(pl.col("ts") >= cutoff)
    return roc_auc(ev["dislike"].to_numpy(), ev["p_dislike"].to_numpy())


def write_world(world: World, out: Path) -> dict:
    """Write landing/ (contract files as they would arrive, by day) and truth/ under ``out``.

    Layout::

        landing/users/users_<date>.parquet    users who signed up that day (the base: the day before start)
        landing/tracks/tracks_<date>.parquet  tracks released that day (the catalogue: the day before start)
        landing/events/events_<date>.parquet  the day's plays
        truth/truth.parquet                   user_id, track_id, ts, p_dislike, dislike
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
    contract = [c for c in ev.columns if c not in ("p_dislike", "dislike", "_day")]
    for (day,), part in ev.partition_by("_day", as_dict=True, maintain_order=True).items():
        part.select(contract).write_parquet(landing / "events" / f"events_{day}.parquet")
    world.events.select("user_id", "track_id", "ts", "p_dislike", "dislike").write_parquet(out / "truth" / "truth.parquet")

    summary = {
        "params": {k: str(v) if isinstance(v, dt.date) else v for k, v in asdict(p).items()},
        "n_users": world.users.height,
        "n_tracks": world.tracks.height,
        "n_events": world.events.height,
        "dislike_rate": float(world.events["dislike"].mean()) if world.events.height else None,
        "oracle_roc_auc": oracle_auc(world),
        "oracle_roc_auc_last_7_days": oracle_auc(world, last_days=7),
    }
    (out / "truth" / "world.json").write_text(json.dumps(summary, indent=2))
    return summary


def generate(out: Path, params: WorldParams) -> dict:
    """Build and write a world; the function behind ``skipify generate``."""
    t0 = time.perf_counter()
    world = build_world(params)
    summary = write_world(world, out)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary
