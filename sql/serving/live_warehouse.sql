-- The API's in-memory DuckDB as a warehouse of the plays POST /v1/events accepted: raw.events reads the
-- registered table live_events (skipify.events.LIVE_SCHEMA, as ingest types plays), and raw.tracks holds the
-- snapshot's tracks (the registered table live_tracks: track_id, artist, genre, domain as fx_track_keys gave them),
-- whose genre the session's counts by genre read (families/40_session_context.sql) and whose domain the label's
-- threshold (fx_abandon_ms). The feature macros (sql/features/) then make live
-- plays rows with fx_events itself (sql/serving/live_plays.sql). Run once per database: each cursor
-- registers live_events (empty until it has plays) before it loads the macros.
create schema raw;
create table raw.tracks as select track_id, artist, [genre] as genres, domain, null::varchar as show_name from live_tracks;
create view raw.events as select * from live_events;
