-- MSSD log rows, typed, for the plays of this batch that passed the events checks (`checked`)
-- and are not stored yet (key: session_id, session_position).
select
    clean_text(s.session_id) as session_id,
    try_cast(whole_number(s.session_position) as integer) as session_position,
    try_cast(whole_number(s.session_length) as integer) as session_length,
    clean_text(s.track_id_clean) as track_id_clean,
    try_cast(s.skip_1 as boolean) as skip_1,
    try_cast(s.skip_2 as boolean) as skip_2,
    try_cast(s.skip_3 as boolean) as skip_3,
    try_cast(s.not_skipped as boolean) as not_skipped,
    try_cast(whole_number(s.context_switch) as integer) as context_switch,
    try_cast(whole_number(s.no_pause_before_play) as integer) as no_pause_before_play,
    try_cast(whole_number(s.short_pause_before_play) as integer) as short_pause_before_play,
    try_cast(whole_number(s.long_pause_before_play) as integer) as long_pause_before_play,
    try_cast(whole_number(s.hist_user_behavior_n_seekfwd) as integer) as hist_user_behavior_n_seekfwd,
    try_cast(whole_number(s.hist_user_behavior_n_seekback) as integer) as hist_user_behavior_n_seekback,
    try_cast(s.hist_user_behavior_is_shuffle as boolean) as hist_user_behavior_is_shuffle,
    try_cast(whole_number(s.hour_of_day) as integer) as hour_of_day,
    read_date(s.date, $date_form) as date,
    try_cast(s.premium as boolean) as premium,
    s.context_type,
    s.hist_user_behavior_reason_start,
    s.hist_user_behavior_reason_end,
    c.user_id,
    c.ts,
    $batch_id as batch_id,
    now() as ingested_at
from src as s
join checked as c using (record_number)
where c.reason is null
  and not exists (
      select 1 from raw.mssd_session_logs as m
      where m.session_id = clean_text(s.session_id) and m.session_position = try_cast(whole_number(s.session_position) as integer)
  )
qualify row_number() over (partition by clean_text(s.session_id), try_cast(whole_number(s.session_position) as integer) order by s.record_number) = 1
