-- grain: user_id, domain
-- features.user_domain: per listener, domain and day, the listener's past in the row's domain and in the
-- others as of the start of the day (features.state_user_domain, features.state_user): what a podcast row knows
-- of the listener's music, and a music row of their podcasts (docs/domains.md). Rates smoothed towards the
-- global dislike rate before the day (fx_prior).
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature ud_plays | Listener's plays in this domain | How often the listener played items of the row's domain (music, podcasts, ...) before the row's day.
-- feature ud_dislike_rate | Listener's dislike rate in this domain | Share of the listener's earlier plays in the row's domain that were dislikes or early abandons, smoothed towards the global rate.
-- feature uo_plays | Listener's plays in other domains | How often the listener played items of the other domains before the row's day.
-- feature uo_dislike_rate | Listener's dislike rate in other domains | Share of the listener's earlier plays in the other domains that were dislikes or early abandons, smoothed towards the global rate.
with keys as (
    select distinct user_id, domain, day from fx_rows_out
),

totals as (
    select
        k.user_id, k.domain, k.day,
        coalesce(d.plays, 0) as plays,
        coalesce(d.dislikes, 0) as dislikes,
        coalesce(u.plays, 0) - coalesce(d.plays, 0) as other_plays,
        coalesce(u.dislikes, 0) - coalesce(d.dislikes, 0) as other_dislikes
    from keys as k
    asof left join fx_state_user as u on u.user_id = k.user_id and k.day > u.day
    asof left join fx_state_user_domain as d on d.user_id = k.user_id and d.domain = k.domain and k.day > d.day
)

select
    t.user_id,
    t.domain,
    t.day,
    t.plays as ud_plays,
    (t.dislikes + g.prior * $smoothing) / (t.plays + $smoothing) as ud_dislike_rate,
    t.other_plays as uo_plays,
    (t.other_dislikes + g.prior * $smoothing) / (t.other_plays + $smoothing) as uo_dislike_rate
from totals as t
join fx_prior as g on g.day = t.day
