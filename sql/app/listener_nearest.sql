-- Tracks nearest to one listener's taste in the two-tower space of a version: the lowest dislike
-- interaction <user, track> (the dot product the towers learned), with the highest for contrast.
with me as (
    select vector from embeddings.user_vectors where model_version = $version and user_id = $user_id
),
scored as (
    select v.track_id, t.title, t.artist, t.genres[1] as genre, list_dot_product(v.vector, (select vector from me)) as interaction
    from embeddings.track_vectors as v
    left join raw.tracks as t using (track_id)
    where v.model_version = $version
)
(select 'nearest' as side, * from scored order by interaction, track_id limit 10)
union all
(select 'furthest', * from scored order by interaction desc, track_id limit 5)
