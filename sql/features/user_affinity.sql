-- features.user_affinity: the listener's past with this track, its artist and its genre, as of the
-- start of the row's day: plays, smoothed dislike rate, replays, days since they last played it.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ut_replays | Listener's plays of this track | How often the listener played this track before the row's day.
-- feature ut_dislike_rate | Listener's dislike rate for this track | Share of the listener's earlier plays of this track that were dislikes or early skips, smoothed towards 0.3.
-- feature ut_days_since_last | Days since the listener last played this track | Days from the listener's last play of this track to the row's day (empty if never).
-- feature ua_plays | Listener's plays of this artist | How often the listener played this artist before the row's day.
-- feature ua_dislike_rate | Listener's dislike rate for this artist | Share of the listener's earlier plays of this artist that were dislikes or early skips, smoothed towards 0.3.
-- feature ua_days_since_last | Days since the listener last played this artist | Days from the listener's last play of this artist to the row's day (empty if never).
-- feature ug_plays | Listener's plays of this genre | How often the listener played this genre before the row's day.
-- feature ug_dislike_rate | Listener's dislike rate for this genre | Share of the listener's earlier plays of this genre that were dislikes or early skips, smoothed towards 0.3.
-- feature ug_days_since_last | Days since the listener last played this genre | Days from the listener's last play of this genre to the row's day (empty if never).
with pair_day as (
    select
        user_id, artist, genre, track_id, day,
        sum(is_event::int) as plays, sum(label) as dislikes
    from fx_rows
    group by all
),

artist_day as (
    select user_id, artist, day, sum(plays) as plays, sum(dislikes) as dislikes from pair_day group by all
),

genre_day as (
    select user_id, genre, day, sum(plays) as plays, sum(dislikes) as dislikes from pair_day group by all
),

track_hist as (
    select
        user_id, track_id, day,
        coalesce(sum(plays) over w, 0) as plays,
        coalesce(sum(dislikes) over w, 0) as dislikes,
        max(day) filter (where plays > 0) over w as last_day
    from (select user_id, track_id, day, sum(plays) as plays, sum(dislikes) as dislikes from pair_day group by all)
    window w as (partition by user_id, track_id order by day rows between unbounded preceding and 1 preceding)
),

artist_hist as (
    select
        user_id, artist, day,
        coalesce(sum(plays) over w, 0) as plays,
        coalesce(sum(dislikes) over w, 0) as dislikes,
        max(day) filter (where plays > 0) over w as last_day
    from artist_day
    window w as (partition by user_id, artist order by day rows between unbounded preceding and 1 preceding)
),

genre_hist as (
    select
        user_id, genre, day,
        coalesce(sum(plays) over w, 0) as plays,
        coalesce(sum(dislikes) over w, 0) as dislikes,
        max(day) filter (where plays > 0) over w as last_day
    from genre_day
    window w as (partition by user_id, genre order by day rows between unbounded preceding and 1 preceding)
)

select
    r.play_id,
    r.ts,
    th.plays as ut_replays,
    (th.dislikes + 0.3 * $smoothing) / (th.plays + $smoothing) as ut_dislike_rate,
    r.day - th.last_day as ut_days_since_last,
    ah.plays as ua_plays,
    (ah.dislikes + 0.3 * $smoothing) / (ah.plays + $smoothing) as ua_dislike_rate,
    r.day - ah.last_day as ua_days_since_last,
    gh.plays as ug_plays,
    (gh.dislikes + 0.3 * $smoothing) / (gh.plays + $smoothing) as ug_dislike_rate,
    r.day - gh.last_day as ug_days_since_last
from fx_rows_out as r
join track_hist as th on th.user_id = r.user_id and th.track_id = r.track_id and th.day = r.day
join artist_hist as ah on ah.user_id = r.user_id and ah.artist = r.artist and ah.day = r.day
join genre_hist as gh on gh.user_id = r.user_id and gh.genre = r.genre and gh.day = r.day
