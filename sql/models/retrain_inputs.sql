-- What a retrain as of a day reads of the plays (skipify.train.retrain_key): how many lie before its
-- cut-off, from how many ingest batches, and when the newest of them arrived. A late file for an earlier
-- day, or a listener forgotten, changes them: the retrain then trains again.
select count(*) as plays, count(distinct batch_id) as batches, max(ingested_at) as newest_ingest
from raw.events
where ts < $cutoff
