-- grain: user_id, artist
-- features.user_artist: per listener, artist and day, the listener's past with that artist as of the
-- start of the day (features.state_user_artist): plays, dislike rate smoothed towards $prior (feature_prior, 0.3), days since the last.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ua_plays | Listener's plays of this artist | How often the listener played this artist before the row's day.
-- feature ua_dislike_rate | Listener's dislike rate for this artist | Share of the listener's earlier plays of this artist that were dislikes or early skips, smoothed towards 0.3.
-- feature ua_days_since_last | Days since the listener last played this artist | Days from the listener's last play of this artist to the row's day (empty if never).
with keys as (
    select distinct user_id, artist, day from fx_rows_out
)

select
    k.user_id,
    k.artist,
    k.day,
    coalesce(a.plays, 0) as ua_plays,
    (coalesce(a.dislikes, 0) + $prior * $smoothing) / (coalesce(a.plays, 0) + $smoothing) as ua_dislike_rate,
    k.day - a.day as ua_days_since_last
from keys as k
asof left join fx_state_user_artist as a on a.user_id = k.user_id and a.artist = k.artist and k.day > a.day
