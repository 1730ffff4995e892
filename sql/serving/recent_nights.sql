-- The latest $n published nights, newest first: the API keeps their at-risk lists in memory.
select distinct run_date
from ops.runs
where status = 'published'
order by run_date desc
limit $n
