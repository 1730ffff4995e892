-- Data files per table of the lake (for `skipify status`): many small files mean compaction is due (`skipify maintain`).
select
    s.schema_name || '.' || t.table_name as table_name,
    t.file_count as files,
    t.file_size_bytes as bytes,
    t.delete_file_count as delete_files
from ducklake_table_info('lake') as t
join __ducklake_metadata_lake.ducklake_schema as s on s.schema_id = t.schema_id and s.end_snapshot is null
order by 1
