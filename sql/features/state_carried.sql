-- A state table's rows before the first day being built ($from_day), for the keys of the rows being
-- built (fx_rows_out): what their totals carry on from (state_extend.sql) and all that a family
-- building those rows reads of the state (fx_state_<name>). A night reads its table once, to find
-- the keys its day touches. Filled in by skipify.features (the table, its key columns).
select s.*
from features.{table} as s
semi join (select distinct {keys} from fx_rows_out) as k on {key_match}
where s.day < $from_day
