-- grain: user_id
-- features.listening_history: per listener and day, where their last plays before the start of the
-- day end: h_until, the number (features.labels.n) of the listener's last play before the day (0:
-- none). Their history is the plays numbered h_until, h_until - 1 ... down to h_until - $history_len
-- + 1, most recent first; skipify.sequences gathers them from features.labels as three lists of the
-- same length (empty without history): the track, the outcome (0 completed, 1 early skip, 2 dislike
-- without an early skip) and the days from the play to the start of the day. A sequence model reads
-- them as padded sequences; the other models leave list columns aside. One integer per row is stored
-- instead of the lists (at 10M plays, a third of the build was writing them).
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature h_track_ids | Listener's last plays (tracks) | The tracks of the listener's last plays before the row's day, most recent first (up to 50).
-- feature h_outcomes | Listener's last plays (outcomes) | How each of those plays ended: 0 completed, 1 early skip, 2 dislike.
-- feature h_days_before | Listener's last plays (days ago) | Days from each of those plays to the start of the row's day.
-- feature hx_plays | Listener's recent plays | How many of the listener's last plays before the row's day there are (up to 50).
-- feature hx_dislike_share | Listener's recent dislike share | Share of the listener's last plays that ended in a dislike or an early skip.
--
-- hx_*: the same last plays summed up (what a table model reads of them): their dislikes are the listener's
-- running count at h_until (the state before the day) less the count at the play before the first of them
-- (features.labels.n_dislikes, the play numbered h_until - $history_len).
with keys as (
    select distinct user_id, day from fx_rows_out
),

anchors as (
    select k.user_id, k.day, coalesce(a.plays, 0)::bigint as h_until, coalesce(a.dislikes, 0) as dislikes
    from keys as k
    asof left join fx_state_user as a on a.user_id = k.user_id and k.day > a.day
),

-- the listeners' plays where their last $history_len plays begin (read for these listeners only)
starts as (
    select user_id, n, n_dislikes from features.labels where user_id in (select user_id from keys)
)

select
    k.user_id,
    k.day,
    k.h_until,
    least(k.h_until, $history_len)::bigint as hx_plays,
    (k.dislikes - coalesce(s.n_dislikes, 0)) / nullif(least(k.h_until, $history_len), 0) as hx_dislike_share
from anchors as k
left join starts as s on s.user_id = k.user_id and s.n = k.h_until - $history_len
