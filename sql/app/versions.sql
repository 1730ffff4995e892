-- Every version with the kind it serves, its gate verdict and full evaluation (JSON), newest first.
select version, created_at, as_of, status, served_model, baseline_model, kinds, gate_verdict, gate_reasons,
       metrics
from models.registry
order by created_at desc
