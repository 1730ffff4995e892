-- Quarantined records by target table, kind and reason (for `skipify status`). A record with several
-- problems counts once under each; reasons that carry the offending value ('ts is not a timestamp: abc')
-- are grouped by the text before the colon.
select
    q.table_name,
    q.kind,
    split_part(p.part, ': ', 1) as reason,
    count(*) as n
from quarantine.rows as q, unnest(string_split(q.reason, '; ')) as p(part)
group by all
order by n desc, q.table_name, reason
