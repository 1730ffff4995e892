-- The end of one attempt of a night in ops.runs (its running row, if any, is deleted after: end_running.sql).
insert into ops.runs (run_id, run_date, started_at, finished_at, status, model_version, rows, seconds, reason, owner, risk_threshold)
values (
    $run_id, $run_date,
    coalesce((select any_value(started_at) from ops.runs where run_id = $run_id and status = 'running'), $started_at),
    now(), $status, $model_version, $rows, $seconds, $reason,
    (select any_value(owner) from ops.runs where run_id = $run_id and status = 'running'),
    $risk_threshold
)
