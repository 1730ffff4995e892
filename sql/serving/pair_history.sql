-- Serving snapshot, a listener's past with a track, an artist and a genre (level): the columns of
-- features/user_affinity.sql as a row on the cut-off's day sees them, one row per (level, user_id,
-- key) played before $cutoff, plus per level one row with null keys (never played). last_day is
-- left for the request's day (ut_ / ua_ / ug_days_since_last).
with pairs as (
    select 'track' as level, user_id, track_id as key, count(*) as plays, sum(label) as dislikes, max(day) as last_day
    from fx_rows group by all
    union all
    select 'artist', user_id, artist, count(*), sum(label), max(day) from fx_rows group by all
    union all
    select 'genre', user_id, genre, count(*), sum(label), max(day) from fx_rows group by all
    union all
    select level, null, null, 0, 0, null from (values ('track'), ('artist'), ('genre')) as v(level)
)
select level, user_id, key, plays, (dislikes + 0.3 * $smoothing) / (plays + $smoothing) as dislike_rate, last_day
from pairs
order by level, user_id nulls first, key
