-- The tracks a night's taste candidates are drawn from: every known track (of raw.tracks or played before the
-- cut-off), as models/embedding_probes.sql reads them.
select track_id from raw.tracks
union
select track_id from raw.events where ts < $cutoff
order by track_id
