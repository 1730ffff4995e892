-- Events of this run's batches ($batch_ids) whose track or user is not (yet) in raw.tracks / raw.users.
-- They are loaded all the same (docs/ingest.md) and counted, so nobody is surprised later.
select
    e.batch_id,
    count(*) filter (where t.track_id is null) as unknown_tracks,
    count(*) filter (where u.user_id is null) as unknown_users
from raw.events as e
left join raw.tracks as t on t.track_id = e.track_id
left join raw.users as u on u.user_id = e.user_id
where e.batch_id in (select unnest($batch_ids))
group by e.batch_id
having unknown_tracks > 0 or unknown_users > 0
