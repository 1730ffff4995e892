-- Serving snapshot: what the catalogue says of each track (raw.tracks), as features/fx_rows.sql and
-- features/track_history.sql read it; unknown tracks get artist and genre '?'.
select
    track_id,
    coalesce(artist, '?') as t_artist,
    coalesce(genres[1], '?') as t_genre,
    release_year,
    duration_ms / 1000.0 as t_duration_s,
    danceability as t_danceability,
    energy as t_energy,
    valence as t_valence,
    tempo as t_tempo,
    acousticness as t_acousticness,
    instrumentalness as t_instrumentalness,
    speechiness as t_speechiness,
    liveness as t_liveness,
    loudness as t_loudness,
    mode as t_mode
from raw.tracks
order by track_id
