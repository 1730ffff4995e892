-- Contract checks for a staged tracks batch (temp table `stage`). genres: a list, '[a, b]' or 'a|b'.
-- domain: one of $label_domains (Config.domains), NULL when the file does not say (new items are music then,
-- a known item keeps its domain: ingest/new_tracks.sql).
with typed as (
    select
        record_number,
        clean_text(track_id) as track_id,
        clean_text(title) as title,
        clean_text(artist) as artist,
        clean_text(album) as album,
        clean_text(genres) as genres_raw,
        try_cast(whole_number(release_year) as integer) as release_year,
        whole_number(duration_ms) as duration_ms,
        real_number(danceability) as danceability,
        real_number(energy) as energy,
        real_number(valence) as valence,
        real_number(tempo) as tempo,
        real_number(acousticness) as acousticness,
        real_number(instrumentalness) as instrumentalness,
        real_number(speechiness) as speechiness,
        real_number(liveness) as liveness,
        real_number(loudness) as loudness,
        try_cast(whole_number(key) as integer) as key,
        try_cast(whole_number(mode) as integer) as mode,
        try_cast(whole_number(time_signature) as integer) as time_signature,
        lower(clean_text(domain)) as domain,
        clean_text(show_name) as show_name,
        clean_text(publisher) as publisher,
        try_cast(whole_number(chapter) as integer) as chapter,
        -- numeric text that did not parse, per column (NULL when fine)
        case when release_year is not null and try_cast(whole_number(release_year) as integer) is null then 'release_year' end as bad_release_year,
        case when duration_ms is not null and whole_number(duration_ms) is null then 'duration_ms' end as bad_duration_ms,
        case when chapter is not null and try_cast(whole_number(chapter) as integer) is null then 'chapter' end as bad_chapter,
        concat_ws(', ',
            case when danceability is not null and real_number(danceability) is null then 'danceability' end,
            case when energy is not null and real_number(energy) is null then 'energy' end,
            case when valence is not null and real_number(valence) is null then 'valence' end,
            case when tempo is not null and real_number(tempo) is null then 'tempo' end,
            case when acousticness is not null and real_number(acousticness) is null then 'acousticness' end,
            case when instrumentalness is not null and real_number(instrumentalness) is null then 'instrumentalness' end,
            case when speechiness is not null and real_number(speechiness) is null then 'speechiness' end,
            case when liveness is not null and real_number(liveness) is null then 'liveness' end,
            case when loudness is not null and real_number(loudness) is null then 'loudness' end,
            case when key is not null and try_cast(whole_number(key) as integer) is null then 'key' end,
            case when mode is not null and try_cast(whole_number(mode) as integer) is null then 'mode' end,
            case when time_signature is not null and try_cast(whole_number(time_signature) as integer) is null then 'time_signature' end
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
        * exclude (genres_raw, bad_release_year, bad_duration_ms, bad_chapter, bad_numbers),
        nullif(concat_ws('; ',
            case when track_id is null then 'missing track_id' else key_problem('track_id', track_id, $max_id_chars) end,
            text_problem('title', title),
            text_problem('artist', artist),
            text_problem('album', album),
            text_problem('show_name', show_name),
            text_problem('publisher', publisher),
            case when domain is not null and not list_contains($label_domains, domain)
                 then 'domain ' || printable(left(domain, $max_quoted_chars)) || ' is not one of ' || array_to_string($label_domains, ', ') end,
            case when bad_chapter is not null then 'chapter is not an integer' end,
            case when chapter <= 0 then 'chapter must be positive' end,
            text_problem('genres', genres_raw),
            case when genres_raw is not null and genres is null then 'genres is not a list: ' || printable(left(genres_raw, $max_quoted_chars)) end,
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
