-- grain: user_id
-- features.state_user: per listener and day with plays, running totals up to that day (inclusive):
-- plays, dislikes, early skips, active days; and first_day, the listener's first day with plays.
select user_id, day, count(*) as plays, sum(label)::bigint as dislikes, sum(early_skip)::bigint as early, 1::bigint as active_days
from fx_rows_out
group by user_id, day
