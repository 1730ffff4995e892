-- grain: user_id, genre
-- features.state_user_genre: per listener, genre and day with plays, running totals: plays, dislikes.
select user_id, genre, day, count(*) as plays, sum(label)::bigint as dislikes
from fx_rows_out
group by user_id, genre, day
