-- raw.events: a batch's new plays (the temp table fresh: ingest/new_events.sql).
insert into raw.events select * from fresh
