-- grain: user_id
-- features.listening_history: per listener and day, their last $history_len plays before the start
-- of the day, most recent first, as three lists of the same length (empty without history): the
-- track, the outcome (0 completed, 1 early skip, 2 dislike without an early skip) and the days from
-- the play to the start of the day. A sequence model reads them as padded sequences; the other
-- models leave list columns aside. Plays are found by their numbers (features.labels.n): the
-- listener's total before the day (features.state_user) and the $history_len numbers below it.
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

slots as (
    select c.user_id, c.day, c.plays - r.i as n, r.i
    from counted as c, range($history_len) as r(i)
    where c.plays - r.i >= 1
),

hist as (
    select
        s.user_id,
        s.day,
        list(p.track_id order by s.i) as h_track_ids,
        list((case when p.early_skip = 1 then 1 when p.label = 1 then 2 else 0 end)::utinyint order by s.i) as h_outcomes,
        list((s.day * 86400 - epoch(p.ts)) / 86400.0 order by s.i) as h_days_before
    from slots as s
    join features.labels as p on p.user_id = s.user_id and p.n = s.n
    group by s.user_id, s.day
)

select
    c.user_id,
    c.day,
    coalesce(h.h_track_ids, []::varchar[]) as h_track_ids,
    coalesce(h.h_outcomes, []::utinyint[]) as h_outcomes,
    coalesce(h.h_days_before, []::double[]) as h_days_before
from counted as c
left join hist as h on h.user_id = c.user_id and h.day = c.day
