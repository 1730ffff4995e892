-- The MSSD-only track columns, for tracks of this batch that passed the checks and are not stored yet.
select
    c.track_id,
    try_cast(s.us_popularity_estimate as double) as us_popularity_estimate,
    try_cast(s.beat_strength as double) as beat_strength,
    try_cast(s.bounciness as double) as bounciness,
    try_cast(s.dyn_range_mean as double) as dyn_range_mean,
    try_cast(s.flatness as double) as flatness,
    try_cast(s.mechanism as double) as mechanism,
    try_cast(s.organism as double) as organism,
    [try_cast(s.acoustic_vector_0 as double), try_cast(s.acoustic_vector_1 as double),
     try_cast(s.acoustic_vector_2 as double), try_cast(s.acoustic_vector_3 as double),
     try_cast(s.acoustic_vector_4 as double), try_cast(s.acoustic_vector_5 as double),
     try_cast(s.acoustic_vector_6 as double), try_cast(s.acoustic_vector_7 as double)] as acoustic_vector,
    $batch_id as batch_id,
    now() as ingested_at
from src as s
join checked as c using (record_number)
where c.reason is null
  and not exists (select 1 from raw.mssd_track_features as m where m.track_id = c.track_id)
qualify row_number() over (partition by c.track_id order by s.record_number desc) = 1
