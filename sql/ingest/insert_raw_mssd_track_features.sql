-- raw.mssd_track_features: the MSSD columns of the tracks a batch loaded (fresh: ingest/new_mssd_track_features.sql).
insert into raw.mssd_track_features select * from fresh
