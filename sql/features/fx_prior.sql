-- fx_prior (a temp view): the global dislike rate of all plays before each day of the rows being
-- built, the prior that listener and track dislike rates are smoothed towards ($smoothing
-- pseudo-plays; $prior, feature_prior, before any play). Read from fx_state_global (features.state_global)'s running totals.
select d.day, coalesce((g.dislikes + $prior * $smoothing) / (g.plays + $smoothing), $prior) as prior
from (select distinct day from fx_rows_out) as d
asof left join fx_state_global as g on d.day > g.day
