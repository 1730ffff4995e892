-- Candidates supplied for the night (raw.candidates), if any.
select distinct user_id, track_id from raw.candidates where run_date = $run_date
