-- Issue 29, item 4 (bench/history_counts.py): the session's earlier plays of the row's genre (the last $len of
-- them) and their dislike share, in SQL: k counts the session's plays before the row, and a RANGE window over k
-- partitioned by session and genre takes those with k from the row's k - $len to k - 1.
with s as (
    select l.play_id, l.day, l.genre, l.label, l.ts, e.session_id
    from features.labels as l
    join raw.events as e on e.user_id = l.user_id and e.track_id = l.track_id and e.ts = l.ts
    where l.day >= $since - 1
),
numbered as (
    select *, row_number() over (partition by session_id order by ts, play_id) - 1 as k from s where session_id is not null
)
select play_id,
       count(*) over w as hsx_genre_plays,
       sum(label) over w / nullif(count(*) over w, 0) as hsx_genre_dislike_share
from numbered
window w as (partition by session_id, genre order by k range between $len preceding and 1 preceding)
