-- The running row of a run that now ends (record_run.sql inserts its final row in the same transaction).
delete from ops.runs where run_id = $run_id and status = 'running'
