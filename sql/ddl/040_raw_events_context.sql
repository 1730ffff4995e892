-- raw.events_context: the event columns known when a play starts (roles key and context in
-- ops.column_policy). Features describing an event read the event itself only through this view.
CREATE OR REPLACE VIEW raw.events_context AS
select
    user_id,
    track_id,
    ts,
    reason_start,
    session_id,
    session_position,
    context_type,
    platform,
    shuffle,
    source_format
from raw.events;
