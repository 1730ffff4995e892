-- grain: user_id, genre
-- features.user_genre: per listener, genre and day, the listener's past with that genre as of the
-- start of the day (features.state_user_genre): plays, dislike rate smoothed towards $prior (feature_prior, 0.3), days since the last.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ug_plays | Listener's plays of this genre | How often the listener played this genre before the row's day.
-- feature ug_dislike_rate | Listener's dislike rate for this genre | Share of the listener's earlier plays of this genre that were dislikes or early skips, smoothed towards 0.3.
-- feature ug_days_since_last | Days since the listener last played this genre | Days from the listener's last play of this genre to the row's day (empty if never).
-- feature hx_genre_plays | Listener's recent plays of this genre | How many of the listener's last plays (up to 50) before the row's day were of the track's genre.
-- feature hx_genre_dislike_share | Listener's recent dislike share for this genre | Share of the listener's last plays of the track's genre that ended in a dislike or an early skip.
--
-- hx_genre_*: among the listener's last $history_len plays before the day (families/50_listening_history.sql),
-- those of the genre: the running counts before the day (the state) less those at the last play of the genre
-- numbered h_until - $history_len or lower (features.labels.n_genre, n_genre_dislikes, read by an ASOF join).
with keys as (
    select distinct user_id, genre, day from fx_rows_out
),

totals as (
    select
        k.user_id, k.genre, k.day,
        coalesce(u.plays, 0) as h_until,
        coalesce(a.plays, 0) as plays,
        coalesce(a.dislikes, 0) as dislikes,
        a.day as last_day
    from keys as k
    asof left join fx_state_user as u on u.user_id = k.user_id and k.day > u.day
    asof left join fx_state_user_genre as a on a.user_id = k.user_id and a.genre = k.genre and k.day > a.day
),

-- the running counts of these listeners' plays that a row can reach: numbered at most h_until - $history_len of
-- one of the listener's rows (a later play is among the last $history_len before every row: never the match)
reach as (
    select user_id, max(h_until) - $history_len as top from totals group by user_id
),

counts as (
    select c.user_id, c.genre, c.n, c.n_genre, c.n_genre_dislikes
    from features.labels as c join reach as r on r.user_id = c.user_id and c.n <= r.top
),

recent as (
    select
        t.*,
        t.plays - coalesce(c.n_genre, 0) as recent_plays,
        t.dislikes - coalesce(c.n_genre_dislikes, 0) as recent_dislikes
    from totals as t
    asof left join counts as c on c.user_id = t.user_id and c.genre = t.genre and t.h_until - $history_len >= c.n
)

select
    r.user_id,
    r.genre,
    r.day,
    r.plays as ug_plays,
    (r.dislikes + $prior * $smoothing) / (r.plays + $smoothing) as ug_dislike_rate,
    r.day - r.last_day as ug_days_since_last,
    r.recent_plays::bigint as hx_genre_plays,
    r.recent_dislikes / nullif(r.recent_plays, 0) as hx_genre_dislike_share
from recent as r
