-- Issue 29, item 4 (bench/history_counts.py): the counts and shares of skipify.models.recent over the listener's
-- last $len plays before the row's day, in SQL, for the rows of features.labels from day $since on: running counts by
-- play number (features.labels.n) per listener, genre and artist, read at h_until (the plays before the day,
-- features.state_user) and at h_until - $len by ASOF joins: no range join over the plays.
with plays as (
    select user_id, n, genre, artist, label,
           count(*) over (partition by user_id, genre order by n) as g_cum,
           sum(label) over (partition by user_id, genre order by n) as g_bad,
           count(*) over (partition by user_id, artist order by n) as a_cum,
           sum(label) over (partition by user_id, artist order by n) as a_bad,
           sum(label) over (partition by user_id order by n) as bad
    from features.labels
),
rows as (
    select l.play_id, l.user_id, l.genre, l.artist, l.day, coalesce(a.plays, 0) as h_until
    from features.labels as l
    asof left join features.state_user as a on a.user_id = l.user_id and l.day > a.day
    where l.day >= $since
)
select r.play_id,
       least(r.h_until, $len) as hx_plays,
       (coalesce(ub.bad, 0) - coalesce(lb.bad, 0)) / nullif(least(r.h_until, $len), 0) as hx_dislike_share,
       coalesce(gh.g_cum, 0) - coalesce(gl.g_cum, 0) as hx_genre_plays,
       (coalesce(gh.g_bad, 0) - coalesce(gl.g_bad, 0)) / nullif(coalesce(gh.g_cum, 0) - coalesce(gl.g_cum, 0), 0) as hx_genre_dislike_share,
       coalesce(ah.a_cum, 0) - coalesce(al.a_cum, 0) as hx_artist_plays,
       (coalesce(ah.a_bad, 0) - coalesce(al.a_bad, 0)) / nullif(coalesce(ah.a_cum, 0) - coalesce(al.a_cum, 0), 0) as hx_artist_dislike_share
from rows as r
asof left join plays as ub on ub.user_id = r.user_id and r.h_until >= ub.n
asof left join plays as lb on lb.user_id = r.user_id and r.h_until - $len >= lb.n
asof left join plays as gh on gh.user_id = r.user_id and gh.genre = r.genre and r.h_until >= gh.n
asof left join plays as gl on gl.user_id = r.user_id and gl.genre = r.genre and r.h_until - $len >= gl.n
asof left join plays as ah on ah.user_id = r.user_id and ah.artist = r.artist and r.h_until >= ah.n
asof left join plays as al on al.user_id = r.user_id and al.artist = r.artist and r.h_until - $len >= al.n
