-- The latest attempts of nightly runs (ops.runs), newest first.
select run_date, status, model_version, rows, seconds, reason, finished_at
from ops.runs
order by finished_at desc
limit $limit
