-- grain: user_id, track_id
-- features.state_user_track: per listener, track and day with plays, running totals: plays, dislikes.
select user_id, track_id, day, count(*) as plays, sum(label)::bigint as dislikes
from fx_rows_out
group by user_id, track_id, day
