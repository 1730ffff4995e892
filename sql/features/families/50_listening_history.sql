-- grain: user_id
-- features.listening_history: per listener and day, their last $history_len plays before the start
-- of the day, most recent first, as three lists of the same length (empty without history): the
-- track, the outcome (0 completed, 1 early skip, 2 dislike without an early skip) and the days from
-- the play to the start of the day. A sequence model reads them as padded sequences; the other
-- models leave list columns aside. Plays are found by their numbers (features.labels.n): the
-- listener's total before the day (features.state_user) and the $history_len numbers below it,
-- sliced from one list per listener of the plays any of their rows can reach (held once, not per row).
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature h_track_ids | Listener's last plays (tracks) | The tracks of the listener's last plays before the row's day, most recent first (up to 50).
-- feature h_outcomes | Listener's last plays (outcomes) | How each of those plays ended: 0 completed, 1 early skip, 2 dislike.
-- feature h_days_before | Listener's last plays (days ago) | Days from each of those plays to the start of the row's day.
with keys as (
    select distinct user_id, day from fx_rows_out
),

counted as (
    select k.user_id, k.day, coalesce(a.plays, 0) as plays
    from keys as k
    asof left join features.state_user as a on a.user_id = k.user_id and k.day > a.day
),

reach as (
    -- the numbers of the plays the listener's rows can see: above `lowest`, up to `highest`
    select user_id, min(plays) - $history_len as lowest, max(plays) as highest
    from counted
    group by user_id
),

recent as (
    -- one list per listener, in number order (a sorted list of structs: an ordered aggregate would
    -- hold every value in memory)
    select
        p.user_id,
        min(p.n) as first_n,
        list_sort(list({
            'n': p.n,
            'track': p.track_id,
            'outcome': (case when p.early_skip = 1 then 1 when p.label = 1 then 2 else 0 end)::utinyint,
            'start': epoch(p.ts)
        })) as plays
    from features.labels as p
    join reach as q on q.user_id = p.user_id and p.n > q.lowest and p.n <= q.highest
    group by p.user_id
),

sliced as (
    -- play n sits at position n - first_n + 1; the last $history_len before the day, most recent first
    select
        c.user_id, c.day,
        coalesce(list_reverse(list_slice(r.plays, greatest(c.plays - $history_len + 1, 1) - r.first_n + 1,
                                         c.plays - r.first_n + 1)), []) as plays
    from counted as c
    left join recent as r on r.user_id = c.user_id
)

select
    user_id,
    day,
    list_transform(plays, x -> x.track)::varchar[] as h_track_ids,
    list_transform(plays, x -> x.outcome)::utinyint[] as h_outcomes,
    list_transform(plays, x -> (day * 86400 - x.start) / 86400.0)::double[] as h_days_before
from sliced
