-- One probe per known listener and per known track (paired off row by row, the shorter list
-- wrapping around), scored at the cut-off to read their two-tower vectors: a user vector depends
-- only on the user's features, a track vector only on the track's.
with users as (
    select user_id, row_number() over (order by user_id) - 1 as i
    from (select user_id from raw.users union select user_id from raw.events where ts < $cutoff)
),
tracks as (
    select track_id, row_number() over (order by track_id) - 1 as i
    from (select track_id from raw.tracks union select track_id from raw.events where ts < $cutoff)
),
sizes as (select (select count(*) from users) as n_users, (select count(*) from tracks) as n_tracks)
select k.range as probe_id, u.user_id, t.track_id
from sizes, range(greatest(sizes.n_users, sizes.n_tracks)) as k
join users as u on u.i = k.range % sizes.n_users
join tracks as t on t.i = k.range % sizes.n_tracks
order by probe_id
