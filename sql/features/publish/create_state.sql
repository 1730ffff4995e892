-- features.<state>: made with the columns of its rows held in the temp table fx_<state>, when it does not exist yet.
create table if not exists {table} as select * from fx_{name} limit 0
