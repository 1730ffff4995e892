-- Each listener's habitual context over the $active_days days before the cut-off ($cutoff): most
-- frequent platform, context type, shuffle and first-play reason, and their typical hour. The
-- nightly probes (nightly/shard_probes.sql) and the API's default context (serving) both use it.
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
)
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
order by h.user_id
