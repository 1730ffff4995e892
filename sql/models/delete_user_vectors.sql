-- Remove a version's user vectors before writing them again (a rewrite never doubles them).
delete from embeddings.user_vectors where model_version = $version
