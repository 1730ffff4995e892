-- grain:
-- features.state_global: per day with plays, running totals over every listener: plays, dislikes
-- (the prior that listener and track dislike rates are smoothed towards, fx_prior.sql).
select day, count(*) as plays, sum(label)::bigint as dislikes
from fx_rows_out
group by day
