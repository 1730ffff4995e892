-- Good rows of the checked events batch that are not in raw.events yet: one per key
-- (user_id, track_id, ts), the first in the file winning. $batch_min_ts/$batch_max_ts bound the batch so that
-- DuckLake only opens the files whose ts range overlaps it.
with firsts as (
    select *
    from checked
    where reason is null
    qualify row_number() over (partition by user_id, track_id, ts order by record_number) = 1
)

select
    f.user_id, f.track_id, f.ts, f.ms_played, f.skipped, f.feedback, f.reason_start, f.reason_end,
    f.session_id, f.session_position, f.context_type, f.platform, f.shuffle,
    $source_format as source_format,
    $batch_id as batch_id,
    now() as ingested_at
from firsts as f
where not exists (
    select 1
    from raw.events as e
    where e.ts between $batch_min_ts and $batch_max_ts
      and e.user_id = f.user_id and e.track_id = f.track_id and e.ts = f.ts
)
