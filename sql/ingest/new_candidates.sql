-- Good candidate rows not in raw.candidates yet, one per (run_date, user_id, track_id).
with firsts as (
    select *
    from checked
    where reason is null
    qualify row_number() over (partition by run_date, user_id, track_id order by record_number) = 1
)

select f.run_date, f.user_id, f.track_id, $batch_id as batch_id, now() as ingested_at
from firsts as f
where not exists (
    select 1 from raw.candidates as c
    where c.run_date = f.run_date and c.user_id = f.user_id and c.track_id = f.track_id
)
