-- The probes of one shard: its candidates in the listener's habitual context (temp table `habits`,
-- features/habits.sql), as the first play of a session on the night's day.
select
    row_number() over (order by c.user_id, c.track_id) as probe_id,
    c.user_id, c.track_id, c.source,
    $cutoff + to_hours(coalesce(h.hour, 12)) as ts,
    null::varchar as session_id,
    1 as session_position,
    h.context_type, h.platform, h.shuffle, h.reason_start
from scores.candidates as c
left join habits as h using (user_id)
where c.run_date = $run_date and c.shard = $shard
order by probe_id
