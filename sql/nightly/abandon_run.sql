-- A run whose owner is gone: it will never finish. Its staged scores are cleared with it (abandon_staged*.sql).
update ops.runs
set status = 'abandoned', finished_at = now(), reason = $reason
where run_id = $run_id and status = 'running'
