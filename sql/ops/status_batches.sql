-- Ingested batches per target table, with their row outcomes (for `skipify status`).
select
    table_name,
    count(distinct batch_id) as batches,
    sum(rows_read) as rows_read,
    sum(rows_loaded) as rows_loaded,
    sum(rows_duplicate) as rows_duplicate,
    sum(rows_quarantined) as rows_quarantined,
    sum(rows_excluded) as rows_excluded,
    max(ingested_at) as last_ingested_at
from ops.batches
group by table_name
order by table_name
