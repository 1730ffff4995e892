-- The API's in-memory DuckDB as a warehouse of the plays POST /v1/events accepted: raw.events reads the
-- registered table live_events (skipify.events.LIVE_SCHEMA, as ingest types plays), raw.tracks is empty
-- (no per-row family reads a play's artist or genre). The feature macros (sql/features/) then make live
-- plays rows with fx_events itself (sql/serving/live_plays.sql). Run once per database: each cursor
-- registers live_events (empty until it has plays) before it loads the macros.
create schema raw;
create table raw.tracks (track_id varchar, artist varchar, genres varchar[]);
create view raw.events as select * from live_events;
