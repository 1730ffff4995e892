-- The latest attempts of nightly runs (ops.runs), newest first.
select run_date, status, model_version, rows, seconds, reason, started_at, finished_at
from ops.runs
order by coalesce(finished_at, started_at) desc
limit $limit
