-- The current champion (at most one row).
select *
from models.registry where status = 'champion' order by created_at desc limit 1
