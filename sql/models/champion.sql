-- The current champion (at most one row). A version registered before the gate chose a kind served
-- its deep model (skipify.models.kinds.LEGACY_SERVED).
select * replace (coalesce(served_model, 'deep') as served_model)
from models.registry where status = 'champion' order by created_at desc limit 1
