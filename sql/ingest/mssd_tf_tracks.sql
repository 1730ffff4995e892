-- MSSD track features (`src`, all text) mapped onto the tracks contract.
-- duration is in seconds; mode is 'major'/'minor'.
select
    record_number,
    track_id,
    cast(round(real_number(duration) * 1000) as bigint) as duration_ms,
    release_year,
    acousticness, danceability, energy, instrumentalness, key, liveness, loudness,
    case lower(clean_text(mode)) when 'major' then '1' when 'minor' then '0' else mode end as mode,
    speechiness, tempo, time_signature, valence
from src
