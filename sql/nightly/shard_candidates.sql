-- The candidates of one shard ($shard) of a night ($run_date), in a fixed order.
select user_id, track_id, source
from scores.candidates
where run_date = $run_date and shard = $shard
order by user_id, track_id
