-- Every track of the catalogue with the artist and the (first) genre its plays are keyed by in the
-- features (fx_track_keys, sql/features/macros.sql: one definition): what the history aggregates of
-- the table model compare a row's track with (skipify/models/recent.py).
select * from fx_track_keys() order by track_id
