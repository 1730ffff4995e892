-- The chosen configuration of each model from its latest tuning run.
select model, run_id, params, valid_roc_auc
from models.tuning
where chosen
qualify row_number() over (partition by model order by run_id desc) = 1
