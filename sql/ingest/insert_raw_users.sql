-- raw.users: a batch's new and changed listeners (fresh: ingest/new_users.sql).
insert into raw.users select * from fresh
