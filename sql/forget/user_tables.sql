-- Every table of the lake with a user_id column: where a listener's rows are (skipify forget).
select table_schema, table_name
from information_schema.columns
where table_catalog = 'lake' and column_name = 'user_id'
  and (table_schema, table_name) in (
      select table_schema, table_name from information_schema.tables where table_catalog = 'lake' and table_type = 'BASE TABLE')
order by table_schema, table_name
