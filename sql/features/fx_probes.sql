-- fx_rows_out for scoring: the probes (temp table `probes`: pairs to score, with a context) as rows
-- as of the cut-off: their history is that of the cut-off's day ($cutoff, its day), their context
-- their own ts. A probe has no outcome (label NULL): it never counts in anyone's history.
select
    hash('probe', p.probe_id) as play_id,
    p.probe_id,
    false as is_event,
    p.user_id, p.track_id, p.ts,
    floor(epoch($cutoff) / 86400)::int as day,
    null::int as label,
    null::int as early_skip,
    p.session_id, p.session_position, p.context_type, p.platform, p.shuffle, p.reason_start,
    coalesce(k.artist, '?') as artist,
    coalesce(k.genre, '?') as genre,
    coalesce(k.domain, 'music') as domain
from probes as p
left join fx_track_keys() as k on k.track_id = p.track_id
