-- Serving snapshot, listeners: the history features of features/user_history.sql as a row on the
-- cut-off's day ($day, days since 1970; the temp table fx_rows holds every play before $cutoff)
-- sees them (smoothed towards the temp table serving_prior, prior.sql), one row per listener with plays, plus one row with user_id null: what a listener
-- without history gets. first_day is left for the request's day (u_days_since_first_play).
with user_day as (
    select user_id, day, count(*) as plays, sum(label) as dislikes, sum(early_skip) as early
    from fx_rows
    group by user_id, day
),

hist as (
    select
        user_id,
        coalesce(sum(plays) filter (where day >= $day - 7), 0) as plays_7d,
        coalesce(sum(dislikes) filter (where day >= $day - 7), 0) as dislikes_7d,
        coalesce(sum(plays) filter (where day >= $day - 30), 0) as plays_30d,
        coalesce(sum(dislikes) filter (where day >= $day - 30), 0) as dislikes_30d,
        coalesce(sum(plays) filter (where day >= $day - 90), 0) as plays_90d,
        coalesce(sum(dislikes) filter (where day >= $day - 90), 0) as dislikes_90d,
        sum(plays) as plays_all,
        sum(dislikes) as dislikes_all,
        sum(early) as early_all,
        count(*) filter (where day >= $day - 30) as active_days_30d,
        min(day) as first_day
    from user_day
    group by user_id
    union all
    select null, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, null
)

select
    h.user_id,
    h.plays_7d as u_plays_7d,
    h.plays_30d as u_plays_30d,
    h.plays_90d as u_plays_90d,
    h.plays_all as u_plays_all,
    (h.dislikes_7d + g.prior * $smoothing) / (h.plays_7d + $smoothing) as u_dislike_rate_7d,
    (h.dislikes_30d + g.prior * $smoothing) / (h.plays_30d + $smoothing) as u_dislike_rate_30d,
    (h.dislikes_90d + g.prior * $smoothing) / (h.plays_90d + $smoothing) as u_dislike_rate_90d,
    (h.dislikes_all + g.prior * $smoothing) / (h.plays_all + $smoothing) as u_dislike_rate_all,
    (h.early_all + g.prior * $smoothing) / (h.plays_all + $smoothing) as u_early_skip_share,
    h.active_days_30d as u_active_days_30d,
    h.first_day as u_first_day,
    g.prior as global_dislike_rate
from hist as h, serving_prior as g
order by h.user_id nulls first
