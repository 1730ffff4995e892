-- Upsert rows for raw.tracks, as new_users.sql does for users.
with lasts as (
    select *
    from checked
    where reason is null
    qualify row_number() over (partition by track_id order by record_number desc) = 1
),

merged as (
    select
        l.track_id,
        coalesce(l.title, t.title) as title,
        coalesce(l.artist, t.artist) as artist,
        coalesce(l.album, t.album) as album,
        coalesce(l.genres, t.genres) as genres,
        coalesce(l.release_year, t.release_year) as release_year,
        coalesce(l.duration_ms, t.duration_ms) as duration_ms,
        coalesce(l.danceability, t.danceability) as danceability,
        coalesce(l.energy, t.energy) as energy,
        coalesce(l.valence, t.valence) as valence,
        coalesce(l.tempo, t.tempo) as tempo,
        coalesce(l.acousticness, t.acousticness) as acousticness,
        coalesce(l.instrumentalness, t.instrumentalness) as instrumentalness,
        coalesce(l.speechiness, t.speechiness) as speechiness,
        coalesce(l.liveness, t.liveness) as liveness,
        coalesce(l.loudness, t.loudness) as loudness,
        coalesce(l.key, t.key) as key,
        coalesce(l.mode, t.mode) as mode,
        coalesce(l.time_signature, t.time_signature) as time_signature,
        coalesce(l.domain, t.domain, 'music') as domain,
        coalesce(l.show_name, t.show_name) as show_name,
        coalesce(l.publisher, t.publisher) as publisher,
        coalesce(l.chapter, t.chapter) as chapter,
        t.track_id is null as is_new,
        t as old
    from lasts as l
    left join raw.tracks as t on t.track_id = l.track_id
)

select
    track_id, title, artist, album, genres, release_year, duration_ms, danceability, energy, valence,
    tempo, acousticness, instrumentalness, speechiness, liveness, loudness, key, mode, time_signature,
    $source_format as source_format,
    $batch_id as batch_id,
    now() as updated_at,
    domain, show_name, publisher, chapter
from merged
where is_new
   or title is distinct from old.title
   or artist is distinct from old.artist
   or album is distinct from old.album
   or genres is distinct from old.genres
   or release_year is distinct from old.release_year
   or duration_ms is distinct from old.duration_ms
   or danceability is distinct from old.danceability
   or energy is distinct from old.energy
   or valence is distinct from old.valence
   or tempo is distinct from old.tempo
   or acousticness is distinct from old.acousticness
   or instrumentalness is distinct from old.instrumentalness
   or speechiness is distinct from old.speechiness
   or liveness is distinct from old.liveness
   or loudness is distinct from old.loudness
   or key is distinct from old.key
   or mode is distinct from old.mode
   or time_signature is distinct from old.time_signature
   or domain is distinct from old.domain
   or show_name is distinct from old.show_name
   or publisher is distinct from old.publisher
   or chapter is distinct from old.chapter
