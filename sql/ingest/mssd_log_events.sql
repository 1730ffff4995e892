-- MSSD session logs (`src`, all text) mapped onto the events contract.
--   user_id: MSSD has no user ids; each session is its own listener, 'mssd:<session_id>'.
--   ts: the log has a date and an hour only; plays are placed at that hour + (position - 1) seconds,
--       which keeps the order within a session (docs/ingest.md).
--   skipped = skip_2, MSSD's label (skipped after a brief play); ms_played is unknown (NULL).
select
    record_number,
    'mssd:' || nullif(trim(session_id), '') as user_id,
    nullif(trim(track_id_clean), '') as track_id,
    coalesce(
        cast(
            try_cast(date as date)
            + to_hours(case when try_cast(hour_of_day as integer) between 0 and 23 then try_cast(hour_of_day as integer) end)
            + to_seconds(try_cast(session_position as integer) - 1)
        as varchar),
        'date=' || coalesce(date, 'NULL') || ' hour_of_day=' || coalesce(hour_of_day, 'NULL')
    ) as ts,
    null as ms_played,
    skip_2 as skipped,
    null as feedback,
    hist_user_behavior_reason_start as reason_start,
    hist_user_behavior_reason_end as reason_end,
    session_id,
    session_position,
    context_type,
    null as platform,
    hist_user_behavior_is_shuffle as shuffle
from src
