-- The quarantined records of the listeners being forgotten (temp table `forgotten(user_id)`): by the id the record
-- names (user_id, or a Spotify export's username), or anywhere in the record or its reason.
delete from quarantine.rows as q
where exists (
    select 1 from forgotten as f
    where json_extract_string(q.record, '$.user_id') = f.user_id
       or json_extract_string(q.record, '$.username') = f.user_id
       or contains(q.record, f.user_id)
       or contains(q.reason, f.user_id)
)
