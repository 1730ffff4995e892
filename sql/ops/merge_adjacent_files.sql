-- Compaction: each night and each ingest adds small Parquet files; DuckLake merges adjacent ones into
-- larger files (the small ones stay for older snapshots until those expire: expire_snapshots.sql).
-- Returns, per table merged, the files processed and created.
select schema_name, table_name, files_processed, files_created from ducklake_merge_adjacent_files('lake')
