-- features.<state>: the running totals the build extended into the temp table fx_<state> (features._extend_state),
-- from the first day it makes again on.
insert into {table} select * from fx_{name} where day >= $from_day
