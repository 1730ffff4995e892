"""Other media in the planted-truth world: a second domain (podcast episodes, audiobook chapters or videos)
beside the music, listened to by the same listeners, far less often, with its own known true probability.

    $ skipify generate --out /tmp/world2 --domains music,podcast --coupling 0.6 --other-plays 20

How a second domain is drawn (docs/world.md, "Other media"):

* its own catalogue: categories (news, comedy, ... for podcasts), each a centroid in a style space of its own;
  shows near their category's centroid, items (episodes) near their show; an item's hidden badness,
  polarity, popularity, release day and duration, as for tracks;
* each listener's taste there is **coupled to their music taste by rho**: the music taste, standardised and
  carried into the other space by a fixed random rotation, times rho, plus independent noise times
  sqrt(1 - rho^2); their pickiness there likewise. rho = 0: the two domains say nothing of each other;
* a listener plays ``other_plays_per_user`` items over the whole period on average (fewer when they sign up
  late), one item a session, found by taste (60%), from the charts (25%) or exploring (15%);
* the true dislike logit: pickiness, the item's badness, minus the taste-item affinity (scaled by its
  polarity), the platform; a dislike shows up as an abandon before the domain's threshold (ABANDON_MS, the
  configuration's defaults) or, rarely, an explicit 'dislike'; other plays run past it, many to the end.

The music world is drawn first and exactly as without other domains (the second domain draws from a generator
of its own), so a world with two domains holds the one-domain world's music plays, bit for bit.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from skipify import generate as g

# What an early abandon is in each domain the world can draw: the configuration's defaults
# (Config.label_skip_threshold_ms, label_domain_abandon_ms), so that the drawn dislike is the label.
ABANDON_MS = {"music": g.EARLY_SKIP_MS, "podcast": 120_000, "audiobook": 120_000, "video": 15_000}
CATEGORIES = {
    "podcast": ["news", "comedy", "true crime", "sports", "business", "science", "history", "society"],
    "audiobook": ["fiction", "mystery", "fantasy", "biography", "self help", "history", "science", "romance"],
    "video": ["music video", "gaming", "comedy", "education", "sports", "travel", "food", "news"],
}
WORDS = "show talk story hour week daily inside deep dive brief weekly chapter notes guide life case".split()
DURATION_MS = {"podcast": 35 * 60_000, "audiobook": 15 * 60_000, "video": 4 * 60_000}  # the median item
ID_PREFIX = {"podcast": "e", "audiobook": "c", "video": "v"}
ROUTES = ("user_collection", "charts", "search")  # taste, charts, explore: the plays' context_type
ROUTE_P = np.array([0.60, 0.25, 0.15])


def coupled(rng: np.random.Generator, music: np.ndarray, rho: float, rotation: np.ndarray | None = None) -> np.ndarray:
    """A trait in another domain: ``rho`` times the music trait (standardised over the listeners, rotated into
    the other space when ``rotation`` is given) plus ``sqrt(1 - rho^2)`` times independent standard noise.
    Each column has unit variance, and its correlation with the (rotated) music trait is ``rho``."""
    known = from_music(music, rho, rotation)
    return known + np.sqrt(1 - rho**2) * rng.normal(0, 1, known.shape)


def from_music(music: np.ndarray, rho: float, rotation: np.ndarray | None = None) -> np.ndarray:
    """What the music trait tells of the trait in the other domain (:func:`coupled` without its noise: its
    expectation given the music trait)."""
    z = (music - music.mean(axis=0)) / np.maximum(music.std(axis=0), 1e-12)
    return rho * (z @ rotation if rotation is not None else z)


def draw_domain(p: "g.WorldParams", domain: int, lis, first_user_day: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The items of ``p.domains[domain]`` and their plays, with their true probability (columns as the music
    world's tracks and events, ids as text)."""
    name = p.domains[domain]
    rng = np.random.default_rng([p.seed, domain])
    cats = CATEGORIES[name]
    C, D, U = len(cats), g.DIM, p.users
    E = p.other_items if p.other_items is not None else max(C, p.tracks // 4)
    # the catalogue: categories, shows, items
    centroids = rng.normal(0, 1.0, (C, D))
    n_shows = max(C, E // 10)
    show_cat = rng.integers(0, C, n_shows)
    show_style = centroids[show_cat] + rng.normal(0, 0.55, (n_shows, D))
    show_w = rng.pareto(1.2, n_shows) + 1
    item_show = rng.choice(n_shows, E, p=show_w / show_w.sum())
    item_cat = show_cat[item_show]
    item_style = show_style[item_show] + rng.normal(0, 0.45, (E, D))
    item_bad = rng.normal(0, 0.55, E)
    item_polar = rng.exponential(0.5, E)
    item_pop = np.exp(rng.normal(0, 1.2, E) - 0.6 * item_bad)
    item_release = np.where(rng.random(E) < 0.15, rng.integers(0, max(p.days, 1), E), -rng.integers(1, 365 * 5, E))
    duration = np.clip(np.exp(rng.normal(np.log(DURATION_MS[name]), 0.4, E)), 2 * ABANDON_MS[name], 6 * 3_600_000).astype(np.int64)
    # the listeners there: taste and pickiness coupled to music's
    rotation, _ = np.linalg.qr(rng.normal(0, 1, (D, D)))
    taste = coupled(rng, lis.u_taste, p.coupling, rotation)
    picky = 0.6 * coupled(rng, lis.u_picky[:, None], p.coupling)[:, 0]
    # the plays: one item a session, on a day the listener is there
    active = np.maximum(p.days - first_user_day, 0)
    n_plays = rng.poisson(p.other_plays_per_user * active / max(p.days, 1))
    e_user = np.repeat(np.arange(U), n_plays)
    N = len(e_user)
    e_day = first_user_day[e_user] + (rng.random(N) * active[e_user]).astype(np.int64)
    hour = np.mod(lis.u_peak_hour[e_user] + rng.normal(0, 3, N), 24)
    route = (rng.random(N)[:, None] > np.cumsum(ROUTE_P)).sum(axis=1)
    logits = taste[e_user] @ centroids.T / np.sqrt(D) * 1.5
    by_taste = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    cat_share = np.bincount(item_cat, minlength=C) + 1.0
    category = np.where(route == 0, by_taste, np.where(route == 1, rng.choice(C, N, p=cat_share / cat_share.sum()),
                                                       rng.integers(0, C, N)))
    released = g.GroupSampler(item_cat, np.where(item_release < 0, item_pop, 0.0), C)
    item = g.GroupSampler(item_cat, item_pop, C).draw(rng, category)
    late = item_release[item] > e_day
    item[late] = released.draw(rng, category[late])
    platform = lis.u_platform[e_user]
    def logit_of(taste: np.ndarray, picky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        affinity = np.einsum("ij,ij->i", taste[e_user], item_style[item]) / D
        return -1.0 + picky[e_user] + item_bad[item] - 1.1 * (1 + item_polar[item]) * affinity + g.PLATFORM_LOGIT[platform], affinity

    logit, affinity = logit_of(taste, picky)
    p_true = g.sigmoid(logit)
    # the truth as far as the listener's music tells it: their taste and pickiness here at what music says of them
    # (the noise of the coupling unknown); the best a model could do that knew everything but this domain's plays
    p_from_music = g.sigmoid(logit_of(from_music(lis.u_taste, p.coupling, rotation),
                                      0.6 * from_music(lis.u_picky[:, None], p.coupling)[:, 0])[0])
    dislike = rng.random(N) < p_true
    # what was observed
    dur, cut = duration[item], ABANDON_MS[name]
    explicit = rng.random(N) < np.where(dislike, 0.04, 0.0)
    early = dislike & ~(explicit & (rng.random(N) < 0.5))
    ms_early = rng.integers(3_000, cut, N)
    ms_part = (cut + rng.random(N) * (dur - cut)).astype(np.int64)
    ms_played = np.where(early, ms_early, np.where((rng.random(N) < 0.45) | (dislike & ~early), ms_part, dur))
    liked = ~dislike & (rng.random(N) < 0.02 + 0.05 * (affinity > 0.3))
    skipped = ms_played < dur
    start_s = e_day * 86_400 + hour * 3600 + rng.uniform(0, 60, N)
    ts_us = (np.datetime64(p.start, "us") - np.datetime64("1970-01-01", "us")).astype(np.int64) + (start_s * 1e6).astype(np.int64)
    ids = [f"{ID_PREFIX[name]}{i:06d}" for i in range(E)]
    events = pl.DataFrame({
        "user_id": [f"u{u:06d}" for u in e_user.tolist()],
        "track_id": [ids[i] for i in item.tolist()],
        "ts": pl.Series(ts_us).cast(pl.Datetime("us", "UTC")),
        "ms_played": ms_played,
        "skipped": skipped,
        "feedback": pl.Series(np.where(explicit, "dislike", np.where(liked, "like", ""))).replace("", None),
        "reason_start": np.where(rng.random(N) < 0.6, "clickrow", "playbtn"),
        "reason_end": np.where(skipped, np.where(rng.random(N) < 0.6, "fwdbtn", "endplay"), "trackdone"),
        "session_id": [f"{ID_PREFIX[name]}s{i:08d}" for i in range(N)],
        "session_position": np.ones(N, dtype=np.int32),
        "context_type": np.array(ROUTES)[route],
        "platform": g.PLATFORMS[platform],
        "shuffle": np.zeros(N, dtype=bool),
        "p_dislike": p_true,
        "p_from_music": p_from_music,
        "dislike": dislike,
        "domain": [name] * N,
    }).unique(["user_id", "track_id", "ts"], keep="first", maintain_order=True)
    show_names = [f"The {cats[c].title()} {WORDS[rng.integers(len(WORDS))].title()} {s}" for s, c in enumerate(show_cat.tolist())]
    hosts = [f"Host {h}" for h in rng.integers(0, max(n_shows // 2, 1), n_shows).tolist()]
    start = np.datetime64(p.start, "D")
    release_date = (start + item_release).astype("datetime64[D]")
    items = pl.DataFrame({
        "track_id": ids,
        "title": [f"{show_names[s]}: {' '.join(WORDS[w] for w in rng.integers(0, len(WORDS), 3).tolist())} #{i}"
                  for i, s in enumerate(item_show.tolist())],
        "artist": [hosts[s] for s in item_show.tolist()],
        "genres": pl.Series([[cats[c]] for c in item_cat.tolist()], dtype=pl.List(pl.String)),
        "release_year": release_date.astype("datetime64[Y]").astype(np.int64) + 1970,
        "duration_ms": duration,
        "domain": [name] * E,
        "show_name": [show_names[s] for s in item_show.tolist()],
        "publisher": [f"{cats[c].title()} Media" for c in show_cat[item_show].tolist()],
        "release_date": release_date,
    })
    return items, events
