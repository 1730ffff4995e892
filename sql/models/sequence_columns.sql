-- The sequence (list-typed) columns of features.training_rows: the listening history.
select column_name
from duckdb_columns()
where database_name = 'lake' and schema_name = 'features' and table_name = 'training_rows' and data_type like '%[]'
