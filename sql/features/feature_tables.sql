-- The definition each existing table of the features schema was last built with (ops.feature_tables).
select d.table_name, arg_max(d.definition, d.built_at) as definition
from ops.feature_tables as d
join duckdb_tables() as t
  on t.database_name = 'lake' and t.schema_name = 'features' and t.table_name = d.table_name
group by d.table_name
