-- Clear one shard's candidates of a night before writing them again (a re-run replaces them).
delete from scores.candidates where run_date = $run_date and shard = $shard
