-- The MSSD-only track columns, for tracks of this batch that passed the checks and are not stored yet.
select
    c.track_id,
    real_number(s.us_popularity_estimate) as us_popularity_estimate,
    real_number(s.beat_strength) as beat_strength,
    real_number(s.bounciness) as bounciness,
    real_number(s.dyn_range_mean) as dyn_range_mean,
    real_number(s.flatness) as flatness,
    real_number(s.mechanism) as mechanism,
    real_number(s.organism) as organism,
    [real_number(s.acoustic_vector_0), real_number(s.acoustic_vector_1),
     real_number(s.acoustic_vector_2), real_number(s.acoustic_vector_3),
     real_number(s.acoustic_vector_4), real_number(s.acoustic_vector_5),
     real_number(s.acoustic_vector_6), real_number(s.acoustic_vector_7)] as acoustic_vector,
    $batch_id as batch_id,
    now() as ingested_at
from src as s
join checked as c using (record_number)
where c.reason is null
  and not exists (select 1 from raw.mssd_track_features as m where m.track_id = c.track_id)
qualify row_number() over (partition by c.track_id order by s.record_number desc) = 1
