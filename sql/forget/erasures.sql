-- The erasures done (skipify forget --list), newest first: no id in clear, only their hashes' count.
select erasure_id, erased_at, erased_by, users, rows_removed, files_rewritten, rows
from ops.erasures
order by erased_at desc
