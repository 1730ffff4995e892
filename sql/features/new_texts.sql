-- Track texts (temp table `track_texts`) with no vector yet for model $model_name.
select distinct content_hash, text
from track_texts as t
where not exists (
    select 1 from embeddings.text_embeddings as e
    where e.content_hash = t.content_hash and e.model_name = $model_name
)
order by content_hash
