-- raw.tracks: a batch's new and changed tracks (fresh: ingest/new_tracks.sql).
insert into raw.tracks select * from fresh
