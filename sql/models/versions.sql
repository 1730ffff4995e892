-- Every registered version, newest first: the kinds it holds, the one it serves and its baseline.
select version, created_at, as_of, train_from, valid_from, test_from, test_to, status,
       served_model, baseline_model, domain_served, kinds, gate_verdict, gate_reasons, gate_figures, metrics, params
from models.registry
order by created_at desc
