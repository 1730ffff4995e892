-- grain: user_id, track_id
-- features.user_track: per listener, track and day, the listener's past with that track as of the
-- start of the day (features.state_user_track): plays, dislike rate smoothed towards $prior (feature_prior, 0.3), days since the last.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ut_replays | Listener's plays of this track | How often the listener played this track before the row's day.
-- feature ut_dislike_rate | Listener's dislike rate for this track | Share of the listener's earlier plays of this track that were dislikes or early skips, smoothed towards 0.3.
-- feature ut_days_since_last | Days since the listener last played this track | Days from the listener's last play of this track to the row's day (empty if never).
with keys as (
    select distinct user_id, track_id, day from fx_rows_out
)

select
    k.user_id,
    k.track_id,
    k.day,
    coalesce(a.plays, 0) as ut_replays,
    (coalesce(a.dislikes, 0) + $prior * $smoothing) / (coalesce(a.plays, 0) + $smoothing) as ut_dislike_rate,
    k.day - a.day as ut_days_since_last
from keys as k
asof left join fx_state_user_track as a on a.user_id = k.user_id and a.track_id = k.track_id and k.day > a.day
