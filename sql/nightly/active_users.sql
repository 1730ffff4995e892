-- Listeners with at least one play in the $active_days days before the night's cut-off ($cutoff).
select distinct user_id
from raw.events
where ts >= $cutoff - to_days($active_days) and ts < $cutoff
order by user_id
