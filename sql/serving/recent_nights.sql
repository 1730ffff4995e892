-- The latest $n published nights, newest first, each with its latest published run (a night run again is
-- another run: the API's at-risk lists kept beside the snapshot are named by it).
select run_date, arg_max(run_id, finished_at) as run_id
from ops.runs
where status = 'published'
group by run_date
order by run_date desc
limit $n
