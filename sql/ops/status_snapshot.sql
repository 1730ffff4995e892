-- The lake's current snapshot (for `skipify status`).
select max(snapshot_id) from ducklake_snapshots('lake')
