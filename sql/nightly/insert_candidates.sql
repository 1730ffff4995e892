-- A night's candidates (from the registered frame new_candidates).
insert into scores.candidates select $run_date, shard, user_id, track_id, source from new_candidates
