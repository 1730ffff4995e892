-- Map tracks without a mapping to their current text.
insert into embeddings.track_text
select track_id, content_hash, now()
from track_texts as t
where not exists (select 1 from embeddings.track_text as c where c.track_id = t.track_id)
