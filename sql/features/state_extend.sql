-- The new days' rows of a state table: running totals per key and day, from the daily aggregates
-- of the plays being built (the temp table {daily}: state/<name>.sql over them). Each key's totals
-- carry on from its last row in {state}, the temp table of the state's rows before the first day
-- being built, for the keys those days touch (sql/features/state_carried.sql, empty when the table
-- is built from scratch); first_day is the key's first day with plays. Filled in by
-- skipify.features (the tables, the key columns, the totals).
with prev as (
    select *
    from {state}
    qualify row_number() over (partition by {keys} order by day desc) = 1
)
select {columns}, coalesce(p.first_day, min(d.day) over w) as first_day
from {daily} as d
left join prev as p on {key_join}
window w as ({partition} order by d.day rows between unbounded preceding and current row)
