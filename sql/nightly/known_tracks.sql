-- Tracks that may be candidates: the catalogue and every track played before the cut-off.
select track_id from raw.tracks
union
select distinct track_id from raw.events where ts < $cutoff
order by track_id
