-- A version's global importances (from the registered frame new_shap_global).
insert into models.shap_global select $version, model, rank, block, mean_abs_shap from new_shap_global
