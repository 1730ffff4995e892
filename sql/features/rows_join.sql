-- Feature rows: each row of a base (features.labels, or the probes in fx_rows_out) joined to its row
-- of every family: a per-key family on its key columns and the day, a per-row family on play_id.
-- skipify.features.rows_sql fills in the columns, the base and the joins (the family tables for the
-- view features.training_rows, the families built for the probes for the scoring rows).
select {columns}
from {base} as r
{joins}
