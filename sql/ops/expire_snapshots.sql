-- Snapshots older than $days days (the latest is always kept): no reader can ask for them after this.
select snapshot_id from ducklake_expire_snapshots('lake', older_than => now() - to_days(cast($days as integer)))
