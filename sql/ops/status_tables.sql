-- Tables and views of the lake with their schema (for `skipify status`).
select table_schema, table_name, table_type
from information_schema.tables
where table_catalog = 'lake' and table_schema <> 'main'
order by table_schema, table_name
