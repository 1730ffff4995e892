-- Every track's content, what the networks read of a track besides its id: the MiniLM vector of its
-- current text for the model $model_name (NULL while not embedded) and its audio descriptors, each
-- on a fixed 0..1 scale (Spotify's ranges: tempo up to 250 BPM, loudness down to -60 dB), 0 where
-- unknown, then a flag for "no audio descriptors" (real exports often have none).
select
    t.track_id,
    e.embedding,
    [
        coalesce(t.danceability, 0), coalesce(t.energy, 0), coalesce(t.valence, 0),
        coalesce(least(t.tempo / 250.0, 1), 0), coalesce(t.acousticness, 0), coalesce(t.instrumentalness, 0),
        coalesce(t.speechiness, 0), coalesce(t.liveness, 0), coalesce(least(-t.loudness / 60.0, 1), 0),
        coalesce(t.mode, 0), (t.danceability is null and t.energy is null)::int
    ]::float[] as audio
from raw.tracks as t
left join embeddings.track_text as m on m.track_id = t.track_id
left join embeddings.text_embeddings as e on e.content_hash = m.content_hash and e.model_name = $model_name
