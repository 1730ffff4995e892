-- Nights recorded as running (started, no end recorded), other than this one.
select run_id, run_date, started_at, owner
from ops.runs
where status = 'running' and run_id <> $run_id
