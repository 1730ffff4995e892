-- Contract checks for a staged events batch (temp table `stage`, one row per record).
-- Output: the typed record plus `reason`, NULL for a good row, else every problem found ('; '-separated).
with typed as (
    select
        record_number,
        clean_text(user_id) as user_id,
        clean_text(track_id) as track_id,
        try_cast(ts as timestamptz) as ts,
        whole_number(ms_played) as ms_played,
        try_cast(skipped as boolean) as skipped,
        lower(clean_text(feedback)) as feedback,
        clean_text(reason_start) as reason_start,
        clean_text(reason_end) as reason_end,
        clean_text(session_id) as session_id,
        try_cast(whole_number(session_position) as integer) as session_position,
        clean_text(context_type) as context_type,
        clean_text(platform) as platform,
        try_cast(shuffle as boolean) as shuffle,
        -- raw text, to tell "missing" from "not parseable"
        cast(ts as varchar) as ts_raw,
        cast(ms_played as varchar) as ms_played_raw,
        cast(skipped as varchar) as skipped_raw,
        cast(session_position as varchar) as session_position_raw,
        cast(shuffle as varchar) as shuffle_raw
    from stage
),

checked as (
    select
        * exclude (ts_raw, ms_played_raw, skipped_raw, session_position_raw, shuffle_raw),
        nullif(concat_ws('; ',
            case when user_id is null then 'missing user_id' else key_problem('user_id', user_id, $max_id_chars) end,
            case when track_id is null then 'missing track_id' else key_problem('track_id', track_id, $max_id_chars) end,
            key_problem('session_id', session_id, $max_id_chars),
            key_problem('reason_start', reason_start, $max_label_chars),
            key_problem('reason_end', reason_end, $max_label_chars),
            key_problem('context_type', context_type, $max_label_chars),
            key_problem('platform', platform, $max_label_chars),
            case
                when ts_raw is null then 'missing ts'
                when ts is null then 'ts is not a timestamp: ' || printable(left(ts_raw, $max_quoted_chars))
                when ts < $min_ts then 'ts before ' || cast($min_ts as varchar)
                when ts > $max_ts then 'ts in the future: ' || printable(left(ts_raw, $max_quoted_chars))
            end,
            case
                when ms_played_raw is not null and ms_played is null then 'ms_played is not an integer: ' || printable(left(ms_played_raw, $max_quoted_chars))
                when ms_played < 0 then 'ms_played is negative'
            end,
            case when skipped_raw is not null and skipped is null then 'skipped is not a boolean: ' || printable(left(skipped_raw, $max_quoted_chars)) end,
            case when feedback not in ('like', 'dislike') then 'feedback must be like, dislike or empty: ' || printable(left(feedback, $max_quoted_chars)) end,
            case
                when session_position_raw is not null and session_position is null
                    then 'session_position is not an integer: ' || printable(left(session_position_raw, $max_quoted_chars))
                when session_position < 1 then 'session_position must be >= 1'
            end,
            case when shuffle_raw is not null and shuffle is null then 'shuffle is not a boolean: ' || printable(left(shuffle_raw, $max_quoted_chars)) end
        ), '') as reason
    from typed
)

select * from checked
