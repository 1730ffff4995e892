-- The track vectors of one version (from the registered frame new_track_vectors).
insert into embeddings.track_vectors
select $version, $as_of, track_id, vector from new_track_vectors
