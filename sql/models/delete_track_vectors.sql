-- Remove a version's track vectors before writing them again (a rewrite never doubles them).
delete from embeddings.track_vectors where model_version = $version
