-- features.training_rows: every play of features.labels joined to its row in each family (features.rows_sql,
-- sql/features/rows_join.sql): what training reads.
create or replace view features.training_rows as
{rows}
