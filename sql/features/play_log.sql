-- The plays a set of rows' sequences reach (skipify.sequences.PlayLog): per listener of fx_log_reach
-- (user_id, h_until: the listening history's anchors), the plays numbered above the lowest h_until -
-- $history_len up to the highest h_until, and the plays of fx_earlier (the earlier plays of the rows'
-- sessions) with the link to the previous play of their session (features.session_context.hs_prev).
-- A listener's plays are one run of numbers (the arithmetic of skipify.sequences.listening needs it).
with bounds as (
    select user_id, h_until - $history_len as lowest, h_until as highest from fx_log_reach
    union all
    select user_id, n - 1, n from features.labels where play_id in (select play_id from fx_earlier)
),

reach as (
    select user_id, min(lowest) as lowest, max(highest) as highest
    from bounds
    group by user_id
),

links as (
    select play_id, hs_prev
    from features.session_context
    where play_id in (select play_id from fx_earlier)
)

select l.play_id, l.user_id, l.n, l.track_id, l.ts, l.label, l.early_skip, s.hs_prev
from features.labels as l
join reach as q on q.user_id = l.user_id and l.n > q.lowest and l.n <= q.highest
left join links as s on s.play_id = l.play_id
