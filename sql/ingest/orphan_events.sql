-- Events of this batch (`fresh`) whose track or user is not (yet) in raw.tracks / raw.users.
-- They are loaded all the same (docs/ingest.md) and counted, so nobody is surprised later.
select
    count(*) filter (where t.track_id is null) as unknown_tracks,
    count(*) filter (where u.user_id is null) as unknown_users
from fresh as f
left join raw.tracks as t on t.track_id = f.track_id
left join raw.users as u on u.user_id = f.user_id
