-- One shard's scores (from the registered frame new_scores).
insert into scores.staged_scores
select $run_date, $shard, user_id, track_id, source, p_dislike, p_dislike_baseline, $model_version from new_scores
