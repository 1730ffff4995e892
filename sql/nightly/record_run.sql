-- One attempt of a night in ops.runs.
insert into ops.runs values (
    $run_id, $run_date, $started_at, now(), $status, $model_version, $rows, $seconds, $reason
)
