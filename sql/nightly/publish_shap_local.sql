-- The night's SHAP reasons, from staging.
select run_date, user_id, track_id, model, rank, block, shap
from scores.staged_shap
where run_date = $run_date
