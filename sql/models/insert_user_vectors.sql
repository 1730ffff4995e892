-- The user vectors of one version (from the registered frame new_user_vectors).
insert into embeddings.user_vectors
select $version, $as_of, user_id, vector from new_user_vectors
