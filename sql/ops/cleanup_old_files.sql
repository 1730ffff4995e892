-- Data files scheduled for deletion (used only by expired snapshots, or merged away) more than $days days ago:
-- a reader holding an older snapshot (an analyst's open transaction) keeps its files within the retention.
-- Returns the paths deleted.
select path from ducklake_cleanup_old_files('lake', older_than => now() - to_days(cast($days as integer)))
