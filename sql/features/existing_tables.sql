-- Feature tables (and views) that exist already (the first build creates them). duckdb_tables() and
-- duckdb_views(): information_schema.tables costs up to 0.4 s on a lake, these a tenth of it.
select table_name from duckdb_tables() where database_name = 'lake' and schema_name = 'features'
union all
select view_name from duckdb_views() where database_name = 'lake' and schema_name = 'features'
