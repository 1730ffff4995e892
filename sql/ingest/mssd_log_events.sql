-- MSSD session logs (`src`, all text) mapped onto the events contract.
--   user_id: MSSD has no user ids; each session is its own listener, 'mssd:<session_id>'.
--   ts: the log has a date and an hour only; plays are placed at that hour + (position - 1) seconds,
--       which keeps the order within a session (docs/ingest.md). Dates are read in the file's own form
--       ($date_form, decided by mssd_date_form.sql); a date that is not in it is named in the reason.
--   skipped = skip_2, MSSD's label (skipped after a brief play); ms_played is unknown (NULL).
select
    record_number,
    'mssd:' || clean_text(session_id) as user_id,
    clean_text(track_id_clean) as track_id,
    coalesce(
        cast(
            read_date(date, $date_form)
            + to_hours(case when whole_number(hour_of_day) between 0 and 23 then whole_number(hour_of_day) end)
            + to_seconds(whole_number(session_position) - 1)
        as varchar),
        'date=' || coalesce(date, 'NULL')
            || case when read_date(date, $date_form) is null and date is not null
                    then ' (expected ' || $date_form || ', the form of this file''s dates)' else '' end
            || ' hour_of_day=' || coalesce(hour_of_day, 'NULL')
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
