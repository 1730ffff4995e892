-- raw.tracks: the tracks a batch brings again (fresh: ingest/new_tracks.sql, changed rows only), replaced by
-- ingest/insert_raw_tracks.sql in the same transaction.
delete from raw.tracks where track_id in (select track_id from fresh)
