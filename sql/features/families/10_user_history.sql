-- grain: user_id
-- features.user_history: per listener and day, the listener's history as of the start of that day
-- (UTC) from features.state_user's running totals, rates smoothed towards the global dislike rate
-- before the day (fx_prior), and their profile (raw.users). Reads only days strictly before the row's.
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
with keys as (
    select distinct user_id, day from fx_rows_out
),

-- totals before the day (a), and before each window (w7, w30, w90): the window's own = the difference
hist as (
    select
        k.user_id, k.day,
        coalesce(a.plays, 0) - coalesce(w7.plays, 0) as plays_7d,
        coalesce(a.dislikes, 0) - coalesce(w7.dislikes, 0) as dislikes_7d,
        coalesce(a.plays, 0) - coalesce(w30.plays, 0) as plays_30d,
        coalesce(a.dislikes, 0) - coalesce(w30.dislikes, 0) as dislikes_30d,
        coalesce(a.plays, 0) - coalesce(w90.plays, 0) as plays_90d,
        coalesce(a.dislikes, 0) - coalesce(w90.dislikes, 0) as dislikes_90d,
        coalesce(a.plays, 0) as plays_all,
        coalesce(a.dislikes, 0) as dislikes_all,
        coalesce(a.early, 0) as early_all,
        coalesce(a.active_days, 0) - coalesce(w30.active_days, 0) as active_days_30d,
        a.first_day
    from keys as k
    asof left join fx_state_user as a on a.user_id = k.user_id and k.day > a.day
    asof left join fx_state_user as w7 on w7.user_id = k.user_id and k.day - 7 > w7.day
    asof left join fx_state_user as w30 on w30.user_id = k.user_id and k.day - 30 > w30.day
    asof left join fx_state_user as w90 on w90.user_id = k.user_id and k.day - 90 > w90.day
)

select
    h.user_id,
    h.day,
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
    h.day - coalesce(h.first_day, h.day) as u_days_since_first_play,
    h.day - (u.signup_date - date '1970-01-01') as u_tenure_days,
    year(date '1970-01-01' + h.day) - u.birth_year as u_age,
    u.country as u_country,
    u.product as u_product,
    g.prior as global_dislike_rate
from hist as h
join fx_prior as g on g.day = h.day
left join raw.users as u on u.user_id = h.user_id
