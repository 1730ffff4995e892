-- The current text vector of every track, for the model $model_name.
select m.track_id, e.embedding
from embeddings.track_text as m
join embeddings.text_embeddings as e using (content_hash)
where e.model_name = $model_name
