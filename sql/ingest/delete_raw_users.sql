-- raw.users: the listeners a batch brings again (fresh: ingest/new_users.sql, changed rows only), replaced by
-- ingest/insert_raw_users.sql in the same transaction.
delete from raw.users where user_id in (select user_id from fresh)
