-- What the night's listeners (the registered frame night_users: the active listeners of the shard being made)
-- played in the $fresh_days days before the cut-off, with play counts: excluded from taste candidates ("not
-- played recently") and the source of rotation candidates.
select e.user_id, e.track_id, count(*) as plays, max(e.ts) as last_ts
from raw.events as e
semi join night_users as u on u.user_id = e.user_id
where e.ts >= $cutoff - to_days($fresh_days) and e.ts < $cutoff
group by all
