-- Contract checks for staged candidates (temp table `stage`). A candidate's track must be known
-- (in raw.tracks or raw.events): a track without any attribute cannot be scored. Unknown users are
-- accepted: they are scored through the cold-start path.
with typed as (
    select
        record_number,
        try_cast(run_date as date) as run_date,
        clean_text(user_id) as user_id,
        clean_text(track_id) as track_id,
        cast(run_date as varchar) as run_date_raw
    from stage
),

keyed as (
    -- the key the lake is joined on: never a value the rules refuse (a NUL in a join's key breaks DuckLake's reads)
    select *, case when key_problem('track_id', track_id, $max_id_chars) is null then track_id end as join_track_id
    from typed
),

known_tracks as (
    select track_id from raw.tracks
    union
    select distinct track_id from raw.events
),

checked as (
    select
        t.* exclude (run_date_raw, join_track_id),
        nullif(concat_ws('; ',
            case when run_date_raw is null then 'missing run_date' when run_date is null then 'run_date is not a date: ' || printable(left(run_date_raw, $max_quoted_chars)) end,
            case when user_id is null then 'missing user_id' else key_problem('user_id', user_id, $max_id_chars) end,
            case
                when t.track_id is null then 'missing track_id'
                when t.join_track_id is null then key_problem('track_id', t.track_id, $max_id_chars)
                when k.track_id is null then 'unknown track_id: ' || t.track_id
            end
        ), '') as reason
    from keyed as t
    left join known_tracks as k on k.track_id = t.join_track_id
)

select * from checked
