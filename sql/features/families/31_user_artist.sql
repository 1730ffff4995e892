-- grain: user_id, artist
-- features.user_artist: per listener, artist and day, the listener's past with that artist as of the
-- start of the day (features.state_user_artist): plays, dislike rate smoothed towards $prior (feature_prior, 0.3), days since the last.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ua_plays | Listener's plays of this artist | How often the listener played this artist before the row's day.
-- feature ua_dislike_rate | Listener's dislike rate for this artist | Share of the listener's earlier plays of this artist that were dislikes or early skips, smoothed towards 0.3.
-- feature ua_days_since_last | Days since the listener last played this artist | Days from the listener's last play of this artist to the row's day (empty if never).
-- feature hx_artist_plays | Listener's recent plays of this artist | How many of the listener's last plays (up to 50) before the row's day were of the track's artist.
-- feature hx_artist_dislike_share | Listener's recent dislike share for this artist | Share of the listener's last plays of the track's artist that ended in a dislike or an early skip.
--
-- hx_artist_*: among the listener's last $history_len plays before the day (families/50_listening_history.sql),
-- those of the artist: the running counts before the day (the state) less those at the last play of the artist
-- numbered h_until - $history_len or lower (features.labels.n_artist, n_artist_dislikes, read by an ASOF join).
with keys as (
    select distinct user_id, artist, day from fx_rows_out
),

totals as (
    select
        k.user_id, k.artist, k.day,
        coalesce(u.plays, 0) as h_until,
        coalesce(a.plays, 0) as plays,
        coalesce(a.dislikes, 0) as dislikes,
        a.day as last_day
    from keys as k
    asof left join fx_state_user as u on u.user_id = k.user_id and k.day > u.day
    asof left join fx_state_user_artist as a on a.user_id = k.user_id and a.artist = k.artist and k.day > a.day
),

-- the running counts of these listeners' plays that a row can reach: numbered at most h_until - $history_len of
-- one of the listener's rows (a later play is among the last $history_len before every row: never the match)
reach as (
    select user_id, max(h_until) - $history_len as top from totals group by user_id
),

counts as (
    select c.user_id, c.artist, c.n, c.n_artist, c.n_artist_dislikes
    from features.labels as c join reach as r on r.user_id = c.user_id and c.n <= r.top
),

recent as (
    select
        t.*,
        t.plays - coalesce(c.n_artist, 0) as recent_plays,
        t.dislikes - coalesce(c.n_artist_dislikes, 0) as recent_dislikes
    from totals as t
    asof left join counts as c on c.user_id = t.user_id and c.artist = t.artist and t.h_until - $history_len >= c.n
)

select
    r.user_id,
    r.artist,
    r.day,
    r.plays as ua_plays,
    (r.dislikes + $prior * $smoothing) / (r.plays + $smoothing) as ua_dislike_rate,
    r.day - r.last_day as ua_days_since_last,
    r.recent_plays::bigint as hx_artist_plays,
    r.recent_dislikes / nullif(r.recent_plays, 0) as hx_artist_dislike_share
from recent as r
