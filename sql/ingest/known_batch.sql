-- The tables a batch (by content hash) was already loaded into; none if it is new.
select distinct table_name from ops.batches where batch_id = $batch_id
