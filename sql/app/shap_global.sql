-- Global SHAP importances of one version, both models.
select model, rank, block, mean_abs_shap
from models.shap_global
where model_version = $version
order by model, rank
