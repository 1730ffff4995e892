-- The text that describes each track for the sentence model: title, artist, album and genres.
-- Tracks with no text at all (MSSD) get none.
with texts as (
    select
        track_id,
        concat_ws(' | ', title, artist, album, array_to_string(genres, ', ')) as text
    from raw.tracks
)

select track_id, text, substr(sha256(text), 1, 24) as content_hash
from texts
where text <> ''
