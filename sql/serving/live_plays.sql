-- Plays since the features' cut-off that POST /v1/events accepted (the registered table live_events,
-- typed as ingest types them: sql/ingest/validate_events.sql), as the rows the per-row families read:
-- the columns and the rules of fx_events (sql/features/macros.sql) over stored plays, by the same
-- macros (sql/features/play_macros.sql). The API adds them to a request's rows; a request in their
-- session sees them as its session's earlier plays. Artist and genre: no per-row family reads them.
select
    fx_play_id(e.user_id, e.track_id, e.ts) as play_id,
    null::bigint as probe_id,
    true as is_event,
    e.user_id, e.track_id, e.ts,
    fx_day(e.ts) as day,
    fx_label(e.feedback, e.ms_played, e.skipped, $threshold_ms) as label,
    fx_early_skip(e.ms_played, e.skipped, $threshold_ms) as early_skip,
    e.session_id, e.session_position, e.context_type, e.platform, e.shuffle, e.reason_start,
    '?' as artist,
    '?' as genre
from live_events as e
