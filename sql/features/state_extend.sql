-- Extends a state table by the days in a temp table of daily aggregates: the new days'
-- aggregates per key (state/<name>.sql over the plays being built). Each key's running totals carry
-- on from its last row before $from_day, the first day being rebuilt; first_day is the key's first
-- day with plays. Filled in by skipify.features (the table, its key columns, its totals; {carried}
-- is 'false' when the table is built from scratch: nothing to carry on from, and the lookup of the
-- previous rows, 0.6 s at 10M plays for state_user_track, is planned away).
insert into features.{table}
with prev as (
    select s.*
    from features.{table} as s
    semi join (select distinct {keys} from {daily}) as k on {key_match}
    where s.day < $from_day and {carried}
    qualify row_number() over (partition by {keys} order by s.day desc) = 1
)
select {columns}, coalesce(p.first_day, min(d.day) over w) as first_day
from {daily} as d
left join prev as p on {key_join}
window w as ({partition} order by d.day rows between unbounded preceding and current row)
