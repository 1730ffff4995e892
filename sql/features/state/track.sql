-- grain: track_id
-- features.state_track: per track and day with plays, running totals up to that day: plays,
-- dislikes, listener-days (distinct listeners of each day, summed); first_day.
select track_id, day, count(*) as plays, sum(label)::bigint as dislikes, count(distinct user_id) as listeners
from fx_rows_out
group by track_id, day
