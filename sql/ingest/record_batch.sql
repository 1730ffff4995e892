-- One row of ops.batches for a (file, table) that this run ingested.
insert into ops.batches values (
    $batch_id, $table_name, $source_format, $source_file, $rows_read, $rows_loaded, $rows_duplicate,
    $rows_quarantined, $rows_excluded, $ignored_columns, now()
)
