-- features.user_history: the listener's history as of the start of the row's day (UTC), smoothed
-- towards the global dislike rate before that day (fx_global_prior.sql), and their profile.
-- One row per row of fx_rows_out (the rows being built). Reads only days strictly before the row's.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature u_plays_7d | Listener plays, last 7 days | Plays by the listener in the 7 days before the row's day.
-- feature u_plays_30d | Listener plays, last 30 days | Plays by the listener in the 30 days before the row's day.
-- feature u_plays_90d | Listener plays, last 90 days | Plays by the listener in the 90 days before the row's day.
-- feature u_plays_all | Listener plays, all time | Plays by the listener before the row's day.
-- feature u_dislike_rate_7d | Listener dislike rate, last 7 days | Share of the listener's plays of the last 7 days that were dislikes or early skips, smoothed towards the global rate.
-- feature u_dislike_rate_30d | Listener dislike rate, last 30 days | Share of the listener's plays of the last 30 days that were dislikes or early skips, smoothed towards the global rate.
-- feature u_dislike_rate_90d | Listener dislike rate, last 90 days | Share of the listener's plays of the last 90 days that were dislikes or early skips, smoothed towards the global rate.
-- feature u_dislike_rate_all | Listener dislike rate, all time | Share of all the listener's earlier plays that were dislikes or early skips, smoothed towards the global rate.
-- feature u_early_skip_share | Listener early-skip rate | Share of all the listener's earlier plays skipped before the label threshold (30 s), smoothed towards the global rate.
-- feature u_active_days_30d | Listener active days, last 30 days | Days with at least one play among the 30 before the row's day.
-- feature u_days_since_first_play | Days since the listener's first play | Days from the listener's first play to the row's day (0 for a new listener).
-- feature u_tenure_days | Days since sign-up | Days from the listener's sign-up date to the play.
-- feature u_age | Listener age | The listener's age in years at the play, from their birth year.
-- feature u_country | Listener country | The listener's country (two-letter code).
-- feature u_product | Listener plan | The listener's product tier: free or premium.
-- feature global_dislike_rate | Global dislike rate | Share of all plays before the row's day that were dislikes or early skips: the prior every smoothed rate is pulled towards.
with user_day as (
    select user_id, day, sum(is_event::int) as plays, sum(label) as dislikes, sum(early_skip) as early
    from fx_rows
    group by user_id, day
),

windows as (
    select
        user_id, day,
        coalesce(sum(plays) over w7, 0) as plays_7d,
        coalesce(sum(dislikes) over w7, 0) as dislikes_7d,
        coalesce(sum(plays) over w30, 0) as plays_30d,
        coalesce(sum(dislikes) over w30, 0) as dislikes_30d,
        coalesce(sum(plays) over w90, 0) as plays_90d,
        coalesce(sum(dislikes) over w90, 0) as dislikes_90d,
        coalesce(sum(plays) over wall, 0) as plays_all,
        coalesce(sum(dislikes) over wall, 0) as dislikes_all,
        coalesce(sum(early) over wall, 0) as early_all,
        count(*) filter (where plays > 0) over w30 as active_days_30d,
        min(day) filter (where plays > 0) over wall as first_day
    from user_day
    window
        w7 as (partition by user_id order by day range between 7 preceding and 1 preceding),
        w30 as (partition by user_id order by day range between 30 preceding and 1 preceding),
        w90 as (partition by user_id order by day range between 90 preceding and 1 preceding),
        wall as (partition by user_id order by day rows between unbounded preceding and 1 preceding)
)

select
    r.play_id,
    r.ts,
    w.plays_7d as u_plays_7d,
    w.plays_30d as u_plays_30d,
    w.plays_90d as u_plays_90d,
    w.plays_all as u_plays_all,
    (w.dislikes_7d + g.prior * $smoothing) / (w.plays_7d + $smoothing) as u_dislike_rate_7d,
    (w.dislikes_30d + g.prior * $smoothing) / (w.plays_30d + $smoothing) as u_dislike_rate_30d,
    (w.dislikes_90d + g.prior * $smoothing) / (w.plays_90d + $smoothing) as u_dislike_rate_90d,
    (w.dislikes_all + g.prior * $smoothing) / (w.plays_all + $smoothing) as u_dislike_rate_all,
    (w.early_all + g.prior * $smoothing) / (w.plays_all + $smoothing) as u_early_skip_share,
    w.active_days_30d as u_active_days_30d,
    r.day - coalesce(w.first_day, r.day) as u_days_since_first_play,
    datediff('day', u.signup_date, cast(r.ts as date)) as u_tenure_days,
    year(r.ts) - u.birth_year as u_age,
    u.country as u_country,
    u.product as u_product,
    g.prior as global_dislike_rate
from fx_rows_out as r
join windows as w on w.user_id = r.user_id and w.day = r.day
join fx_global_prior as g on g.day = r.day
left join raw.users as u on u.user_id = r.user_id
