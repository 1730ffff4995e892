-- raw.candidates: a batch's new candidate pairs (fresh: ingest/new_candidates.sql).
insert into raw.candidates select * from fresh
