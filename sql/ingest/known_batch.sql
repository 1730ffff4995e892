-- The tables each of the run's batches (by content hash, $batch_ids) was already loaded into; none for a new one.
-- One query for the whole run: a night re-reading hundreds of event-log files it loaded before costs one look.
select distinct batch_id, table_name from ops.batches where batch_id in (select unnest($batch_ids))
