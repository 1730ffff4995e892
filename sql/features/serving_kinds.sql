-- The snapshot's keys (fx_rows_out from fx_serving_keys.sql) but the unknown row: which listeners
-- and tracks have plays (pair rows) or are known (user and track rows), and each track's artist, genre and domain.
select kind, user_id, track_id, artist, genre, domain from fx_rows_out where kind <> 'none'
