-- The rows features are computed for: every play before the cut-off ($cutoff) and the probe rows
-- (temp table `probes`: candidate (user, track) pairs to score, at the cut-off, with a context).
-- Probes carry no outcome, so they never count in anyone's history.
-- label: feedback 'dislike', or played less than $threshold_ms, or (ms_played unknown) skipped.
with events as (
    select
        hash(e.user_id, e.track_id, e.ts) as play_id,
        true as is_event,
        e.user_id, e.track_id, e.ts,
        (coalesce(e.feedback = 'dislike', false) or coalesce(e.ms_played < $threshold_ms, e.skipped, false))::int as label,
        coalesce(e.ms_played < $threshold_ms, e.skipped, false)::int as early_skip,
        e.session_id, e.session_position, e.context_type, e.platform, e.shuffle, e.reason_start
    from raw.events as e
    where e.ts < $cutoff
),

probe_rows as (
    select
        hash('probe', p.probe_id) as play_id,
        false as is_event,
        p.user_id, p.track_id, p.ts,
        null::int as label,
        null::int as early_skip,
        p.session_id, p.session_position, p.context_type, p.platform, p.shuffle, p.reason_start
    from probes as p
)

select
    r.*,
    -- days since 1970-01-01: history features are as of the start of this day (UTC)
    floor(epoch(r.ts) / 86400)::int as day,  -- floor: a cast of the quotient would round (noon boundaries)
    coalesce(t.artist, '?') as artist,
    coalesce(t.genres[1], '?') as genre
from (select * from events union all select * from probe_rows) as r
left join raw.tracks as t on t.track_id = r.track_id
