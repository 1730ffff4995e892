-- Data files under the lake that no snapshot references (left by a writer that died before its commit),
-- written more than $hours hours ago: a live writer's files are unreferenced until it commits, so young
-- files are left alone. Returns the paths deleted.
select path from ducklake_delete_orphaned_files('lake', older_than => now() - to_hours(cast($hours as bigint)))
