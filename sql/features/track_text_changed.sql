-- Forget the mapping of tracks whose text changed (their new mapping is inserted next).
delete from embeddings.track_text
where track_id in (
    select t.track_id
    from track_texts as t
    join embeddings.track_text as c using (track_id)
    where c.content_hash <> t.content_hash
)
