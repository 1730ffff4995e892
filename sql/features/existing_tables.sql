-- Feature tables that exist already (the first build creates them).
select table_name from information_schema.tables where table_catalog = 'lake' and table_schema = 'features'
