-- Clear one shard's staged scores before writing them again.
delete from scores.staged_scores where run_date = $run_date and shard = $shard
