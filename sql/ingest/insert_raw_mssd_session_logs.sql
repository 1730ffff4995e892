-- raw.mssd_session_logs: the MSSD columns of the plays a batch loaded (fresh: ingest/new_mssd_session_logs.sql).
insert into raw.mssd_session_logs select * from fresh
