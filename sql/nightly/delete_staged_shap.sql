-- Clear one shard's staged SHAP reasons before writing them again.
delete from scores.staged_shap where run_date = $run_date and shard = $shard
