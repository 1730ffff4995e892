-- Serving snapshot, tracks: the history features of features/track_history.sql as a row on the
-- cut-off's day ($day) sees them, one row per track with plays, plus one row with track_id null
-- (no history). first_day is left for the request's day (t_days_since_first_play).
with track_day as (
    select track_id, day, count(*) as plays, sum(label) as dislikes, count(distinct user_id) as listeners
    from fx_rows
    group by track_id, day
),

hist as (
    select
        track_id,
        coalesce(sum(plays) filter (where day >= $day - 7), 0) as plays_7d,
        coalesce(sum(plays) filter (where day >= $day - 30), 0) as plays_30d,
        coalesce(sum(dislikes) filter (where day >= $day - 30), 0) as dislikes_30d,
        sum(plays) as plays_all,
        sum(dislikes) as dislikes_all,
        coalesce(sum(listeners) filter (where day >= $day - 30), 0) as listener_days_30d,
        min(day) as first_day
    from track_day
    group by track_id
    union all
    select null, 0, 0, 0, 0, 0, 0, null
)

select
    h.track_id,
    h.plays_7d as t_plays_7d,
    h.plays_30d as t_plays_30d,
    h.plays_all as t_plays_all,
    (h.dislikes_30d + g.prior * $smoothing) / (h.plays_30d + $smoothing) as t_dislike_rate_30d,
    (h.dislikes_all + g.prior * $smoothing) / (h.plays_all + $smoothing) as t_dislike_rate_all,
    (h.plays_7d / 7.0 + 0.1) / (h.plays_30d / 30.0 + 0.1) as t_trend,
    h.listener_days_30d as t_listener_days_30d,
    h.first_day as t_first_day
from hist as h, serving_prior as g
order by h.track_id nulls first
