-- The probes of one shard: its candidates in the listener's habitual context of the last
-- $active_days days (most frequent platform, context type, shuffle and first-play reason; typical
-- hour), as the first play of a session on the night's day.
with recent as (
    select * from raw.events where ts >= $cutoff - to_days($active_days) and ts < $cutoff
),
counts as (
    -- how often each value of each context column occurs per listener; ties broken by value, so a
    -- re-run picks the same habit (mode() would pick any of the tied values)
    select user_id, 'platform' as col, platform::varchar as value, count(*) as n from recent group by all
    union all select user_id, 'context_type', context_type::varchar, count(*) from recent group by all
    union all select user_id, 'shuffle', shuffle::varchar, count(*) from recent group by all
    union all select user_id, 'reason_start', reason_start::varchar, count(*) from recent group by all
),
habit as (
    select user_id, col, first(value order by n desc, value) as value from counts group by all
),
habits as (
    select
        h.user_id,
        max(value) filter (where col = 'platform') as platform,
        max(value) filter (where col = 'context_type') as context_type,
        max(value) filter (where col = 'shuffle')::boolean as shuffle,
        max(value) filter (where col = 'reason_start') as reason_start,
        any_value(hr.hour) as hour
    from habit as h
    join (select user_id, cast(round(median(hour(ts))) as integer) % 24 as hour from recent group by user_id) as hr using (user_id)
    group by h.user_id
)
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
