-- What each active listener played in the $fresh_days days before the cut-off, with play counts:
-- excluded from taste candidates ("not played recently") and the source of rotation candidates.
select user_id, track_id, count(*) as plays, max(ts) as last_ts
from raw.events
where ts >= $cutoff - to_days($fresh_days) and ts < $cutoff
group by all
