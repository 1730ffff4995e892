-- grain: user_id, genre
-- features.user_genre: per listener, genre and day, the listener's past with that genre as of the
-- start of the day (features.state_user_genre): plays, dislike rate smoothed towards $prior (feature_prior, 0.3), days since the last.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ug_plays | Listener's plays of this genre | How often the listener played this genre before the row's day.
-- feature ug_dislike_rate | Listener's dislike rate for this genre | Share of the listener's earlier plays of this genre that were dislikes or early skips, smoothed towards 0.3.
-- feature ug_days_since_last | Days since the listener last played this genre | Days from the listener's last play of this genre to the row's day (empty if never).
with keys as (
    select distinct user_id, genre, day from fx_rows_out
)

select
    k.user_id,
    k.genre,
    k.day,
    coalesce(a.plays, 0) as ug_plays,
    (coalesce(a.dislikes, 0) + $prior * $smoothing) / (coalesce(a.plays, 0) + $smoothing) as ug_dislike_rate,
    k.day - a.day as ug_days_since_last
from keys as k
asof left join fx_state_user_genre as a on a.user_id = k.user_id and a.genre = k.genre and k.day > a.day
