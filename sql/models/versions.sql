-- Every registered version, newest first.
select version, created_at, as_of, train_from, valid_from, test_from, test_to, status, served_model, gate_verdict,
       gate_reasons, gate_figures, metrics
from models.registry
order by created_at desc
