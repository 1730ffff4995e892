-- Contract checks for a staged tracks batch (temp table `stage`). genres: a list, '[a, b]' or 'a|b'.
with typed as (
    select
        record_number,
        nullif(trim(cast(track_id as varchar)), '') as track_id,
        nullif(trim(cast(title as varchar)), '') as title,
        nullif(trim(cast(artist as varchar)), '') as artist,
        nullif(trim(cast(album as varchar)), '') as album,
        nullif(trim(cast(genres as varchar)), '') as genres_raw,
        try_cast(release_year as integer) as release_year,
        try_cast(duration_ms as bigint) as duration_ms,
        try_cast(danceability as double) as danceability,
        try_cast(energy as double) as energy,
        try_cast(valence as double) as valence,
        try_cast(tempo as double) as tempo,
        try_cast(acousticness as double) as acousticness,
        try_cast(instrumentalness as double) as instrumentalness,
        try_cast(speechiness as double) as speechiness,
        try_cast(liveness as double) as liveness,
        try_cast(loudness as double) as loudness,
        try_cast(key as integer) as key,
        try_cast(mode as integer) as mode,
        try_cast(time_signature as integer) as time_signature,
        -- numeric text that did not parse, per column (NULL when fine)
        case when release_year is not null and try_cast(release_year as integer) is null then 'release_year' end as bad_release_year,
        case when duration_ms is not null and try_cast(duration_ms as bigint) is null then 'duration_ms' end as bad_duration_ms,
        concat_ws(', ',
            case when danceability is not null and try_cast(danceability as double) is null then 'danceability' end,
            case when energy is not null and try_cast(energy as double) is null then 'energy' end,
            case when valence is not null and try_cast(valence as double) is null then 'valence' end,
            case when tempo is not null and try_cast(tempo as double) is null then 'tempo' end,
            case when acousticness is not null and try_cast(acousticness as double) is null then 'acousticness' end,
            case when instrumentalness is not null and try_cast(instrumentalness as double) is null then 'instrumentalness' end,
            case when speechiness is not null and try_cast(speechiness as double) is null then 'speechiness' end,
            case when liveness is not null and try_cast(liveness as double) is null then 'liveness' end,
            case when loudness is not null and try_cast(loudness as double) is null then 'loudness' end,
            case when key is not null and try_cast(key as integer) is null then 'key' end,
            case when mode is not null and try_cast(mode as integer) is null then 'mode' end,
            case when time_signature is not null and try_cast(time_signature as integer) is null then 'time_signature' end
        ) as bad_numbers
    from stage
),

listed as (
    select
        * exclude (genres_raw),
        case
            when genres_raw is null then null
            when genres_raw like '[%' then try_cast(genres_raw as varchar[])
            else string_split(genres_raw, '|')
        end as genres,
        genres_raw
    from typed
),

checked as (
    select
        * exclude (genres_raw, bad_release_year, bad_duration_ms, bad_numbers),
        nullif(concat_ws('; ',
            case when track_id is null then 'missing track_id' end,
            case when genres_raw is not null and genres is null then 'genres is not a list: ' || genres_raw end,
            case when bad_release_year is not null then 'release_year is not an integer' end,
            case when release_year not between 1900 and year(current_date) + 1 then 'release_year out of range' end,
            case when bad_duration_ms is not null then 'duration_ms is not an integer' end,
            case when duration_ms <= 0 then 'duration_ms must be positive' end,
            case when bad_numbers <> '' then 'not a number: ' || bad_numbers end,
            case when greatest(danceability, energy, valence, acousticness, instrumentalness, speechiness, liveness) > 1
                   or least(danceability, energy, valence, acousticness, instrumentalness, speechiness, liveness) < 0
                 then 'audio features outside 0..1' end,
            case when key not between -1 and 11 then 'key must be -1..11' end,
            case when mode not in (0, 1) then 'mode must be 0 or 1' end
        ), '') as reason
    from listed
)

select * from checked
