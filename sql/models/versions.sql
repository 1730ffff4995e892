-- Every registered version, newest first. A version registered before the gate chose a kind served
-- its deep model (skipify.models.kinds.LEGACY_SERVED).
select version, created_at, as_of, train_from, valid_from, test_from, test_to, status,
       coalesce(served_model, 'deep') as served_model, gate_verdict, gate_reasons, gate_figures, metrics, params
from models.registry
order by created_at desc
