-- embeddings.text_embeddings: the vectors just encoded (the registered Arrow table new_vectors: content_hash,
-- model_name, text, embedding), stamped with the time they were written (skipify.text.embed_tracks).
insert into embeddings.text_embeddings
select *, now() from new_vectors
