-- Events whose track or user is not in raw.tracks / raw.users (loaded all the same, see docs/ingest.md).
select
    (select count(*) from raw.events as e where not exists (select 1 from raw.tracks as t where t.track_id = e.track_id)) as events_unknown_track,
    (select count(*) from raw.events as e where not exists (select 1 from raw.users as u where u.user_id = e.user_id)) as events_unknown_user
