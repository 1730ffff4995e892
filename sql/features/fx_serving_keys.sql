-- fx_rows_out for the API's snapshot: the keys whose features it holds, all as of the cut-off's day
-- ($day): every listener-track pair played before it (with the track's artist and genre), every
-- listener (of raw.users or with plays) in every domain (their features in a domain they never played, and
-- their plays elsewhere, are known too) and every track (of raw.tracks or played, with its domain), and one
-- row of NULL keys: what an id the snapshot does not hold gets. kind tells them apart.
with played as (
    select distinct user_id, track_id from features.state_user_track where day < $day
)
select 'pair' as kind, p.user_id, p.track_id, coalesce(k.artist, '?') as artist, coalesce(k.genre, '?') as genre, $day as day,
       coalesce(k.domain, 'music') as domain
from played as p
left join fx_track_keys() as k on k.track_id = p.track_id
union all
select 'user', u.user_id, null, '?', '?', $day, d.domain
from raw.users as u
cross join (select unnest($label_domains) as domain) as d
union all
select 'track', null, track_id, artist, genre, $day, domain from fx_track_keys()
union all
select 'none', null, null, '?', '?', $day, null
