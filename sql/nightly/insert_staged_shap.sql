-- One shard's SHAP reasons (from the registered frame new_shap).
insert into scores.staged_shap
select $run_date, $shard, user_id, track_id, model, rank, block, shap from new_shap
