-- One pair's reasons on one night, both models.
select model, rank, block, shap
from scores.shap_local
where run_date = $run_date and user_id = $user_id and track_id = $track_id
order by model, rank
