-- grain: user_id, artist
-- features.state_user_artist: per listener, artist and day with plays, running totals: plays, dislikes.
select user_id, artist, day, count(*) as plays, sum(label)::bigint as dislikes
from fx_rows_out
group by user_id, artist, day
