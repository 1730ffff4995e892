-- A night starts: recorded as running (replaced by its end, record_run.sql) unless it is already (a retry).
insert into ops.runs (run_id, run_date, started_at, status, owner)
select $run_id, $run_date, $started_at, 'running', $owner
where not exists (select 1 from ops.runs where run_id = $run_id)
